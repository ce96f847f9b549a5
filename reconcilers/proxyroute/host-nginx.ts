// One nginx applier per Host per process, and what the ProxyRoute reconciler keeps about each host:
// - the applier batches every route's changes into few applies, and tells us through onSettled when
//   a route's apply finished; we enqueue that route only when its outcome changed (no reconcile
//   storm after a no-op drift check);
// - a host-level failure (unreachable, host key mismatch, nginx's own configuration broken) closes a
//   gate: routes stop asking for applies and report the failure, and one retry per host runs after
//   a backoff, so a dead host costs one attempt per backoff step instead of one per route;
// - a drift check: every driftIntervalMs the applier re-hashes the host's files and rewrites what
//   was edited or deleted by hand (no test and no reload when nothing differs);
// - orphans: a route live on the host whose ProxyRoute is gone (deleted while the controller was
//   down) is taken off the host by the next apply or drift check; every Host with nginx is checked
//   once when the controller starts leading, so leftovers go even from a host no route uses.
import { createHash } from 'node:crypto';
import { OutriggerError, errorMessage, realClock, type Clock, type Informer, type Logger, type ObjectKey, type TimerHandle } from '../../controller/index.ts';
import { ErrorCodes } from '../common/reasons.ts';
import type { Host } from '../../crds/index.ts';
import type { HostConnections } from '../hosts.ts';
import { NginxHostApplier, routeKey, settingsFromHostSpec, type ApplierOptions, type HostApplyStatus, type NginxHostSettings, type NginxRouteInput, type RouteApplyResult, type RouteObservation } from '../nginx/index.ts';

export interface HostNginxOptions {
  /** Batching of the applier (defaults: 200 ms quiet, 1.5 s at most). */
  quietMs?: number;
  maxDelayMs?: number;
  /** A version nginx rejected is tried again after this long (default 5 min). */
  quarantineRetryMs?: number;
  /** How often files on the host are checked against what Outrigger wrote (default 60 s). */
  driftIntervalMs?: number;
  /** Host-level failure backoff: first delay, doubled per failure up to retryMaxMs (1 s .. 60 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  clock?: Clock;
  /** The apply transaction; replaced only by unit tests of the gating. */
  applyFn?: ApplierOptions['applyFn'];
}

export interface HostFailure {
  code: string;
  message: string;
  attempts: number;
  /** Epoch ms when the next attempt is allowed. */
  retryAt: number;
}

/** `<namespace>_<name>` (the applier's key) back to an object key: "_" is in neither part. */
export function requestOfRouteKey(key: string): ObjectKey {
  const i = key.indexOf('_');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

function outcomeSignature(r: RouteApplyResult): string {
  return [r.state, r.desiredHash ?? '', r.liveHash ?? '', r.errorCode ?? '', r.message ?? ''].join('|');
}

export function settingsHash(s: NginxHostSettings): string {
  return createHash('sha256').update(JSON.stringify(s)).digest('hex').slice(0, 16);
}

interface HostNginxDeps {
  connect: () => ReturnType<HostConnections['ssh']>;
  enqueue: (key: ObjectKey) => void;
  log: Logger;
  /** Whether a ProxyRoute exists and is not being deleted (the informer, once synced); false makes its live route an orphan. */
  routeWanted?: (key: ObjectKey) => boolean;
  /** A route's configuration is off the host (the Host's deletion may be waiting for it). */
  onRemoved?: (hostKey: string) => void;
}

export class HostNginx {
  readonly hostKey: string;
  readonly uid: string;
  readonly settingsHash: string;
  readonly applier: NginxHostApplier;
  hostGeneration: number | undefined;
  private failureState: HostFailure | undefined;
  private readonly routes = new Set<string>();
  private readonly notified = new Map<string, string>();
  private readonly clock: Clock;
  private readonly opts: HostNginxOptions;
  private readonly enqueue: (key: ObjectKey) => void;
  private readonly onRemoved: ((hostKey: string) => void) | undefined;
  private readonly log: Logger;
  private lastApplies = 0;
  private retryTimer: TimerHandle | undefined;
  private driftTimer: TimerHandle | undefined;
  private closed = false;

  constructor(host: Host, settings: NginxHostSettings, deps: HostNginxDeps, opts: HostNginxOptions) {
    this.hostKey = `${host.metadata.namespace}/${host.metadata.name}`;
    this.uid = host.metadata.uid ?? this.hostKey;
    this.hostGeneration = host.metadata.generation;
    this.settingsHash = settingsHash(settings);
    this.clock = opts.clock ?? realClock;
    this.opts = opts;
    this.enqueue = deps.enqueue;
    this.onRemoved = deps.onRemoved;
    this.log = deps.log;
    this.applier = new NginxHostApplier({
      connection: deps.connect,
      settings,
      log: deps.log,
      clock: this.clock,
      now: () => new Date(this.clock.now()),
      ...(opts.quietMs !== undefined ? { quietMs: opts.quietMs } : {}),
      ...(opts.maxDelayMs !== undefined ? { maxDelayMs: opts.maxDelayMs } : {}),
      ...(opts.quarantineRetryMs !== undefined ? { quarantineRetryMs: opts.quarantineRetryMs } : {}),
      ...(opts.applyFn ? { applyFn: opts.applyFn } : {}),
      ...(deps.routeWanted ? { orphaned: (key: string) => !deps.routeWanted!(requestOfRouteKey(key)) } : {}),
    });
    this.applier.onSettled((key, result) => this.settled(key, result));
    this.scheduleDriftCheck();
  }

  /** The host-level failure while its retry time has not come, else undefined. */
  gate(): HostFailure | undefined {
    const f = this.failureState;
    return f && this.clock.now() < f.retryAt ? f : undefined;
  }

  /** The last host-level failure, whether or not its retry time has come. */
  get failure(): HostFailure | undefined {
    return this.failureState;
  }

  /**
   * The Host's probe reaches it again: a failed host is retried now rather than when its backoff
   * runs out, so its routes come back with the host.
   */
  hostRecovered(): void {
    if (!this.failureState || this.closed) return;
    this.failureState = { ...this.failureState, retryAt: 0 };
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    if (this.hasWork()) void this.applier.resync().catch(() => {});
  }

  /** The Host's spec changed (a fixed host key, a new address): try again now. */
  hostChanged(generation: number | undefined): void {
    if (generation === this.hostGeneration) return;
    this.hostGeneration = generation;
    if (this.failureState) this.failureState = { ...this.failureState, retryAt: 0 };
  }

  /** The route as the host serves it, without queueing anything. */
  observe(input: NginxRouteInput): RouteObservation {
    return this.applier.observe(input);
  }

  /** Routes this process gave the host that no ProxyRoute wants any more and are not off it yet. */
  pendingRemovals(wanted: (key: string) => boolean): string[] {
    return [...this.routes].filter((k) => !wanted(k));
  }

  ensure(input: NginxRouteInput): RouteObservation {
    const obs = this.applier.ensure(input);
    this.routes.add(obs.key);
    return obs;
  }

  /** Whether a reconcile asked this host about the route since the process started. */
  knows(namespace: string, name: string): boolean {
    return this.routes.has(routeKey(namespace, name));
  }

  ensureRemoved(namespace: string, name: string): { key: string; removed: boolean } {
    const r = this.applier.ensureRemoved(namespace, name);
    if (r.removed) this.forget(r.key);
    else this.routes.add(r.key);
    return r;
  }

  lastResult(namespace: string, name: string): RouteApplyResult | undefined {
    return this.applier.lastResult(namespace, name);
  }

  status(): HostApplyStatus & { routes: number; failure?: HostFailure } {
    return { ...this.applier.status(), routes: this.routes.size, ...(this.failureState ? { failure: { ...this.failureState } } : {}) };
  }

  close(): void {
    this.closed = true;
    this.retryTimer?.cancel();
    this.driftTimer?.cancel();
    this.applier.close();
  }

  private forget(key: string): void {
    this.routes.delete(key);
    this.notified.delete(key);
  }

  private settled(key: string, result: RouteApplyResult): void {
    this.noteBatch();
    if (result.state === 'Removed') {
      // Off the host: no longer a reason for the Host's deletion to wait.
      this.routes.delete(key);
      this.onRemoved?.(this.hostKey);
    }
    const signature = outcomeSignature(result);
    if (this.notified.get(key) === signature) return;
    this.notified.set(key, signature);
    this.enqueue(requestOfRouteKey(key));
  }

  /** Once per finished apply: open or close the host-level failure gate. */
  private noteBatch(): void {
    const st = this.applier.status();
    if (st.applies === this.lastApplies) return;
    this.lastApplies = st.applies;
    if (!st.lastError) {
      if (this.failureState) this.log.info({ host: this.hostKey }, 'nginx host reachable again');
      this.failureState = undefined;
      this.retryTimer?.cancel();
      this.retryTimer = undefined;
      return;
    }
    const attempts = (this.failureState?.attempts ?? 0) + 1;
    const delay = Math.min((this.opts.retryInitialMs ?? 1_000) * 2 ** (attempts - 1), this.opts.retryMaxMs ?? 60_000);
    this.failureState = { code: st.lastError.code, message: st.lastError.message, attempts, retryAt: this.clock.now() + delay };
    this.log.warn({ host: this.hostKey, code: st.lastError.code, attempts, retryInMs: delay }, 'nginx apply on host failed; retrying after backoff');
    this.retryTimer?.cancel();
    this.retryTimer = this.clock.setTimer(() => {
      this.retryTimer = undefined;
      if (!this.closed && this.hasWork()) void this.applier.resync().catch(() => {});
    }, delay);
  }

  /** Something to look after: a route names this host, or routes may still be live there. */
  private hasWork(): boolean {
    return this.routes.size > 0 || (this.applier.status().liveRoutes ?? 1) > 0;
  }

  private scheduleDriftCheck(): void {
    const every = this.opts.driftIntervalMs ?? 60_000;
    if (every <= 0 || this.closed) return;
    this.driftTimer = this.clock.setTimer(() => {
      // While the gate is closed the retry timer owns the next attempt.
      if (!this.closed && this.hasWork() && !this.gate()) void this.applier.resync().catch(() => {});
      this.scheduleDriftCheck();
    }, every);
  }
}

/** Every HostNginx of one controller process, by Host key. */
export class HostNginxRegistry {
  private readonly byHost = new Map<string, HostNginx>();
  private readonly hosts: Informer<Host>;
  private readonly connections: HostConnections;
  private readonly enqueue: (key: ObjectKey) => void;
  private readonly onRemoved: ((hostKey: string) => void) | undefined;
  private readonly log: Logger;
  private readonly opts: HostNginxOptions;
  private readonly routeWanted: HostNginxDeps['routeWanted'];

  constructor(deps: Omit<HostNginxDeps, 'connect'> & { hosts: Informer<Host>; connections: HostConnections }, opts: HostNginxOptions = {}) {
    this.hosts = deps.hosts;
    this.routeWanted = deps.routeWanted;
    this.connections = deps.connections;
    this.enqueue = deps.enqueue;
    this.onRemoved = deps.onRemoved;
    this.log = deps.log;
    this.opts = opts;
  }

  /**
   * The applier state for a Host with spec.nginx; replaced when the Host was re-created or its nginx
   * settings changed (throws OutriggerError InvalidSpec for settings the nginx layer refuses).
   */
  forHost(host: Host): HostNginx {
    const key = `${host.metadata.namespace}/${host.metadata.name}`;
    if (!host.spec.nginx) throw new OutriggerError(ErrorCodes.InvalidSpec, `Host ${key} has no spec.nginx`, { field: 'spec.nginx' });
    const settings = settingsFromHostSpec(host.spec.nginx);
    const existing = this.byHost.get(key);
    if (existing && existing.uid === (host.metadata.uid ?? key) && existing.settingsHash === settingsHash(settings)) {
      existing.hostChanged(host.metadata.generation);
      return existing;
    }
    existing?.close();
    const connect = () => {
      const current = this.hosts.get(key);
      if (!current) throw new OutriggerError(ErrorCodes.ReferenceNotFound, `Host ${key} no longer exists`);
      return this.connections.ssh(current);
    };
    const created = new HostNginx(host, settings, { connect, enqueue: this.enqueue, log: this.log.child({ host: key }), ...(this.routeWanted ? { routeWanted: this.routeWanted } : {}), ...(this.onRemoved ? { onRemoved: this.onRemoved } : {}) }, this.opts);
    this.byHost.set(key, created);
    return created;
  }

  get(hostKey: string): HostNginx | undefined {
    return this.byHost.get(hostKey);
  }

  /**
   * The route is gone or going: every host this process gave it to takes it off. Hosts it was live
   * on before a restart find it by the orphan check.
   */
  forgetRoute(req: ObjectKey): void {
    for (const h of this.byHost.values()) if (h.knows(req.namespace ?? '', req.name)) h.ensureRemoved(req.namespace ?? '', req.name);
  }

  /**
   * Checks a Host's managed nginx configuration once, even if no route names the Host: routes live
   * there whose ProxyRoute is gone are removed (the caller waits until the route cache has synced).
   */
  sweep(host: Host): void {
    if (!host.spec.nginx || !host.spec.ssh) return;
    let nginx: HostNginx;
    try {
      nginx = this.forHost(host);
    } catch (err) {
      this.log.debug({ host: `${host.metadata.namespace}/${host.metadata.name}`, err: errorMessage(err) }, 'not checking a Host whose nginx settings are unusable');
      return;
    }
    void nginx.applier.resync().catch(() => {});
  }

  /** The host is gone: stop its timers. */
  drop(hostKey: string): void {
    this.byHost.get(hostKey)?.close();
    this.byHost.delete(hostKey);
  }

  statuses(): Record<string, ReturnType<HostNginx['status']>> {
    return Object.fromEntries([...this.byHost].map(([k, h]) => [k, h.status()]));
  }

  closeAll(): void {
    for (const h of this.byHost.values()) h.close();
    this.byHost.clear();
  }
}
