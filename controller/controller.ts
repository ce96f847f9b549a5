// A controller: an informer for its kind feeding keys into a work queue, N workers calling one
// level-based Reconciler per key, and watches of related objects mapped back to owning keys.
import { errorCode, errorMessage, OutriggerError, ErrorCodes } from './errors.ts';
import type { Informer } from './informer.ts';
import { keyOf, objectKeyString, parseObjectKey, type KubeObject, type ObjectKey } from './kube/resource.ts';
import type { Logger } from './logger.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { decideOutcome, isPanic, type Result } from './outcome.ts';
import { realClock, type Clock, type TimerHandle } from './clock.ts';
import { WorkQueue } from './queue.ts';
import type { BackoffOptions } from './backoff.ts';

export interface ReconcileContext {
  signal: AbortSignal;
  log: Logger;
}

export interface Reconciler {
  reconcile(request: ObjectKey, ctx: ReconcileContext): Promise<Result | void>;
}

/** Decides whether an update to the primary object should enqueue it. */
export type UpdatePredicate<T extends KubeObject> = (oldObj: T, newObj: T) => boolean;

/**
 * The default: react to spec changes (generation) and to deletion starting, not to status writes
 * (including our own) or metadata churn. Objects without a generation always pass.
 */
export const generationChanged: UpdatePredicate<KubeObject> = (oldObj, newObj) =>
  newObj.metadata.generation === undefined ||
  oldObj.metadata.generation !== newObj.metadata.generation ||
  Boolean(oldObj.metadata.deletionTimestamp) !== Boolean(newObj.metadata.deletionTimestamp);

export interface RelatedWatch<R extends KubeObject = KubeObject> {
  informer: Informer<R>;
  /** The keys of primary objects that must be reconciled when this related object changes. */
  map(obj: R): ObjectKey[];
  /** Which updates of the related object matter (default: all). */
  predicate?: (oldObj: R, newObj: R) => boolean;
}

export interface ControllerOptions<T extends KubeObject> {
  name: string;
  informer: Informer<T>;
  reconciler: Reconciler;
  logger: Logger;
  metrics: RuntimeMetrics;
  workers?: number;
  reconcileTimeoutMs?: number;
  predicate?: UpdatePredicate<T>;
  watches?: RelatedWatch<any>[];
  /** More informers that must have synced before the first reconcile (what reconciles read). */
  syncBefore?: Informer<any>[];
  /** Every object is reconciled again this often (default 10 h, +-10%). */
  resyncPeriodMs?: number;
  clock?: Clock;
  backoff?: BackoffOptions;
}

export class Controller<T extends KubeObject = KubeObject> {
  readonly name: string;
  readonly queue: WorkQueue<string>;
  private readonly informer: Informer<T>;
  private readonly reconciler: Reconciler;
  private readonly log: Logger;
  private readonly metrics: RuntimeMetrics;
  private readonly workers: number;
  private readonly reconcileTimeoutMs: number;
  private readonly predicate: UpdatePredicate<T>;
  private readonly watches: RelatedWatch[];
  private readonly syncBefore: Informer<any>[];
  private readonly resyncPeriodMs: number;
  private readonly clock: Clock;
  private running: Promise<void>[] = [];
  private resyncTimer?: TimerHandle;
  private stopController = new AbortController();
  private handlersInstalled = false;
  /** Reconciles finished, by outcome; handy for tests and benchmarks. */
  readonly counts = { success: 0, error: 0, terminal: 0, requeue: 0, requeueAfter: 0 };

  constructor(opts: ControllerOptions<T>) {
    this.name = opts.name;
    this.informer = opts.informer;
    this.reconciler = opts.reconciler;
    this.log = opts.logger.child({ controller: opts.name });
    this.metrics = opts.metrics;
    this.workers = opts.workers ?? 1;
    this.reconcileTimeoutMs = opts.reconcileTimeoutMs ?? 5 * 60_000;
    this.predicate = opts.predicate ?? generationChanged;
    this.watches = opts.watches ?? [];
    this.syncBefore = opts.syncBefore ?? [];
    this.resyncPeriodMs = opts.resyncPeriodMs ?? 10 * 60 * 60_000;
    this.clock = opts.clock ?? realClock;
    this.queue = new WorkQueue<string>({ clock: this.clock, backoff: opts.backoff, metrics: this.metrics.queueMetricsFor(opts.name) });
  }

  /** Starts the workers once every informer this controller reads has synced. */
  async start(): Promise<void> {
    this.stopController = new AbortController();
    this.installHandlers();
    await Promise.all([this.informer.waitForSync(), ...this.watches.map((w) => w.informer.waitForSync()), ...this.syncBefore.map((i) => i.waitForSync())]);
    if (this.stopController.signal.aborted) return;
    this.metrics.maxConcurrent.set({ controller: this.name }, this.workers);
    this.metrics.activeWorkers.set({ controller: this.name }, 0);
    for (let i = 0; i < this.workers; i++) this.running.push(this.workerLoop());
    this.scheduleResync();
    this.log.info({ workers: this.workers }, 'controller started');
  }

  /** Stops handing out keys and waits for reconciles in flight to finish. */
  async stop(): Promise<void> {
    this.stopController.abort();
    this.resyncTimer?.cancel();
    await this.queue.shutdown();
    await Promise.all(this.running);
    this.running = [];
    this.log.info('controller stopped');
  }

  enqueue(key: ObjectKey): void {
    this.queue.add(objectKeyString(key));
  }

  /**
   * Reconcile now and start any backoff afresh: what the key waited for (an engine, a host) is
   * back, so waiting out a long backoff would only delay recovery.
   */
  wake(key: ObjectKey): void {
    const k = objectKeyString(key);
    this.queue.forget(k);
    this.queue.add(k);
  }

  private installHandlers(): void {
    if (this.handlersInstalled) return;
    this.handlersInstalled = true;
    this.informer.addHandler({
      onAdd: (obj) => this.queue.add(keyOf(obj)),
      onUpdate: (oldObj, newObj) => { if (this.predicate(oldObj, newObj)) this.queue.add(keyOf(newObj)); },
      onDelete: (obj) => this.queue.add(keyOf(obj)),
    });
    for (const watch of this.watches) {
      const enqueueMapped = (obj: KubeObject) => { for (const key of watch.map(obj)) this.enqueue(key); };
      const predicate = watch.predicate;
      watch.informer.addHandler({
        onAdd: enqueueMapped,
        onUpdate: (old, obj) => { if (!predicate || predicate(old, obj)) enqueueMapped(obj); },
        onDelete: enqueueMapped,
      });
    }
  }

  private scheduleResync(): void {
    const jittered = this.resyncPeriodMs * (0.9 + Math.random() * 0.2);
    this.resyncTimer = this.clock.setTimer(() => {
      for (const obj of this.informer.list()) this.queue.add(keyOf(obj));
      this.scheduleResync();
    }, jittered);
  }

  private async workerLoop(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.metrics.activeWorkers.inc({ controller: this.name });
      try {
        await this.process(key);
      } finally {
        this.metrics.activeWorkers.dec({ controller: this.name });
        this.queue.done(key);
      }
    }
  }

  private async process(key: string): Promise<void> {
    const log = this.log.child({ key });
    // The deadline runs on the injectable clock, so a test can drive it.
    const deadline = new AbortController();
    const timer = this.clock.setTimer(() => deadline.abort(new Error(`reconcile exceeded ${this.reconcileTimeoutMs} ms`)), this.reconcileTimeoutMs);
    const timeout = deadline.signal;
    const signal = AbortSignal.any([timeout, this.stopController.signal]);
    const started = this.clock.now();
    let settled: { result?: Result | void; error?: unknown; failed: boolean };
    try {
      settled = { result: await this.reconciler.reconcile(parseObjectKey(key), { signal, log }), failed: false };
      timer.cancel();
    } catch (error) {
      timer.cancel();
      if (this.stopController.signal.aborted && !timeout.aborted) {
        // Cut short by our own shutdown: not a failure, and the next process starts from the object.
        log.debug({ err: errorMessage(error) }, 'reconcile cancelled: the controller is stopping');
        return;
      }
      const cause = timeout.aborted ? new OutriggerError(ErrorCodes.ReconcileTimeout, `reconcile exceeded ${this.reconcileTimeoutMs} ms`, { cause: error }) : error;
      settled = { error: cause, failed: true };
    }
    this.metrics.reconcileTime.observe({ controller: this.name }, (this.clock.now() - started) / 1000);
    const outcome = decideOutcome(settled);
    this.metrics.reconcileTotal.inc({ controller: this.name, result: outcome.metric });
    switch (outcome.kind) {
      case 'terminal':
        this.counts.terminal++;
        this.metrics.reconcileErrors.inc({ controller: this.name });
        this.metrics.terminalErrors.inc({ controller: this.name });
        this.queue.forget(key);
        log.warn({ code: errorCode(outcome.error), err: errorMessage(outcome.error) }, 'reconcile failed permanently; waiting for a change');
        break;
      case 'error':
        this.counts.error++;
        this.metrics.reconcileErrors.inc({ controller: this.name });
        if (isPanic(outcome.error)) {
          this.metrics.panics.inc({ controller: this.name });
          log.error({ err: outcome.error }, 'reconcile panicked');
        } else {
          log.warn({ code: errorCode(outcome.error), err: errorMessage(outcome.error), retries: this.queue.retries(key) }, 'reconcile failed; retrying with backoff');
        }
        this.queue.addRateLimited(key);
        break;
      case 'requeueAfter':
        this.counts.requeueAfter++;
        this.queue.forget(key);
        this.queue.addAfter(key, outcome.delayMs);
        break;
      case 'requeue':
        this.counts.requeue++;
        this.queue.addRateLimited(key);
        break;
      case 'success':
        this.counts.success++;
        this.queue.forget(key);
        break;
    }
  }
}
