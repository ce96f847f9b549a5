// Watches one engine for changes to Outrigger's containers: the events stream (filtered by the
// instance label) says within a moment that a container died, stopped, was removed or started; a
// periodic list (one call per engine per resync) is the fallback that also heals any gap. Both
// feed the ContainerCache and tell subscribers which owner to reconcile. The stream reconnects with
// backoff and resumes from the last event it saw; after every reconnect the list runs at once.
import { backoffDelay, type BackoffOptions } from '../../controller/backoff.ts';
import { realClock, type Clock, type TimerHandle } from '../../controller/clock.ts';
import type { Logger } from '../../controller/logger.ts';
import { ContainerCache, observedFromList, type ContainerChange, type DockerEvent, type ObservedContainer } from './cache.ts';
import type { Engine } from './engine.ts';
import { dockerError } from './errors.ts';
import { DEFAULT_INSTANCE, instanceFilter } from './labels.ts';

export interface WatcherOptions {
  instance?: string;
  /** Period of the fallback list. Default 30 s. */
  resyncMs?: number;
  backoff?: BackoffOptions;
  clock?: Clock;
  log?: Logger;
}

// Podman's Docker API filters by its own event names: a container that exits passes only "died"
// (it is then sent as "die"), a removed one only "remove" (sent as is; Docker says "destroy").
// Docker ignores names it does not know, so one list serves both engines.
const EVENT_ACTIONS = ['create', 'start', 'restart', 'die', 'died', 'stop', 'oom', 'destroy', 'remove', 'pause', 'unpause', 'rename', 'update', 'health_status'];

export class EngineWatcher {
  readonly cache = new ContainerCache();
  private readonly engine: Engine;
  private readonly instance: string;
  private readonly resyncMs: number;
  private readonly backoff: BackoffOptions;
  private readonly clock: Clock;
  private readonly log: Logger | undefined;
  private readonly subscribers = new Set<(change: ContainerChange) => void>();
  private readonly healthListeners = new Set<(healthy: boolean) => void>();
  private healthy: boolean | undefined;
  private readonly syncWaiters = new Set<() => void>();
  private abort = new AbortController();
  private running = false;
  private eventsLoop: Promise<void> | undefined;
  private resyncTimer: TimerHandle | undefined;
  private listing: Promise<void> | undefined;
  private lastEventSeconds: number | undefined;
  private isConnected = false;
  private failure: Error | undefined;
  private resyncs = 0;

  constructor(engine: Engine, opts: WatcherOptions = {}) {
    this.engine = engine;
    this.instance = opts.instance ?? DEFAULT_INSTANCE;
    this.resyncMs = opts.resyncMs ?? 30_000;
    // A reconnect attempt is one cheap call: trying every few seconds finds an engine that came back
    // within moments, which is when its Workspaces recover.
    this.backoff = opts.backoff ?? { initialMs: 200, maxMs: 3_000, jitter: 0.2 };
    this.clock = opts.clock ?? realClock;
    this.log = opts.log;
  }

  /** Receives every change to an owned container; returns the unsubscribe function. */
  subscribe(listener: (change: ContainerChange) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /**
   * Hears when the engine stops answering (its events stream broke) and when it is back (stream
   * reconnected and a fresh list succeeded): dependants are told at once, not at their next poll.
   */
  onHealth(listener: (healthy: boolean) => void): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  /** False from the moment the events stream broke until it is back and a list succeeded. */
  get reachable(): boolean {
    return this.healthy !== false;
  }

  private setHealthy(healthy: boolean): void {
    if (this.healthy === healthy || !this.running) return;
    const wasKnown = this.healthy !== undefined;
    this.healthy = healthy;
    if (!wasKnown && healthy) return; // the first success is not a recovery
    for (const listener of this.healthListeners) {
      try {
        listener(healthy);
      } catch (err) {
        this.log?.error({ err: err instanceof Error ? err.message : String(err) }, 'docker health listener threw');
      }
    }
  }

  /** The last error of the events stream or the list (cleared by the next success). */
  get lastError(): Error | undefined {
    return this.failure;
  }

  /** How many fallback lists ran (for calls-per-resync figures). */
  get resyncCount(): number {
    return this.resyncs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.eventsLoop = this.runEvents();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.resyncTimer?.cancel();
    this.resyncTimer = undefined;
    await this.eventsLoop;
    await this.listing?.catch(() => undefined);
    for (const wake of this.syncWaiters) wake();
  }

  /** Resolves once the first list has filled the cache (or rejects when `signal` fires). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.cache.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        this.syncWaiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.syncWaiters.delete(wake);
        reject(signal?.reason);
      };
      this.syncWaiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Lists now (one call), updates the cache and reports differences. Concurrent calls share one list. */
  resyncNow(): Promise<void> {
    this.listing ??= this.list().finally(() => {
      this.listing = undefined;
    });
    return this.listing;
  }

  private async list(): Promise<void> {
    const sentAt = this.clock.now();
    const report = this.cache.synced;
    try {
      const containers = await this.engine.call(
        'list containers',
        (abortSignal) => this.engine.docker.listContainers({ all: true, filters: { label: instanceFilter(this.instance, 'workspace') }, abortSignal }),
        this.abort.signal,
      );
      this.resyncs += 1;
      const observed = containers.map(observedFromList).filter((c): c is ObservedContainer => c !== undefined);
      const changes = this.cache.applyList(observed, sentAt, report);
      this.failure = undefined;
      if (this.isConnected) this.setHealthy(true);
      for (const wake of [...this.syncWaiters]) wake();
      for (const change of changes) this.emit(change);
    } catch (err) {
      if (!this.running) return;
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.log?.warn({ engine: this.engine.description, code: (err as { code?: string }).code, err: this.failure.message }, 'docker list failed');
    } finally {
      this.scheduleResync();
    }
  }

  private scheduleResync(): void {
    if (!this.running) return;
    this.resyncTimer?.cancel();
    this.resyncTimer = this.clock.setTimer(() => void this.resyncNow(), this.resyncMs);
  }

  private emit(change: ContainerChange): void {
    for (const listener of this.subscribers) {
      try {
        listener(change);
      } catch (err) {
        this.log?.error({ err: err instanceof Error ? err.message : String(err) }, 'docker change subscriber threw');
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.abort.signal;
      const onAbort = (): void => {
        timer.cancel();
        resolve();
      };
      const timer = this.clock.setTimer(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async runEvents(): Promise<void> {
    let attempt = 0;
    while (this.running) {
      try {
        const filters = { type: ['container'], label: instanceFilter(this.instance, 'workspace'), event: EVENT_ACTIONS };
        const { stream, release } = await this.openEvents(filters);
        this.isConnected = true;
        attempt = 0;
        // Anything may have happened while not watching: compare with a fresh list at once.
        if (this.lastEventSeconds !== undefined || !this.cache.synced) {
          if (this.cache.synced) this.cache.forgetPlacedFiles();
          void this.resyncNow();
        }
        await this.consume(stream).finally(release);
        if (this.running) {
          this.log?.info({ engine: this.engine.description }, 'docker events stream ended; reconnecting');
          // Until it is back, nothing is watched: what the cache says may already be wrong.
          this.failure ??= new Error(`the events stream of ${this.engine.description} ended`);
          this.setHealthy(false);
        }
      } catch (err) {
        if (!this.running) break;
        const error = dockerError(err, this.engine.description, 'watch events');
        this.failure = error;
        this.setHealthy(false);
        this.log?.warn({ engine: this.engine.description, code: error.code, err: error.message, attempt }, 'docker events stream failed');
      }
      this.isConnected = false;
      if (!this.running) break;
      // Something may have been missed: the next connect resumes from the last event and relists.
      this.lastEventSeconds ??= Math.floor(this.clock.now() / 1000) - 1;
      await this.sleep(backoffDelay(attempt++, this.backoff));
    }
    this.isConnected = false;
  }

  /**
   * Opens the events stream. The deadline covers only the engine's answer: an abort signal passed to
   * dockerode stays attached to the response, so it must fire only when the watcher stops.
   */
  private async openEvents(filters: Record<string, string[]>): Promise<{ stream: NodeJS.ReadableStream; release(): void }> {
    const connection = new AbortController();
    const stopSignal = this.abort.signal;
    const onStop = (): void => connection.abort();
    stopSignal.addEventListener('abort', onStop, { once: true });
    const release = (): void => stopSignal.removeEventListener('abort', onStop);
    const timer = setTimeout(() => connection.abort(new DOMException('no answer', 'TimeoutError')), this.engine.callTimeoutMs);
    try {
      const stream = await this.engine.call(
        'watch events',
        () =>
          this.engine.docker.getEvents({
            filters,
            ...(this.lastEventSeconds !== undefined ? { since: this.lastEventSeconds } : {}),
            abortSignal: connection.signal,
          } as object) as Promise<NodeJS.ReadableStream>,
        stopSignal,
        // call()'s own deadline is longer than ours, so ours is the one that fires.
        this.engine.callTimeoutMs + 1000,
      );
      return { stream, release };
    } catch (err) {
      release();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private consume(stream: NodeJS.ReadableStream): Promise<void> {
    return new Promise((resolve) => {
      let buffered = '';
      const s = stream as NodeJS.ReadableStream & { destroy(): void };
      const onAbort = (): void => s.destroy();
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
      s.setEncoding('utf8');
      s.on('data', (chunk: string) => {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) this.onEventLine(line);
        }
      });
      const done = (): void => {
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve();
      };
      s.once('end', done);
      s.once('close', done);
      s.once('error', (err: Error) => {
        this.failure = err;
        done();
      });
    });
  }

  private onEventLine(line: string): void {
    let event: DockerEvent;
    try {
      event = JSON.parse(line) as DockerEvent;
    } catch {
      this.log?.warn({ engine: this.engine.description }, 'unreadable docker event skipped');
      return;
    }
    if (event.timeNano) this.lastEventSeconds = Math.floor(event.timeNano / 1e9);
    else if (event.time) this.lastEventSeconds = event.time;
    const change = this.cache.applyEvent(event, this.clock.now());
    if (change) this.emit(change);
  }
}
