// One Engine per Host, reused by every reconcile: keyed by the Host's uid, replaced (and the old one
// closed) when its connection settings change, closed when the Host goes away. Each engine gets
// its own call counter; the registry also keeps a total across engines for the benchmark.
import { ApiCallCounter } from './api-calls.ts';
import { Engine, connectionKey, type EngineConnection, type EngineOptions } from './engine.ts';

export interface EngineRegistryOptions extends Omit<EngineOptions, 'counter'> {
  /** Called after a new Engine is made (to start its watcher) and before a replaced one is closed. */
  onEngine?: (hostUid: string, engine: Engine) => void;
  onEngineClosed?: (hostUid: string, engine: Engine) => void;
}

export class EngineRegistry {
  private readonly engines = new Map<string, Engine>();
  private readonly opts: EngineRegistryOptions;
  /** Every call through every engine this registry made. */
  readonly calls = new ApiCallCounter();

  constructor(opts: EngineRegistryOptions = {}) {
    this.opts = opts;
  }

  /** The engine for this Host: the existing one if its connection is unchanged, else a new one. */
  get(hostUid: string, connection: EngineConnection): Engine {
    const key = connectionKey(connection);
    const existing = this.engines.get(hostUid);
    if (existing && existing.key === key && !existing.isClosed) return existing;
    if (existing) this.closeEngine(hostUid, existing);
    const engine = new Engine(connection, this.opts);
    engine.calls.onCall((op) => this.calls.record(op));
    this.engines.set(hostUid, engine);
    this.opts.onEngine?.(hostUid, engine);
    return engine;
  }

  /** The engine already made for this Host, if any (no connection settings needed). */
  peek(hostUid: string): Engine | undefined {
    return this.engines.get(hostUid);
  }

  /** Forgets a Host (deleted, or its docker settings removed). */
  release(hostUid: string): void {
    const engine = this.engines.get(hostUid);
    if (engine) this.closeEngine(hostUid, engine);
  }

  hosts(): string[] {
    return [...this.engines.keys()];
  }

  closeAll(): void {
    for (const [uid, engine] of [...this.engines]) this.closeEngine(uid, engine);
  }

  private closeEngine(hostUid: string, engine: Engine): void {
    this.engines.delete(hostUid);
    this.opts.onEngineClosed?.(hostUid, engine);
    engine.close();
  }
}
