// A small serial work queue for the built-in controllers: keys collapse while pending, one key
// at a time, failures retried after a delay.

export class WorkQueue {
  readonly #work: (key: string) => Promise<void>;
  readonly #onError: (key: string, err: unknown) => void;
  readonly #retryMs: number;
  #pending = new Set<string>();
  #running = false;
  #stopped = false;
  #timers = new Set<NodeJS.Timeout>();
  #idle: (() => void)[] = [];

  constructor(work: (key: string) => Promise<void>, onError: (key: string, err: unknown) => void, retryMs = 500) {
    this.#work = work;
    this.#onError = onError;
    this.#retryMs = retryMs;
  }

  add(key: string): void {
    if (this.#stopped) return;
    this.#pending.add(key);
    if (!this.#running) {
      this.#running = true;
      setImmediate(() => void this.#loop());
    }
  }

  addAfter(key: string, ms: number): void {
    if (this.#stopped) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.add(key);
    }, ms);
    t.unref();
    this.#timers.add(t);
  }

  async #loop(): Promise<void> {
    while (this.#pending.size && !this.#stopped) {
      const key = this.#pending.values().next().value as string;
      this.#pending.delete(key);
      try {
        await this.#work(key);
      } catch (err) {
        this.#onError(key, err);
        this.addAfter(key, this.#retryMs);
      }
    }
    this.#running = false;
    for (const r of this.#idle.splice(0)) r();
  }

  /** Resolves when nothing is pending or running (tests). */
  idle(): Promise<void> {
    if (!this.#running && !this.#pending.size) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  stop(): void {
    this.#stopped = true;
    this.#pending.clear();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
