// One bundle per Docker engine that Lab machines run on: the engine (from the shared registry,
// through HostConnections), the Lab-side network and machine operations, and a watcher of the
// Labs' containers on it whose changes (a machine died, was removed by hand) wake the owning Lab
// within moments. A new engine for a Host (its settings changed) replaces the bundle.
import type { Logger } from '../../controller/index.ts';
import { DockerMachines, DockerNetworks, EngineWatcher, WorkspaceContainers, cheapToInspect, type ContainerChange, type Engine } from '../docker/index.ts';

export interface LabEngine {
  hostUid: string;
  engine: Engine;
  networks: DockerNetworks;
  machines: DockerMachines;
  /** For ensureImage (pulling as IfNotPresent allows); no workspace container is made through it. */
  images: WorkspaceContainers;
  watcher: EngineWatcher;
}

export interface LabEnginesOptions {
  instance: string;
  resyncMs: number;
  stopTimeoutSeconds: number;
  log: Logger;
  onChange(change: ContainerChange): void;
  onHealth?(healthy: boolean, bundle: LabEngine): void;
}

export class LabEngines {
  private readonly opts: LabEnginesOptions;
  private readonly bundles = new Map<string, LabEngine & { unsubscribe(): void }>();
  private stopped = false;

  constructor(opts: LabEnginesOptions) {
    this.opts = opts;
  }

  forEngine(hostUid: string, engine: Engine): LabEngine {
    let bundle = this.bundles.get(hostUid);
    if (!bundle || bundle.engine !== engine || engine.isClosed) {
      if (bundle) this.drop(hostUid, bundle);
      cheapToInspect(engine);
      const watcher = new EngineWatcher(engine, { instance: this.opts.instance, role: 'lab-machine', resyncMs: this.opts.resyncMs, log: this.opts.log });
      const created: LabEngine & { unsubscribe(): void } = {
        hostUid,
        engine,
        networks: new DockerNetworks(engine, this.opts.instance),
        machines: new DockerMachines(engine, this.opts.instance, { stopTimeoutSeconds: this.opts.stopTimeoutSeconds }),
        images: new WorkspaceContainers(engine, { instance: this.opts.instance }),
        watcher,
        unsubscribe: () => {},
      };
      const offChange = watcher.subscribe((change) => this.opts.onChange(change));
      const offHealth = watcher.onHealth((healthy) => this.opts.onHealth?.(healthy, created));
      created.unsubscribe = () => { offChange(); offHealth(); };
      if (!this.stopped) watcher.start();
      this.bundles.set(hostUid, created);
      bundle = created;
    }
    return bundle;
  }

  release(hostUid: string): void {
    const bundle = this.bundles.get(hostUid);
    if (bundle) this.drop(hostUid, bundle);
  }

  async stopAll(): Promise<void> {
    this.stopped = true;
    const all = [...this.bundles.values()];
    this.bundles.clear();
    await Promise.all(all.map(async (b) => { b.unsubscribe(); await b.watcher.stop(); }));
  }

  private drop(hostUid: string, bundle: LabEngine & { unsubscribe(): void }): void {
    this.bundles.delete(hostUid);
    bundle.unsubscribe();
    void bundle.watcher.stop();
  }
}
