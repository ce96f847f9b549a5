// Pure: what a probe means for a Host's status. Conditions follow the shared helpers (Ready, Synced,
// Reconciling, Stalled); lastProbeTime only moves when something else changed or when it is stale,
// so a healthy Host does not cost a status write per probe.
import {
  errorConditions, readyConditions, semanticEqual, setConditions,
  type Condition, type ConditionInput,
} from '../../controller/index.ts';
import type { HostStatus } from '../../crds/index.ts';
import type { ProbeResult } from './probe.ts';

export interface HostStatusOptions {
  now: Date;
  generation: number | undefined;
  /** lastProbeTime is rewritten at least this often even when nothing changed. */
  probeRecordIntervalMs: number;
}

export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function hostConditions(probe: ProbeResult, host: { ssh: boolean; docker: boolean; nginx: boolean }): ConditionInput[] {
  if (probe.problems.length > 0) {
    const first = probe.problems[0]!;
    return errorConditions(first.code, probe.problems.map((p) => p.message).join('; '));
  }
  const parts: string[] = [];
  if (host.ssh) parts.push(`reachable over SSH with the pinned host key ${probe.hostKeyFingerprint ?? ''}`.trim());
  if (host.nginx && probe.facts.nginxVersion) parts.push(`nginx ${probe.facts.nginxVersion}`);
  if (host.docker && probe.facts.dockerVersion) parts.push(`Docker ${probe.facts.dockerVersion}`);
  const message = parts.length > 0 ? `${parts.join('; ')}` : 'The host is reachable';
  return readyConditions(message.charAt(0).toUpperCase() + message.slice(1));
}

/** The status to write after a probe; `previous` is the object's current status. */
export function hostStatus(previous: HostStatus | undefined, probe: ProbeResult, host: { ssh: boolean; docker: boolean; nginx: boolean }, opts: HostStatusOptions): HostStatus {
  const conditions = setConditions(previous?.conditions as Condition[] | undefined, hostConditions(probe, host), opts.generation, opts.now);
  // Facts from the last successful probe stay when the host is unreachable now.
  const facts = probe.reachable ? probe.facts : (previous?.facts ?? {});
  const candidate: HostStatus = {
    observedGeneration: opts.generation,
    conditions,
    reachable: probe.reachable,
    ...(previous?.lastProbeTime ? { lastProbeTime: previous.lastProbeTime } : {}),
    ...(probe.hostKeyFingerprint ? { hostKeyFingerprint: probe.hostKeyFingerprint } : {}),
    ...(Object.keys(facts).length > 0 ? { facts } : {}),
  };
  const recorded = previous?.lastProbeTime ? Date.parse(previous.lastProbeTime) : NaN;
  const stale = !Number.isFinite(recorded) || opts.now.getTime() - recorded >= opts.probeRecordIntervalMs;
  if (stale || !semanticEqual(candidate, previous ?? {})) candidate.lastProbeTime = rfc3339(opts.now);
  return candidate;
}
