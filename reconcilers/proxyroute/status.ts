// Pure: from what the reconcile found to the ProxyRoute's status. One outcome, one set of conditions:
//   served           Ready=True  (the desired version is live and verified)
//   applying         Ready=False Reconciling=True (waiting for the host's batched apply)
//   waiting          Ready=False Reconciling=True (a Workspace is not Ready yet, the route is being removed)
//   quarantined      Ready=False Synced=False reason Quarantined with nginx's message; retried later
//   conflict         Ready=False Stalled=True (another route holds the server name)
//   host failure     Ready=False Synced=False with the host's error code (Unreachable, HostKeyMismatch, ...)
//   invalid          Ready=False Stalled=True with the field and what is allowed
// Fields other than conditions keep their previous value unless the outcome says something new about
// them, so a failure never erases the hash or certificate that is still live on the host.
import {
  errorConditions, progressingConditions, readyConditions, setConditions, stalledConditions,
  type Condition, type ConditionInput,
} from '../../controller/index.ts';
import type { ProxyRouteStatus } from '../../crds/index.ts';
import type { CertificateFacts, RouteApplyResult } from '../nginx/index.ts';
import type { ResolvedUpstream } from './resolve.ts';
import { ProxyRouteReasons } from './reasons.ts';

export type RouteOutcome =
  | { kind: 'settled'; result: RouteApplyResult; desiredHash: string; certificate?: CertificateFacts; upstreams: ResolvedUpstream[]; tls: boolean }
  | { kind: 'applying'; result?: RouteApplyResult }
  | { kind: 'waiting'; reason: string; message: string }
  | { kind: 'hostFailure'; code: string; message: string; result?: RouteApplyResult }
  | { kind: 'failed'; code: string; message: string; terminal: boolean };

export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function certificateStatus(c: CertificateFacts): NonNullable<ProxyRouteStatus['certificate']> {
  return { notBefore: rfc3339(c.notBefore), notAfter: rfc3339(c.notAfter), dnsNames: c.dnsNames.slice(0, 100), serialNumber: c.serialNumber.slice(0, 128) };
}

function stillServing(result: RouteApplyResult | undefined): string {
  return result?.liveHash ? '; nginx keeps serving the last applied version of this route' : '';
}

/** Conditions for an outcome; `host` names the Host in messages. */
export function routeConditions(outcome: RouteOutcome, host: string): ConditionInput[] {
  switch (outcome.kind) {
    case 'settled': {
      const r = outcome.result;
      if (r.state === 'Applied' && r.liveHash === outcome.desiredHash) {
        const warn = r.warnings.length > 0 ? ` (nginx warns: ${r.warnings.slice(0, 3).join('; ')})` : '';
        return readyConditions(`Served by nginx on Host ${host}${warn}`);
      }
      if (r.state === 'Quarantined') return errorConditions('Quarantined', `nginx -t failed: ${r.message ?? 'no message'}${stillServing(r)}`);
      if (r.state === 'Conflict') return stalledConditions(ProxyRouteReasons.ServerNameConflict, r.message ?? 'another ProxyRoute serves one of these server names');
      if (r.state === 'Failed') return errorConditions(r.errorCode ?? 'NginxApplyFailed', `${r.message ?? 'the apply failed'}${stillServing(r)}`);
      return progressingConditions('Applying', `Waiting for the batched nginx apply on Host ${host}`);
    }
    case 'applying':
      return progressingConditions('Applying', `Waiting for the batched nginx apply on Host ${host}`);
    case 'waiting':
      return progressingConditions(outcome.reason, outcome.message);
    case 'hostFailure':
      return errorConditions(outcome.code, `Host ${host}: ${outcome.message}${stillServing(outcome.result)}`);
    case 'failed':
      return outcome.terminal ? stalledConditions(outcome.code, outcome.message) : errorConditions(outcome.code, outcome.message);
  }
}

/** The new status: previous fields, updated by what the outcome knows, plus conditions. */
export function routeStatus(previous: ProxyRouteStatus | undefined, outcome: RouteOutcome, opts: { host: string; generation: number | undefined; now: Date }): ProxyRouteStatus {
  const next: ProxyRouteStatus = { ...(previous ?? {}) };
  const result = outcome.kind === 'settled' || outcome.kind === 'applying' || outcome.kind === 'hostFailure' ? outcome.result : undefined;
  if (result?.liveHash) next.appliedConfigHash = result.liveHash;
  if (result?.state === 'Removed') delete next.appliedConfigHash;
  if (outcome.kind === 'settled') {
    const r = outcome.result;
    const live = r.state === 'Applied' && r.liveHash === outcome.desiredHash;
    if (live) {
      next.lastReload = { ...(r.liveSince ? { time: rfc3339(r.liveSince) } : {}), result: 'Succeeded' };
      if (outcome.certificate) next.certificate = certificateStatus(outcome.certificate);
      else if (!outcome.tls) delete next.certificate;
      next.upstreams = outcome.upstreams.slice(0, 64).map((u) => ({ path: u.path, address: u.address, port: u.port }));
    } else if (r.state === 'Quarantined' || r.state === 'Failed') {
      next.lastReload = { ...(previous?.lastReload?.time ? { time: previous.lastReload.time } : {}), result: 'Failed', message: (r.message ?? '').slice(0, 4096) };
    }
  }
  next.observedGeneration = opts.generation;
  next.conditions = setConditions(previous?.conditions as Condition[] | undefined, routeConditions(outcome, opts.host), opts.generation, opts.now) as ProxyRouteStatus['conditions'];
  return next;
}
