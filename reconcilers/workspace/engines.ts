// One EngineWatcher and one WorkspaceContainers per Docker engine the workspaces use. The engine
// itself comes from the shared EngineRegistry (through HostConnections); when the registry hands
// out a new engine for a Host (its connection settings changed), the old watcher stops and a new
// one starts. Every change the watcher reports is handed to `onChange` (the controller enqueues the
// owning Workspace's key), which is how drift is noticed within moments rather than at the next poll.
import type { Logger } from '../../controller/index.ts';
import { EngineWatcher, WorkspaceContainers, cheapToInspect, type ContainerChange, type ContainerHistory, type Engine } from '../docker/index.ts';

export { cheapToInspect };

export interface EngineBundle {
  hostUid: string;
  engine: Engine;
  watcher: EngineWatcher;
  containers: WorkspaceContainers;
}

export interface EngineWatchersOptions {
  instance: string;
  /** Period of each watcher's fallback list. */
  resyncMs: number;
  stopTimeoutSeconds: number;
  log: Logger;
  onChange(change: ContainerChange, bundle: EngineBundle): void;
  /** The engine stopped answering (false) or is back (true). */
  onHealth?(healthy: boolean, bundle: EngineBundle): void;
  /** Shares what the watchers see with rules about containers (an Alert's containerDown). */
  history?: ContainerHistory;
}

/** How long a reconcile waits for a new watcher's first list before observing without the cache. */
const SYNC_WAIT_MS = 3_000;

export class EngineWatchers {
  private readonly opts: EngineWatchersOptions;
  private readonly bundles = new Map<string, EngineBundle & { unsubscribe(): void }>();
  private stopped = false;

  constructor(opts: EngineWatchersOptions) {
    this.opts = opts;
  }

  /** The bundle for this Host's current engine, starting a watcher for an engine not seen before. */
  async forEngine(hostUid: string, engine: Engine, signal?: AbortSignal): Promise<EngineBundle> {
    let bundle = this.bundles.get(hostUid);
    if (!bundle || bundle.engine !== engine || engine.isClosed) {
      if (bundle) this.drop(hostUid, bundle);
      bundle = this.start(hostUid, engine);
    }
    if (!bundle.watcher.cache.synced && !bundle.watcher.lastError) {
      // Without the first list every observe would list by itself; a short wait saves that.
      await Promise.race([bundle.watcher.waitForSync(signal).catch(() => undefined), new Promise((r) => setTimeout(r, SYNC_WAIT_MS).unref())]);
    }
    return bundle;
  }

  /** The Host is gone, or nothing on it is watched any more: its watcher stops. */
  release(hostUid: string): void {
    const bundle = this.bundles.get(hostUid);
    if (bundle) this.drop(hostUid, bundle);
  }

  all(): EngineBundle[] {
    return [...this.bundles.values()];
  }

  /** Total fallback lists across engines (for calls-per-resync figures). */
  get resyncCount(): number {
    return [...this.bundles.values()].reduce((n, b) => n + b.watcher.resyncCount, 0);
  }

  async stopAll(): Promise<void> {
    this.stopped = true;
    const all = [...this.bundles];
    this.bundles.clear();
    await Promise.all(all.map(async ([, b]) => {
      b.unsubscribe();
      await b.watcher.stop();
    }));
  }

  private start(hostUid: string, engine: Engine): EngineBundle & { unsubscribe(): void } {
    cheapToInspect(engine);
    const watcher = new EngineWatcher(engine, { instance: this.opts.instance, resyncMs: this.opts.resyncMs, log: this.opts.log });
    const containers = new WorkspaceContainers(engine, { instance: this.opts.instance, cache: watcher.cache, stopTimeoutSeconds: this.opts.stopTimeoutSeconds });
    const bundle = { hostUid, engine, watcher, containers, unsubscribe: () => {} };
    const history = this.opts.history;
    const detach = history?.attach(hostUid, watcher);
    const offChange = watcher.subscribe((change) => {
      history?.record(change);
      this.opts.onChange(change, bundle);
    });
    const offHealth = watcher.onHealth((healthy) => this.opts.onHealth?.(healthy, bundle));
    bundle.unsubscribe = () => { offChange(); offHealth(); detach?.(); };
    if (!this.stopped) watcher.start();
    this.bundles.set(hostUid, bundle);
    this.opts.log.debug({ engine: engine.description }, 'watching docker engine');
    return bundle;
  }

  private drop(hostUid: string, bundle: EngineBundle & { unsubscribe(): void }): void {
    this.bundles.delete(hostUid);
    bundle.unsubscribe();
    void bundle.watcher.stop();
  }
}
