// The manager starts and stops everything a controller process runs: shared informers, controllers
// (only while leading, when leader election is on), the health and metrics endpoints, and an
// orderly shutdown. Losing leadership stops reconciling at once and ends the manager, as
// controller-runtime does, so the process restarts clean as a candidate.
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import os from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import express from 'express';
import { realClock, type Clock } from './clock.ts';
import { Controller, type ControllerOptions } from './controller.ts';
import { KubeEventRecorder } from './events.ts';
import { Informer, resourceSource } from './informer.ts';
import { ResourceClient, type KubeObject, type ResourceRef } from './kube/resource.ts';
import { KubeRest } from './kube/rest.ts';
import { LeaderElector, type LeaderElectionOptions } from './leader.ts';
import type { Logger } from './logger.ts';
import { RuntimeMetrics } from './metrics.ts';

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Name for events' reportingController, e.g. `outrigger.dev/controller`. */
  controllerName?: string;
  /** Where `/healthz`, `/readyz` and `/metrics` listen; port 0 picks a free port; null disables. */
  httpAddress?: { host: string; port: number } | null;
  leaderElection?: Omit<LeaderElectionOptions, 'identity'> & { identity?: string } | false;
  clock?: Clock;
  /** How long shutdown waits for reconciles in flight. */
  gracefulShutdownMs?: number;
  defaultMetrics?: boolean;
}

export type ControllerSpec<T extends KubeObject> = Omit<ControllerOptions<T>, 'logger' | 'metrics' | 'clock'>;

export class Manager extends EventEmitter {
  readonly rest: KubeRest;
  readonly metrics: RuntimeMetrics;
  readonly log: Logger;
  readonly clock: Clock;
  readonly events: KubeEventRecorder;
  private readonly opts: ManagerOptions;
  private readonly informers = new Map<string, Informer<any>>();
  private readonly controllers: Controller<any>[] = [];
  private elector?: LeaderElector;
  private server?: Server;
  private leading = false;
  private started = false;
  private stopping?: Promise<void>;

  constructor(opts: ManagerOptions) {
    super();
    this.opts = opts;
    this.rest = new KubeRest(opts.kubeConfig);
    this.metrics = new RuntimeMetrics({ defaultMetrics: opts.defaultMetrics });
    this.log = opts.logger;
    this.clock = opts.clock ?? realClock;
    this.events = new KubeEventRecorder(this.rest, { controllerName: opts.controllerName ?? 'outrigger.dev/controller', logger: opts.logger, clock: this.clock });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  get httpPort(): number | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : undefined;
  }

  client<T extends KubeObject>(ref: ResourceRef): ResourceClient<T> {
    return new ResourceClient<T>(this.rest, ref);
  }

  /** A shared informer per resource and selector: two controllers reading Secrets share one watch. */
  informer<T extends KubeObject>(ref: ResourceRef, opts: { namespace?: string; labelSelector?: string } = {}): Informer<T> {
    const id = `${ref.group}/${ref.version}/${ref.plural}|${opts.namespace ?? ''}|${opts.labelSelector ?? ''}`;
    let informer = this.informers.get(id) as Informer<T> | undefined;
    if (!informer) {
      informer = new Informer<T>({ name: `${ref.plural}${ref.group ? `.${ref.group}` : ''}`, source: resourceSource(this.client<T>(ref), opts), logger: this.log, clock: this.clock });
      this.informers.set(id, informer);
      if (this.started) informer.start();
    }
    return informer;
  }

  addController<T extends KubeObject>(spec: ControllerSpec<T>): Controller<T> {
    const controller = new Controller<T>({ ...spec, logger: this.log, metrics: this.metrics, clock: this.clock });
    this.controllers.push(controller);
    if (this.leading) void controller.start();
    return controller;
  }

  allSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.listen();
    for (const informer of this.informers.values()) informer.start();
    const le = this.opts.leaderElection;
    if (!le) {
      this.startLeading();
      return;
    }
    const identity = le.identity ?? `${os.hostname()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    this.elector = new LeaderElector(this.rest, { ...le, identity }, this.log, this.clock);
    this.metrics.leaderStatus.set({ name: le.name }, 0);
    this.elector.start({
      onStartedLeading: () => {
        this.metrics.leaderStatus.set({ name: le.name }, 1);
        this.startLeading();
      },
      onStoppedLeading: () => {
        this.metrics.leaderStatus.set({ name: le.name }, 0);
        if (!this.stopping) {
          this.emit('leadershipLost');
          void this.stop();
        }
      },
    });
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private startLeading(): void {
    this.leading = true;
    this.emit('leading');
    for (const controller of this.controllers) void controller.start();
  }

  private async shutdown(): Promise<void> {
    const deadline = this.opts.gracefulShutdownMs ?? 25_000;
    const drain = (async () => {
      await Promise.all(this.controllers.map((c) => c.stop()));
      this.leading = false;
      await this.elector?.stop();
      await Promise.all([...this.informers.values()].map((i) => i.stop()));
      await this.events.flush();
    })();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), deadline); });
    const outcome = await Promise.race([drain.then(() => 'drained' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.log.warn({ deadlineMs: deadline }, 'shutdown deadline passed with work in flight');
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections?.();
    this.rest.close();
    this.emit('stopped');
  }

  private async listen(): Promise<void> {
    const address = this.opts.httpAddress === undefined ? { host: '0.0.0.0', port: 8080 } : this.opts.httpAddress;
    if (!address) return;
    const app = createManagerApp(this);
    await new Promise<void>((resolve, reject) => {
      this.server = app.listen(address.port, address.host, (err?: Error) => (err ? reject(err) : resolve()));
    });
  }
}

/** The health and metrics endpoints, built apart from the socket so tests can call them directly. */
export function createManagerApp(manager: Pick<Manager, 'metrics' | 'allSynced'>): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => { res.type('text/plain').send('ok'); });
  app.get('/readyz', (_req, res) => {
    if (manager.allSynced()) res.type('text/plain').send('ok');
    else res.status(503).type('text/plain').send('informers not synced');
  });
  app.get('/metrics', async (_req, res) => {
    res.type(manager.metrics.registry.contentType).send(await manager.metrics.registry.metrics());
  });
  return app;
}
