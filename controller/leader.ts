// Leader election on a coordination.k8s.io/v1 Lease, with client-go's timing rules: a candidate
// takes a lease only when its record has not changed for leaseDuration as observed locally (clock
// skew between replicas does not matter); the leader renews every retryPeriod and gives up
// leadership when it could not renew within renewDeadline.
import { realClock, type Clock } from './clock.ts';
import { errorMessage } from './errors.ts';
import { ResourceClient, type KubeObject } from './kube/resource.ts';
import { isConflict, isNotFound, type KubeRest } from './kube/rest.ts';
import type { Logger } from './logger.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Give the lease up on stop so a successor need not wait for it to expire. */
  releaseOnStop?: boolean;
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

interface Lease extends KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

const leaseRef = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true };

export class LeaderElector {
  private readonly client: ResourceClient<Lease>;
  private readonly opts: Required<LeaderElectionOptions>;
  private readonly log: Logger;
  private readonly clock: Clock;
  private observedRecord = '';
  private observedAt = 0;
  private lastRenew = 0;
  private leading = false;
  private stopped = false;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(rest: KubeRest, opts: LeaderElectionOptions, logger: Logger, clock: Clock = realClock) {
    this.client = new ResourceClient<Lease>(rest, leaseRef);
    this.opts = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, releaseOnStop: true, ...opts };
    this.log = logger.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
    this.clock = clock;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(callbacks: LeaderCallbacks): void {
    this.stopped = false;
    this.loop = this.run(callbacks);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(callbacks: LeaderCallbacks): Promise<void> {
    while (!this.stopped) {
      const ok = await this.tryAcquireOrRenew();
      const now = this.clock.now();
      if (ok) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.log.info('became leader');
          callbacks.onStartedLeading();
        }
      } else if (this.leading && now - this.lastRenew >= this.opts.renewDeadlineMs) {
        this.leading = false;
        this.log.warn('could not renew the lease within the renew deadline; stopped leading');
        callbacks.onStoppedLeading();
      }
      await this.sleep(this.opts.retryPeriodMs);
    }
    if (this.leading) {
      this.leading = false;
      if (this.opts.releaseOnStop) await this.release();
      callbacks.onStoppedLeading();
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const key = { namespace: this.opts.namespace, name: this.opts.name };
    const now = new Date(this.clock.now()).toISOString().replace('Z', '000Z');
    const leaseDurationSeconds = Math.round(this.opts.leaseDurationMs / 1000);
    try {
      let lease: Lease;
      try {
        lease = await this.client.get(key, AbortSignal.timeout(this.opts.retryPeriodMs * 2));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await this.client.create({ metadata: { ...key }, spec: { holderIdentity: this.opts.identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } });
        return true;
      }
      const spec = lease.spec ?? {};
      const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseTransitions]);
      if (record !== this.observedRecord) {
        this.observedRecord = record;
        this.observedAt = this.clock.now();
      }
      const heldByOther = spec.holderIdentity && spec.holderIdentity !== this.opts.identity;
      const observedDuration = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
      if (heldByOther && this.clock.now() < this.observedAt + observedDuration) return false;
      const transitions = (spec.leaseTransitions ?? 0) + (spec.holderIdentity === this.opts.identity ? 0 : 1);
      const updated = await this.client.replace(
        { ...lease, spec: { holderIdentity: this.opts.identity, leaseDurationSeconds, acquireTime: spec.holderIdentity === this.opts.identity ? spec.acquireTime : now, renewTime: now, leaseTransitions: transitions } },
        AbortSignal.timeout(this.opts.retryPeriodMs * 2),
      );
      this.observedRecord = JSON.stringify([updated.spec?.holderIdentity, updated.spec?.renewTime, updated.spec?.leaseTransitions]);
      this.observedAt = this.clock.now();
      return true;
    } catch (err) {
      if (!isConflict(err)) this.log.debug({ err: errorMessage(err) }, 'lease acquire or renew failed');
      return false;
    }
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.client.get({ namespace: this.opts.namespace, name: this.opts.name }, AbortSignal.timeout(2_000));
      if (lease.spec?.holderIdentity !== this.opts.identity) return;
      await this.client.replace({ ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } }, AbortSignal.timeout(2_000));
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'could not release the lease');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimer(() => { this.wake = undefined; resolve(); }, ms);
      this.wake = () => { timer.cancel(); this.wake = undefined; resolve(); };
    });
  }
}
