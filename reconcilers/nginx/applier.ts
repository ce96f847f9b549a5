// The applier for one host: remembers the desired version of every route the reconciler handed it,
// and turns bursts of changes into few applies (a quiet period, capped by a maximum delay), one at a
// time. Reconcilers call `ensure` (never waits for the host) and are told through `onSettled` when
// a route's apply finished; `apply` and `remove` wait, for tests and simple callers.
import { realClock, type Clock, type TimerHandle } from '../../controller/clock.ts';
import { OutriggerError, errorMessage } from '../../controller/errors.ts';
import { silentLogger, type Logger } from '../../controller/logger.ts';
import type { OperationOptions, SshConnection } from '../ssh/index.ts';
import { applyHost, type ApplyReport, type RouteIntent, type RouteState } from './apply.ts';
import type { NginxRouteInput } from './input.ts';
import { renderRoute, routeKey, type RenderedRoute } from './render.ts';
import { checkSettings, type NginxHostSettings } from './settings.ts';
import { checkTlsPair, type CertificateFacts } from './tls.ts';
import { catalogedReason } from '../common/failure.ts';

export interface ApplierOptions {
  /** The host's shared SSH connection (asked each apply, so a rotated key takes effect). */
  connection: () => SshConnection;
  settings: NginxHostSettings;
  /** An apply starts once no change arrived for this long... */
  quietMs?: number;
  /** ...or this long after the first pending change, whichever is first. */
  maxDelayMs?: number;
  /** A quarantined version is tried again after this long (a dependency may have changed). */
  quarantineRetryMs?: number;
  clock?: Clock;
  now?: () => Date;
  log?: Logger;
  /** The one-apply transaction; replaced only by unit tests of the batching. */
  applyFn?: typeof applyHost;
  /** A route live on the host that nobody asked for and whose owner is gone: removed by the next apply. */
  orphaned?: (key: string) => boolean;
}

export interface RouteApplyResult {
  key: string;
  state: RouteState;
  /** The hash of the version this result is about. */
  desiredHash?: string;
  /** The version live on the host (the previous one while a new one is quarantined). */
  liveHash?: string;
  /** The reload that made the live version live. */
  liveSince?: Date;
  message?: string;
  /** Stable error code for Failed results (HostKeyMismatch, Unreachable, NginxReloadFailed, ...). */
  errorCode?: string;
  warnings: string[];
  generation: string | null;
  at: Date;
}

export interface RouteObservation {
  key: string;
  desiredHash: string;
  /** True while the desired version waits for (or is in) an apply. */
  pending: boolean;
  /** The latest result for this route (may be about an older version while pending). */
  result?: RouteApplyResult;
  certificate?: CertificateFacts;
}

export interface HostApplyStatus {
  generation: string | null;
  lastReloadAt?: Date;
  applies: number;
  reloads: number;
  lastApply?: { at: Date; durationMs: number; tests: number; filesWritten: number; filesRemoved: number; reloaded: boolean; reloadedVia?: 'signal' | 'command' };
  lastError?: { code: string; message: string };
  /** Routes live on the host after the last apply that reached it (unknown before). */
  liveRoutes?: number;
}

interface Waiter { resolve: (r: RouteApplyResult) => void }

export class NginxHostApplier {
  readonly settings: NginxHostSettings;
  private readonly opts: ApplierOptions;
  private readonly clock: Clock;
  private readonly now: () => Date;
  private readonly log: Logger;
  private readonly desired = new Map<string, RenderedRoute>();
  private readonly removals = new Set<string>();
  private readonly results = new Map<string, RouteApplyResult>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly listeners: Array<(key: string, result: RouteApplyResult) => void> = [];
  private readonly batchWaiters: Array<() => void> = [];
  private dirty = false;
  private firstDirtyAt: number | undefined;
  private timer: TimerHandle | undefined;
  private running = false;
  private workerGid: number | undefined | null = null; // null: not looked up yet
  private stats: HostApplyStatus = { generation: null, applies: 0, reloads: 0 };
  private closed = false;

  constructor(opts: ApplierOptions) {
    this.opts = opts;
    this.settings = checkSettings(opts.settings);
    this.clock = opts.clock ?? realClock;
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? silentLogger;
  }

  /** Called after every apply for each route it concerned (enqueue the ProxyRoute there). */
  onSettled(listener: (key: string, result: RouteApplyResult) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Makes `input` the desired version of its route. Validates, checks the TLS pair and renders at
   * once (throwing a TerminalError naming the field), then queues an apply if the host does not
   * already serve this exact version. Never waits for the host.
   */
  ensure(input: NginxRouteInput): RouteObservation {
    const certificate = input.tls ? checkTlsPair(input.tls, input.serverNames, this.now()) : undefined;
    const rendered = renderRoute(input, { configDir: this.settings.configDir, ...(this.settings.listenIPv6 ? { listenIPv6: true } : {}) });
    return { ...this.ensureRendered(rendered), ...(certificate ? { certificate } : {}) };
  }

  /**
   * What the host serves of `input` compared with what it should: the same answer as ensure,
   * without queueing anything (an observe that changes nothing).
   */
  observe(input: NginxRouteInput): RouteObservation {
    const certificate = input.tls ? checkTlsPair(input.tls, input.serverNames, this.now()) : undefined;
    const rendered = renderRoute(input, { configDir: this.settings.configDir, ...(this.settings.listenIPv6 ? { listenIPv6: true } : {}) });
    const last = this.results.get(rendered.key);
    const settled = last !== undefined && last.desiredHash === rendered.hash && this.isSettled(last);
    return { key: rendered.key, desiredHash: rendered.hash, pending: !settled, ...(last ? { result: last } : {}), ...(certificate ? { certificate } : {}) };
  }

  /** Like ensure, for an already rendered route (tests use it to hand nginx a broken one). */
  ensureRendered(rendered: RenderedRoute): RouteObservation {
    const key = rendered.key;
    this.removals.delete(key);
    this.desired.set(key, rendered);
    const last = this.results.get(key);
    const settled = last !== undefined && last.desiredHash === rendered.hash && this.isSettled(last);
    if (!settled) this.markDirty();
    return { key, desiredHash: rendered.hash, pending: !settled, ...(last ? { result: last } : {}) };
  }

  /** Applies and waits for the apply that carried this version. */
  async apply(input: NginxRouteInput, opts: OperationOptions = {}): Promise<RouteApplyResult> {
    const obs = this.ensure(input);
    return this.waitFor(obs, opts);
  }

  async applyRendered(rendered: RenderedRoute, opts: OperationOptions = {}): Promise<RouteApplyResult> {
    return this.waitFor(this.ensureRendered(rendered), opts);
  }

  /** Queues removal of a route's server and files; returns whether it is already gone. */
  ensureRemoved(namespace: string, name: string): { key: string; removed: boolean } {
    const key = routeKey(namespace, name);
    this.desired.delete(key);
    const last = this.results.get(key);
    if (last?.state === 'Removed') return { key, removed: true };
    this.removals.add(key);
    this.markDirty();
    return { key, removed: false };
  }

  /** Removes the route from the host and waits; rejects if the host could not be changed. */
  async remove(namespace: string, name: string, opts: OperationOptions = {}): Promise<void> {
    const { key, removed } = this.ensureRemoved(namespace, name);
    if (removed) return;
    const result = await this.waitForKey(key, opts);
    if (result.state !== 'Removed') throw new OutriggerError(result.errorCode ?? 'NginxApplyFailed', result.message ?? `removing ${key} failed`);
  }

  /** Runs an apply even without changes: files edited or deleted on the host are restored. */
  async resync(opts: OperationOptions = {}): Promise<void> {
    this.markDirty();
    await this.nextBatch(opts);
  }

  /** Starts the pending apply now instead of waiting for the quiet period. */
  flush(): void {
    if (this.dirty && !this.running) {
      this.timer?.cancel();
      this.timer = undefined;
      void this.runBatch();
    }
  }

  lastResult(namespace: string, name: string): RouteApplyResult | undefined {
    return this.results.get(routeKey(namespace, name));
  }

  status(): HostApplyStatus {
    return { ...this.stats };
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
  }

  // ---- batching -----------------------------------------------------------------------------------

  private isSettled(r: RouteApplyResult): boolean {
    if (r.state === 'Applied' || r.state === 'Conflict') return true;
    if (r.state === 'Quarantined') return this.now().getTime() - r.at.getTime() < (this.opts.quarantineRetryMs ?? 300_000);
    return false; // Failed: try again
  }

  private markDirty(): void {
    if (this.closed) return;
    this.dirty = true;
    this.firstDirtyAt ??= this.clock.now();
    this.schedule();
  }

  private schedule(): void {
    if (this.running || !this.dirty) return;
    const now = this.clock.now();
    const due = Math.min(now + (this.opts.quietMs ?? 200), (this.firstDirtyAt ?? now) + (this.opts.maxDelayMs ?? 1_500));
    this.timer?.cancel();
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      void this.runBatch();
    }, Math.max(0, due - now));
  }

  private nextBatch(opts: OperationOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new OutriggerError('SshAborted', 'waiting for the apply was cancelled'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.batchWaiters.push(() => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  private waitFor(obs: RouteObservation, opts: OperationOptions): Promise<RouteApplyResult> {
    if (!obs.pending && obs.result) return Promise.resolve(obs.result);
    return this.waitForKey(obs.key, opts);
  }

  private waitForKey(key: string, opts: OperationOptions): Promise<RouteApplyResult> {
    return new Promise<RouteApplyResult>((resolve, reject) => {
      const timeout = opts.timeoutMs !== undefined ? setTimeout(() => reject(new OutriggerError('SshTimeout', `apply of ${key} did not finish within ${opts.timeoutMs} ms`)), opts.timeoutMs) : undefined;
      const onAbort = () => reject(new OutriggerError('SshAborted', `waiting for the apply of ${key} was cancelled`));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const list = this.waiters.get(key) ?? [];
      list.push({
        resolve: (r) => {
          clearTimeout(timeout);
          opts.signal?.removeEventListener('abort', onAbort);
          resolve(r);
        },
      });
      this.waiters.set(key, list);
    });
  }

  private async runBatch(): Promise<void> {
    if (this.running || this.closed) return;
    this.running = true;
    this.dirty = false;
    this.firstDirtyAt = undefined;
    const started = this.clock.now();
    const intents = new Map<string, RouteIntent>();
    const removals = [...this.removals];
    for (const key of removals) intents.set(key, { remove: true });
    for (const [key, rendered] of this.desired) {
      const last = this.results.get(key);
      // A version nginx rejected stays out until its retry time (its live predecessor keeps serving).
      const hold = last?.state === 'Quarantined' && last.desiredHash === rendered.hash && this.isSettled(last);
      intents.set(key, hold ? {} : { rendered });
    }
    const held = new Set([...intents].filter(([, i]) => !i.rendered && !i.remove).map(([k]) => k));
    const hashes = new Map([...this.desired].map(([k, r]) => [k, r.hash]));
    let report: ApplyReport | undefined;
    let failure: unknown;
    try {
      const conn = this.opts.connection();
      if (this.settings.workerGroup && this.workerGid === null) this.workerGid = await this.lookupGid(conn, this.settings.workerGroup);
      // Keys this applier was asked about are never orphans: their reconciles decide.
      const orphaned = this.opts.orphaned;
      const isOrphan = orphaned ? (key: string) => !this.desired.has(key) && !this.removals.has(key) && orphaned(key) : undefined;
      report = await (this.opts.applyFn ?? applyHost)({ conn, settings: this.settings, now: this.now, ...(typeof this.workerGid === 'number' ? { workerGid: this.workerGid } : {}), ...(isOrphan ? { orphaned: isOrphan } : {}) }, intents);
    } catch (err) {
      failure = err;
    }
    const at = this.now();
    this.stats.applies++;
    if (report) {
      if (report.reloaded) {
        this.stats.reloads++;
        this.stats.lastReloadAt = report.reloadedAt;
      }
      this.stats.generation = report.generation ?? this.stats.generation;
      this.stats.lastApply = { at, durationMs: this.clock.now() - started, tests: report.tests, filesWritten: report.filesWritten, filesRemoved: report.filesRemoved, reloaded: report.reloaded, ...(report.reloadedVia ? { reloadedVia: report.reloadedVia } : {}) };
      if (report.hostError) {
        this.stats.lastError = report.hostError;
      } else {
        delete this.stats.lastError;
        this.stats.liveRoutes = [...report.routes.values()].filter((r) => r.liveHash !== undefined && r.state !== 'Removed' && r.state !== 'Failed').length;
      }
      this.log.info({ host: this.settings.configDir, ...this.stats.lastApply, routes: report.routes.size, generation: report.generation }, 'nginx apply finished');
      if (report.orphansRemoved.length > 0 && report.reloaded) this.log.info({ host: this.settings.configDir, routes: report.orphansRemoved }, 'removed routes whose ProxyRoute no longer exists');
    } else {
      this.stats.lastError = { code: catalogedReason(failure), message: errorMessage(failure) };
      this.log.warn({ host: this.settings.configDir, code: this.stats.lastError.code, err: this.stats.lastError.message }, 'nginx apply failed');
    }

    const settled = new Map<string, RouteApplyResult>();
    const keys = new Set([...intents.keys()]);
    for (const key of keys) {
      if (held.has(key)) continue; // its quarantine result stands
      const r = report?.routes.get(key);
      const desiredHash = hashes.get(key);
      let result: RouteApplyResult;
      if (r) {
        result = { key, state: r.state, ...(desiredHash ? { desiredHash } : {}), ...(r.liveHash ? { liveHash: r.liveHash } : {}), ...(r.liveSince ? { liveSince: r.liveSince } : {}), ...(r.message ? { message: r.message } : {}), ...(r.state === 'Failed' && report?.hostError ? { errorCode: report.hostError.code } : {}), warnings: r.warnings, generation: report!.generation, at };
      } else if (!report) {
        const previous = this.results.get(key);
        result = { key, state: 'Failed', ...(desiredHash ? { desiredHash } : {}), ...(previous?.liveHash ? { liveHash: previous.liveHash } : {}), ...(previous?.liveSince ? { liveSince: previous.liveSince } : {}), message: errorMessage(failure), errorCode: catalogedReason(failure), warnings: [], generation: this.stats.generation, at };
      } else {
        continue; // a held route with nothing live: its last result stands
      }
      // A newer version submitted during the apply is not settled by this result.
      if (desiredHash !== undefined && this.desired.get(key)?.hash !== desiredHash) continue;
      if (result.state === 'Removed') this.removals.delete(key);
      if (result.state === 'Removed' && this.desired.has(key)) continue;
      this.results.set(key, result);
      settled.set(key, result);
    }

    this.running = false;
    for (const [key, result] of settled) {
      for (const w of this.waiters.get(key) ?? []) w.resolve(result);
      this.waiters.delete(key);
      for (const l of this.listeners) {
        try { l(key, result); } catch (err) { this.log.error({ err: errorMessage(err) }, 'onSettled listener threw'); }
      }
    }
    for (const w of this.batchWaiters.splice(0)) w();
    // A Failed route is retried by the reconciler's own backoff (ensure marks it dirty again).
    this.schedule();
  }

  private async lookupGid(conn: SshConnection, group: string): Promise<number | undefined> {
    const r = await conn.exec(['getent', 'group', group], { timeoutMs: 10_000 });
    const gid = Number(r.stdout.split(':')[2]);
    if (r.code !== 0 || !Number.isInteger(gid)) {
      this.log.warn({ group }, 'nginx worker group not found on the host; htpasswd files will be 0644');
      return undefined;
    }
    return gid;
  }
}
