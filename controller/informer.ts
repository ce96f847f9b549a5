// The informer: list, then watch from the list's resourceVersion, keeping a cache and telling
// handlers what changed. It is a loop with three states (listing, watching, backing off) that runs
// until stopped: a 410 relists and emits deletes for objects that vanished meanwhile; every other
// failure is retried forever with jittered backoff that resets after a healthy period. It never
// stops silently.
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { realClock, type Clock } from './clock.ts';
import { errorMessage } from './errors.ts';
import { isGone, KubeApiError, type Query } from './kube/rest.ts';
import { keyOf, type KubeObject, type ResourceClient } from './kube/resource.ts';
import type { Logger } from './logger.ts';

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** Where an informer gets its objects from; the real one is a ResourceClient, tests use fakes. */
export interface ListWatchSource<T extends KubeObject> {
  list(signal: AbortSignal): Promise<{ items: T[]; resourceVersion: string }>;
  watch(resourceVersion: string, timeoutSeconds: number, signal: AbortSignal): AsyncIterable<WatchEvent<T>>;
}

export interface InformerHandler<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

export type InformerState = 'idle' | 'listing' | 'watching' | 'backoff' | 'stopped';

export interface InformerOptions<T extends KubeObject> {
  name: string;
  source: ListWatchSource<T>;
  logger: Logger;
  clock?: Clock;
  random?: () => number;
  /** Reconnect backoff: about 0.8 s to 30 s, jittered. */
  backoff?: BackoffOptions;
  /** A watch that stays up this long (or delivers events) resets the backoff. */
  healthyAfterMs?: number;
  /** Server-side watch timeout range in seconds; a random value is chosen per watch. */
  watchTimeoutSeconds?: [number, number];
}

export const defaultWatchBackoff: BackoffOptions = { initialMs: 800, maxMs: 30_000, factor: 2, jitter: 1 };

export class Informer<T extends KubeObject> {
  readonly name: string;
  private readonly source: ListWatchSource<T>;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly backoff: BackoffOptions;
  private readonly healthyAfterMs: number;
  private readonly watchTimeoutSeconds: [number, number];
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly syncWaiters: Array<() => void> = [];
  private abort = new AbortController();
  private loop?: Promise<void>;
  private synced = false;
  private failures = 0;
  private resourceVersion = '';
  private current: InformerState = 'idle';
  private lastErrorMessage?: string;

  constructor(opts: InformerOptions<T>) {
    this.name = opts.name;
    this.source = opts.source;
    this.log = opts.logger.child({ informer: opts.name });
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.backoff = opts.backoff ?? defaultWatchBackoff;
    this.healthyAfterMs = opts.healthyAfterMs ?? 60_000;
    this.watchTimeoutSeconds = opts.watchTimeoutSeconds ?? [300, 600];
  }

  addHandler(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
    // A handler added late still hears about what is already known, like client-go's.
    for (const obj of this.cache.values()) handler.onAdd?.(obj);
  }

  get state(): InformerState {
    return this.current;
  }

  get lastError(): string | undefined {
    return this.lastErrorMessage;
  }

  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    this.loop = undefined;
    this.current = 'stopped';
  }

  private async run(signal: AbortSignal): Promise<void> {
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          this.current = 'listing';
          await this.relist(signal);
          needList = false;
        }
        if (signal.aborted) break;
        this.current = 'watching';
        const healthy = await this.watchOnce(signal);
        if (healthy) this.failures = 0;
        else await this.sleepBackoff(signal, 'watch closed without delivering anything');
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err) || (err instanceof GoneError)) {
          this.log.info({ resourceVersion: this.resourceVersion }, 'resourceVersion too old (410), relisting');
          needList = true;
          continue;
        }
        await this.sleepBackoff(signal, errorMessage(err));
      }
    }
    this.current = 'stopped';
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const { items, resourceVersion } = await this.source.list(signal);
    const seen = new Set<string>();
    for (const obj of items) {
      const key = keyOf(obj);
      seen.add(key);
      this.upsert(key, obj);
    }
    // Objects deleted while we were not watching: the relist is the only place to notice them.
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        for (const h of this.handlers) h.onDelete?.(old);
      }
    }
    this.resourceVersion = resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
      this.log.debug({ objects: items.length }, 'synced');
    }
  }

  /** Runs one watch to its end. Returns whether it was healthy (delivered events or lasted). */
  private async watchOnce(signal: AbortSignal): Promise<boolean> {
    const [min, max] = this.watchTimeoutSeconds;
    const timeoutSeconds = Math.floor(min + this.random() * (max - min));
    const started = this.clock.now();
    let delivered = false;
    for await (const event of this.source.watch(this.resourceVersion, timeoutSeconds, signal)) {
      if (event.type === 'ERROR') {
        const status = event.object as unknown as { code?: number; message?: string };
        if (status.code === 410) throw new GoneError(status.message ?? 'resourceVersion too old');
        throw new KubeApiError('WATCH', this.name, status.code ?? 500, status);
      }
      delivered = true;
      if (this.clock.now() - started >= this.healthyAfterMs) this.failures = 0;
      this.apply(event);
    }
    return delivered || this.clock.now() - started >= Math.min(this.healthyAfterMs, timeoutSeconds * 1000 * 0.9);
  }

  private apply(event: WatchEvent<T>): void {
    const rv = event.object?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (event.type === 'BOOKMARK') return;
    const key = keyOf(event.object);
    if (event.type === 'DELETED') {
      const old = this.cache.get(key) ?? event.object;
      this.cache.delete(key);
      for (const h of this.handlers) h.onDelete?.(old);
      return;
    }
    this.upsert(key, event.object);
  }

  private upsert(key: string, obj: T): void {
    const old = this.cache.get(key);
    this.cache.set(key, obj);
    if (!old) {
      for (const h of this.handlers) h.onAdd?.(obj);
    } else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) {
      for (const h of this.handlers) h.onUpdate?.(old, obj);
    }
  }

  private async sleepBackoff(signal: AbortSignal, reason: string): Promise<void> {
    if (signal.aborted) return;
    this.current = 'backoff';
    const delay = backoffDelay(this.failures, this.backoff, this.random);
    this.failures++;
    this.lastErrorMessage = reason;
    this.log.warn({ attempt: this.failures, retryInMs: Math.round(delay), reason }, 'list/watch failed, retrying');
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimer(resolve, delay);
      signal.addEventListener('abort', () => { timer.cancel(); resolve(); }, { once: true });
    });
  }
}

class GoneError extends Error {}

/** A ListWatchSource over a real API server: paginated list, watch with bookmarks. */
export function resourceSource<T extends KubeObject>(client: ResourceClient<T>, opts: { namespace?: string; labelSelector?: string; fieldSelector?: string; pageSize?: number } = {}): ListWatchSource<T> {
  const selectors: Query = { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector };
  return {
    async list(signal) {
      const items: T[] = [];
      let cont: string | undefined;
      let resourceVersion = '';
      do {
        const page = await client.list(opts.namespace, { ...selectors, limit: opts.pageSize ?? 500, continue: cont }, signal);
        items.push(...page.items);
        cont = page.metadata.continue || undefined;
        resourceVersion = page.metadata.resourceVersion ?? '';
      } while (cont);
      return { items, resourceVersion };
    },
    watch(resourceVersion, timeoutSeconds, signal) {
      return client.watch(opts.namespace, { ...selectors, resourceVersion, allowWatchBookmarks: true, timeoutSeconds }, signal) as AsyncIterable<WatchEvent<T>>;
    },
  };
}
