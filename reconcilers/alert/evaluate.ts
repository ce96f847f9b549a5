// Rule evaluation: for each rule, which targets it watches and what each one looks like now, from
// what the controller already has wherever it can:
//   containerDown, restartLooping  the engine watchers' caches and restart counts (ContainerHistory),
//                                  Lab machines from the Lab's status; no call to any engine
//   certificateExpiring            a TLS handshake with the ProxyRoute's host (once an hour, or when
//                                  the route's certificate changes) and the route's Secret; a
//                                  Secret target's tls.crt from the informer cache
//   httpProbe                      one request per interval
//   errorRate                      the route's access log, read incrementally over SSH
// Each rule is evaluated on its own interval; the cheap ones (caches) at every reconcile. A rule
// not due keeps its alerts as they are. Targets that do not exist are reported, the rest evaluated.
import { parseDuration, type AlertSpec, type Host, type ProxyRoute, type Workspace } from '../../crds/index.ts';
import type { Informer, KubeObject } from '../../controller/index.ts';
import type { ContainerHistory } from '../docker/index.ts';
import type { HostConnections } from '../hosts.ts';
import { accessLogPath, routeKey, settingsFromHostSpec } from '../nginx/index.ts';
import type { SecretObject } from '../common/secrets.ts';
import { AccessLogFollower } from './sources/access-log.ts';
import { chainFromPem, earliestExpiry, expiryEvaluation, nextThresholdAt, servedChain, sniName, type ChainExpiry } from './sources/certificates.ts';
import type { HttpProber } from './sources/probe.ts';
import type { Outbound } from './outbound.ts';
import type { RuleType } from './labels.ts';
import type { Evaluation } from './series.ts';

export type Rule = AlertSpec['rules'][number];

export const ruleTypeOf = (rule: Rule): RuleType =>
  rule.containerDown ? 'containerDown' : rule.restartLooping ? 'restartLooping' : rule.certificateExpiring ? 'certificateExpiring' : rule.httpProbe ? 'httpProbe' : 'errorRate';

export interface LabLike extends KubeObject {
  spec?: { machines?: Array<{ name: string }> };
  status?: { machines?: Array<{ name: string; phase?: string; message?: string }> };
}

export interface EvaluationSources {
  workspaces: Informer<Workspace>;
  routes: Informer<ProxyRoute>;
  labs?: Informer<LabLike>;
  hosts: Informer<Host>;
  secrets: Informer<SecretObject>;
  history: ContainerHistory;
  connections: HostConnections;
  prober: HttpProber;
  outbound: Outbound;
  /** How often a ProxyRoute's served certificate is read again (default 1 h). */
  certificateCheckMs: number;
  timeoutMs: number;
}

/** What the evaluator keeps between reconciles of one Alert (in memory). */
export interface RuleMemory {
  lastEvaluationAt?: number;
  /** The last evaluations of a rule that is not evaluated at every reconcile. */
  last?: Map<string, Evaluation>;
  missing?: string[];
}

export interface AlertMemory {
  rules: Map<string, RuleMemory>;
  certificates: Map<string, { checkedAt: number; serial?: string; expiry?: ChainExpiry; error?: string }>;
  logs: Map<string, AccessLogFollower>;
}

export const newMemory = (): AlertMemory => ({ rules: new Map(), certificates: new Map(), logs: new Map() });

export interface RuleResult {
  /** Evaluations by target; absent when the rule was not due (its alerts are left as they are). */
  evaluations?: Map<string, Evaluation>;
  /** Targets named but not found: "Workspace bob", for the Ready condition. */
  missing: string[];
  /** When the rule wants to be looked at again (interval, a window or threshold boundary). */
  nextAt?: number;
  evaluatedAt?: number;
}

const ERROR_RATE_MIN_INTERVAL_MS = 10_000;
const ERROR_RATE_MAX_INTERVAL_MS = 60_000;

export function evaluationIntervalMs(rule: Rule): number | undefined {
  if (rule.httpProbe) return parseDuration(rule.httpProbe.interval);
  if (rule.errorRate) return Math.min(Math.max(parseDuration(rule.errorRate.window) / 5, ERROR_RATE_MIN_INTERVAL_MS), ERROR_RATE_MAX_INTERVAL_MS);
  return undefined; // evaluated at every reconcile (caches only)
}

export async function evaluateRule(rule: Rule, index: number, namespace: string, memory: AlertMemory, src: EvaluationSources, now: number, signal: AbortSignal): Promise<RuleResult> {
  const mem = memory.rules.get(rule.name) ?? {};
  memory.rules.set(rule.name, mem);
  const interval = evaluationIntervalMs(rule);
  if (interval !== undefined && mem.lastEvaluationAt !== undefined && now < mem.lastEvaluationAt + interval) {
    return { missing: mem.missing ?? [], nextAt: mem.lastEvaluationAt + interval };
  }
  let result: RuleResult;
  if (rule.containerDown) result = containerDown(rule, namespace, src);
  else if (rule.restartLooping) result = restartLooping(rule, namespace, src, now);
  else if (rule.certificateExpiring) result = await certificates(rule, index, namespace, memory, src, now, signal);
  else if (rule.httpProbe) result = await httpProbe(rule, index, src, signal);
  else result = await errorRate(rule, namespace, memory, src, now, signal);
  mem.lastEvaluationAt = now;
  mem.missing = result.missing;
  if (interval !== undefined) result.nextAt = Math.min(result.nextAt ?? Infinity, now + interval);
  return { ...result, evaluatedAt: now };
}

// ---- containers -------------------------------------------------------------------------------

interface ContainerTarget { id: string; workspace?: Workspace; lab?: LabLike; machine?: string }

function containerTargets(rule: Rule, namespace: string, src: EvaluationSources): { targets: ContainerTarget[]; missing: string[] } {
  const spec = rule.containerDown ?? rule.restartLooping!;
  const targets: ContainerTarget[] = [];
  const missing: string[] = [];
  for (const t of spec.targets) {
    if (t.kind === 'Workspace') {
      const ws = src.workspaces.get(`${namespace}/${t.name}`);
      if (!ws) missing.push(`Workspace "${t.name}"`);
      else targets.push({ id: `Workspace/${t.name}`, workspace: ws });
      continue;
    }
    const lab = src.labs?.get(`${namespace}/${t.name}`);
    if (!lab) {
      missing.push(`Lab "${t.name}"`);
      continue;
    }
    const machines = t.machine ? [t.machine] : (lab.spec?.machines ?? []).map((m) => m.name);
    for (const m of machines) targets.push({ id: `Lab/${t.name}/${m}`, lab, machine: m });
  }
  return { targets, missing };
}

function wantedRunning(ws: Workspace): boolean {
  if (ws.metadata.deletionTimestamp) return false;
  if ((ws.spec as { state?: string }).state === 'Stopped') return false;
  const idle = (ws.status?.conditions as Array<{ type: string; status: string }> | undefined)?.find((c) => c.type === 'Idle');
  return idle?.status !== 'True';
}

function hostUidOf(ws: Workspace, namespace: string, src: EvaluationSources): string | undefined {
  const ref = (ws.spec as { runtime?: { docker?: { hostRef?: { name: string } } } }).runtime?.docker?.hostRef?.name;
  return ref ? src.hosts.get(`${namespace}/${ref}`)?.metadata.uid : undefined;
}

function workspaceDown(ws: Workspace, namespace: string, src: EvaluationSources): Evaluation {
  if (!wantedRunning(ws)) return { active: false, message: 'stopped on purpose (state Stopped or idle)' };
  const hostUid = hostUidOf(ws, namespace, src);
  const phase = (ws.status as { phase?: string } | undefined)?.phase;
  if (!hostUid) {
    // Not a Docker Workspace (or its Host is gone): its own status is all there is.
    if (phase === 'Running') return { active: false, message: 'running' };
    if (phase === 'Failed' || phase === 'Stopped') return { active: true, message: `phase ${phase}` };
    return { active: undefined, message: `no container state known (phase ${phase ?? 'none'})` };
  }
  const seen = src.history.observe(hostUid, ws.metadata.uid ?? '');
  if (!seen.known) return { active: undefined, message: 'the engine is not watched yet' };
  if (!seen.reachable) return { active: undefined, message: 'the Docker engine does not answer: the container\'s state is unknown' };
  const running = seen.containers.find((c) => c.state === 'running');
  if (running) return { active: false, message: 'container running' };
  const c = seen.containers[0];
  if (!c) return { active: true, message: 'no container exists' };
  return { active: true, message: `container ${c.state}${c.exitCode !== undefined ? ` (exit code ${c.exitCode})` : ''}` };
}

function labMachineDown(lab: LabLike, machine: string): Evaluation {
  const m = lab.status?.machines?.find((x) => x.name === machine);
  if (!m?.phase) return { active: undefined, message: `machine "${machine}" has no state yet` };
  if (m.phase === 'Ready') return { active: false, message: 'machine Ready' };
  if (m.phase === 'Failed' || m.phase === 'Stopped') return { active: true, message: `machine ${m.phase}${m.message ? `: ${m.message}` : ''}` };
  return { active: undefined, message: `machine ${m.phase}` };
}

function containerDown(rule: Rule, namespace: string, src: EvaluationSources): RuleResult {
  const { targets, missing } = containerTargets(rule, namespace, src);
  const evaluations = new Map<string, Evaluation>();
  for (const t of targets) evaluations.set(t.id, t.workspace ? workspaceDown(t.workspace, namespace, src) : labMachineDown(t.lab!, t.machine!));
  return { evaluations, missing };
}

function restartLooping(rule: Rule, namespace: string, src: EvaluationSources, now: number): RuleResult {
  const spec = rule.restartLooping!;
  const windowMs = parseDuration(spec.window);
  const { targets, missing } = containerTargets(rule, namespace, src);
  const evaluations = new Map<string, Evaluation>();
  let nextAt: number | undefined;
  for (const t of targets) {
    if (!t.workspace) {
      evaluations.set(t.id, { active: undefined, message: 'restarts of Lab machines are not counted yet' });
      continue;
    }
    const hostUid = hostUidOf(t.workspace, namespace, src);
    if (!hostUid || !src.history.observe(hostUid, t.workspace.metadata.uid ?? '').known) {
      evaluations.set(t.id, { active: undefined, message: 'the engine is not watched yet' });
      continue;
    }
    const restarts = src.history.restartsSince(t.workspace.metadata.uid ?? '', now - windowMs);
    // The oldest restart leaves the window then: the count (and maybe the state) changes.
    if (restarts.length > 0) nextAt = Math.min(nextAt ?? Infinity, restarts[0]! + windowMs + 1);
    evaluations.set(t.id, { active: restarts.length >= spec.restarts, message: `${restarts.length} restart(s) in the last ${spec.window} (fires at ${spec.restarts})` });
  }
  return { evaluations, missing, ...(nextAt !== undefined ? { nextAt } : {}) };
}

// ---- certificates -----------------------------------------------------------------------------

async function certificates(rule: Rule, index: number, namespace: string, memory: AlertMemory, src: EvaluationSources, now: number, signal: AbortSignal): Promise<RuleResult> {
  const spec = rule.certificateExpiring!;
  const evaluations = new Map<string, Evaluation>();
  const missing: string[] = [];
  let nextAt: number | undefined;
  const judge = (id: string, expiry: ChainExpiry, what: string) => {
    evaluations.set(id, expiryEvaluation(expiry, what, now, spec.withinDays, spec.renotifyAtDays));
    const t = nextThresholdAt(expiry, now, spec.withinDays, spec.renotifyAtDays);
    if (t !== undefined) nextAt = Math.min(nextAt ?? Infinity, t);
  };
  for (const [j, t] of spec.targets.entries()) {
    const id = `${t.kind}/${t.name}`;
    if (t.kind === 'Secret') {
      const secret = src.secrets.get(`${namespace}/${t.name}`);
      if (!secret) {
        missing.push(`Secret "${t.name}"`);
        continue;
      }
      const pem = secret.data?.['tls.crt'] ? Buffer.from(secret.data['tls.crt'], 'base64').toString('utf8') : '';
      const expiry = safeExpiry(pem);
      if (!expiry) evaluations.set(id, { active: undefined, message: `Secret "${t.name}" holds no readable certificate in tls.crt` });
      else judge(id, expiry, `Secret ${t.name}`);
      continue;
    }
    const route = src.routes.get(`${namespace}/${t.name}`);
    if (!route) {
      missing.push(`ProxyRoute "${t.name}"`);
      continue;
    }
    if (!route.spec.tls) {
      evaluations.set(id, { active: false, message: `ProxyRoute ${t.name} serves no TLS` });
      continue;
    }
    const served = await servedExpiry(route, `spec.rules[${index}].certificateExpiring.targets[${j}]`, namespace, memory, src, now, signal);
    const secret = src.secrets.get(`${namespace}/${route.spec.tls.secretRef.name}`);
    const stored = secret?.data?.['tls.crt'] ? safeExpiry(Buffer.from(secret.data['tls.crt'], 'base64').toString('utf8')) : undefined;
    // The earlier of what is served and what the Secret holds: either one expiring breaks the route.
    if (served.expiry && (!stored || served.expiry.notAfter <= stored.notAfter)) judge(id, served.expiry, `ProxyRoute ${t.name} (served by ${served.address})`);
    else if (stored) judge(id, stored, `ProxyRoute ${t.name} (Secret ${route.spec.tls.secretRef.name}${served.error ? `; the handshake failed: ${served.error}` : ''})`);
    else evaluations.set(id, { active: undefined, message: `ProxyRoute ${t.name}: no certificate could be read${served.error ? ` (${served.error})` : ''}` });
    nextAt = Math.min(nextAt ?? Infinity, (memory.certificates.get(id)?.checkedAt ?? now) + src.certificateCheckMs);
  }
  return { evaluations, missing, ...(nextAt !== undefined ? { nextAt } : {}) };
}

function safeExpiry(pem: string): ChainExpiry | undefined {
  try {
    return earliestExpiry(chainFromPem(pem));
  } catch {
    return undefined;
  }
}

async function servedExpiry(route: ProxyRoute, field: string, namespace: string, memory: AlertMemory, src: EvaluationSources, now: number, signal: AbortSignal): Promise<{ expiry?: ChainExpiry; error?: string; address: string }> {
  const id = `ProxyRoute/${route.metadata.name}`;
  const host = src.hosts.get(`${namespace}/${route.spec.hostRef.name}`);
  const address = host?.spec.address ?? '';
  if (!address) return { error: `Host "${route.spec.hostRef.name}" has no address`, address };
  const cached = memory.certificates.get(id);
  const serial = route.status?.certificate?.serialNumber;
  const fresh = cached && now - cached.checkedAt < src.certificateCheckMs && (serial === undefined || cached.serial === serial);
  if (fresh) return { ...(cached.expiry ? { expiry: cached.expiry } : {}), ...(cached.error ? { error: cached.error } : {}), address };
  try {
    const chain = await servedChain({ host: address, port: 443, servername: sniName(route.spec.serverNames), outbound: src.outbound, field, timeoutMs: src.timeoutMs, signal });
    const expiry = earliestExpiry(chain)!;
    memory.certificates.set(id, { checkedAt: now, expiry, ...(serial ? { serial } : {}) });
    return { expiry, address };
  } catch (err) {
    if (signal.aborted) throw err;
    const error = (err as Error).message.slice(0, 200);
    memory.certificates.set(id, { checkedAt: now, error, ...(serial ? { serial } : {}) });
    return { error, address };
  }
}

// ---- httpProbe --------------------------------------------------------------------------------

async function httpProbe(rule: Rule, index: number, src: EvaluationSources, signal: AbortSignal): Promise<RuleResult> {
  const p = rule.httpProbe!;
  const ev = await src.prober.probe(
    { url: p.url, method: p.method, expectedStatus: p.expectedStatus, timeoutMs: parseDuration(p.timeout), insecureSkipVerify: p.insecureSkipVerify },
    `spec.rules[${index}].httpProbe.url`,
    signal,
  );
  return { evaluations: new Map([[p.url, ev]]), missing: [] };
}

// ---- errorRate --------------------------------------------------------------------------------

async function errorRate(rule: Rule, namespace: string, memory: AlertMemory, src: EvaluationSources, now: number, signal: AbortSignal): Promise<RuleResult> {
  const spec = rule.errorRate!;
  const windowMs = parseDuration(spec.window);
  const evaluations = new Map<string, Evaluation>();
  const missing: string[] = [];
  for (const t of spec.targets) {
    const id = `ProxyRoute/${t.name}`;
    const route = src.routes.get(`${namespace}/${t.name}`);
    if (!route) {
      missing.push(`ProxyRoute "${t.name}"`);
      continue;
    }
    const host = src.hosts.get(`${namespace}/${route.spec.hostRef.name}`);
    if (!host?.spec.nginx || !host.spec.ssh) {
      evaluations.set(id, { active: undefined, message: `Host "${route.spec.hostRef.name}" is missing or runs no nginx Outrigger reaches over SSH` });
      continue;
    }
    const path = accessLogPath(settingsFromHostSpec(host.spec.nginx).configDir, routeKey(namespace, t.name));
    const followerKey = `${host.metadata.uid}|${path}`;
    let follower = memory.logs.get(followerKey);
    if (!follower) memory.logs.set(followerKey, (follower = new AccessLogFollower()));
    try {
      const conn = src.connections.ssh(host);
      const found = await follower.poll(conn.files, path, signal);
      if (!found) {
        evaluations.set(id, { active: undefined, message: `no access log yet on Host "${host.metadata.name}" (the route is not live there)` });
        continue;
      }
    } catch (err) {
      if (signal.aborted) throw err;
      evaluations.set(id, { active: undefined, message: `the access log could not be read: ${(err as Error).message.slice(0, 200)}` });
      continue;
    }
    const { total, errors } = follower.rate(now, windowMs);
    const pct = total > 0 ? (100 * errors) / total : 0;
    const enough = total >= spec.minRequests;
    evaluations.set(id, {
      active: enough && pct > spec.thresholdPercent,
      message: `${errors} of ${total} responses in the last ${spec.window} were 5xx (${pct.toFixed(1)}%, fires above ${spec.thresholdPercent}%${enough ? '' : `; fewer than ${spec.minRequests} requests never fire`})`,
    });
  }
  return { evaluations, missing };
}
