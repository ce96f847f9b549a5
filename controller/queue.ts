// The work queue, in the manner of client-go's: a dirty set collapses duplicate adds, a processing
// set keeps one key from being handed out twice at once, and a key added while it is processed is
// handed out once more after `done`. Retries are rate-limited per key; delayed adds keep the earliest.
import { ExponentialRateLimiter, type BackoffOptions } from './backoff.ts';
import { realClock, type Clock, type TimerHandle } from './clock.ts';

export interface QueueMetrics {
  depth(value: number): void;
  added(): void;
  retried(): void;
  queued(seconds: number): void;
  worked(seconds: number): void;
}

export interface WorkQueueOptions {
  clock?: Clock;
  /** Per-key retry backoff: 5 ms x 2^n, capped at 1000 s unless configured. */
  backoff?: BackoffOptions;
  metrics?: QueueMetrics;
}

export const defaultRetryBackoff: BackoffOptions = { initialMs: 5, maxMs: 1_000_000, factor: 2 };

export class WorkQueue<K extends string = string> {
  private readonly clock: Clock;
  private readonly limiter: ExponentialRateLimiter<K>;
  private readonly metrics?: QueueMetrics;
  private readonly order: K[] = [];
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly addedAt = new Map<K, number>();
  private readonly startedAt = new Map<K, number>();
  private readonly delayed = new Map<K, { at: number; timer: TimerHandle }>();
  private waiters: Array<(key: K | undefined) => void> = [];
  private drainWaiters: Array<() => void> = [];
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.limiter = new ExponentialRateLimiter<K>(opts.backoff ?? defaultRetryBackoff);
    this.metrics = opts.metrics;
  }

  get length(): number {
    return this.order.length;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics?.added();
    this.dirty.add(key);
    if (!this.addedAt.has(key)) this.addedAt.set(key, this.clock.now());
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Adds the key after a delay; of several pending delayed adds for one key the earliest wins. */
  addAfter(key: K, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    pending?.timer.cancel();
    const timer = this.clock.setTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { at, timer });
  }

  addRateLimited(key: K): void {
    this.metrics?.retried();
    this.addAfter(key, this.limiter.when(key));
  }

  /** Clears the key's failure count, so its next retry starts from the shortest delay. */
  forget(key: K): void {
    this.limiter.forget(key);
  }

  retries(key: K): number {
    return this.limiter.retries(key);
  }

  /** Waits for the next key; resolves undefined once the queue shuts down (no new work is handed out). */
  get(): Promise<K | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: K): void {
    this.processing.delete(key);
    const started = this.startedAt.get(key);
    this.startedAt.delete(key);
    if (started !== undefined) this.metrics?.worked((this.clock.now() - started) / 1000);
    if (this.dirty.has(key)) this.push(key);
    if (this.processing.size === 0) this.releaseDrainWaiters();
  }

  /** Stops accepting work; resolves once every key being processed is done. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) timer.cancel();
    this.delayed.clear();
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve(undefined);
    if (this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  private push(key: K): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.order.push(key);
      waiter(this.take());
    } else {
      this.order.push(key);
    }
    this.metrics?.depth(this.order.length);
  }

  private take(): K | undefined {
    const key = this.order.shift();
    if (key === undefined) return undefined;
    this.processing.add(key);
    this.dirty.delete(key);
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    const now = this.clock.now();
    if (added !== undefined) this.metrics?.queued((now - added) / 1000);
    this.startedAt.set(key, now);
    this.metrics?.depth(this.order.length);
    return key;
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
