// Exponential backoff, shared by watch reconnects and per-key reconcile retries.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor?: number;
  /** Fraction of the delay added at random (0.2 adds up to 20%). */
  jitter?: number;
}

export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const factor = opts.factor ?? 2;
  const base = Math.min(opts.maxMs, opts.initialMs * factor ** Math.max(0, attempt));
  const jitter = opts.jitter ? base * opts.jitter * random() : 0;
  return Math.min(opts.maxMs, base + jitter);
}

/** Per-key failure counter: the delay grows with each failure and resets when the key is forgotten. */
export class ExponentialRateLimiter<K> {
  private failures = new Map<K, number>();
  private readonly opts: BackoffOptions;

  constructor(opts: BackoffOptions) {
    this.opts = opts;
  }

  when(key: K): number {
    const attempt = this.failures.get(key) ?? 0;
    this.failures.set(key, attempt + 1);
    return backoffDelay(attempt, this.opts);
  }

  retries(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: K): void {
    this.failures.delete(key);
  }
}
