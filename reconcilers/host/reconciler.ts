// The Host reconcile, in steps: load -> validate the spec again -> probe -> write status (only when
// changed) -> probe again later. A Host owns nothing outside Kubernetes, so it has no finalizer;
// when it is deleted, its pooled connections are closed.
import {
  errorCode, errorConditions, errorMessage, isNotFound, objectKeyString, semanticEqual, setConditions, stalledConditions,
  TerminalError, ErrorCodes, updateStatus, realClock,
  type Clock, type Condition, type EventRecorder, type ObjectKey, type ReconcileContext, type Reconciler, type ResourceClient, type Result,
} from '../../controller/index.ts';
import { describeFieldErrors, hostKind, validateSpec, type Host, type HostStatus } from '../../crds/index.ts';
import type { HostConnections } from '../hosts.ts';
import { probeHost, stableMessage } from './probe.ts';
import { hostStatus } from './status.ts';

export interface HostReconcilerOptions {
  /** A Ready Host is probed again after this long (default 60 s). */
  probeIntervalMs?: number;
  /** First retry delay of a failing Host, doubled per failure up to probeIntervalMs (default 2 s). */
  retryInitialMs?: number;
  /** lastProbeTime is rewritten at least this often (default 10 min). */
  probeRecordIntervalMs?: number;
  clock?: Clock;
}

export class HostReconciler implements Reconciler {
  private readonly client: ResourceClient<Host>;
  private readonly connections: HostConnections;
  private readonly events: EventRecorder;
  private readonly opts: Required<Omit<HostReconcilerOptions, 'clock'>>;
  private readonly clock: Clock;
  /** The last version seen of each Host, to release its connections once it is gone. */
  private readonly seen = new Map<string, Host>();
  private readonly failures = new Map<string, number>();

  constructor(deps: { client: ResourceClient<Host>; connections: HostConnections; events: EventRecorder }, opts: HostReconcilerOptions = {}) {
    this.client = deps.client;
    this.connections = deps.connections;
    this.events = deps.events;
    this.clock = opts.clock ?? realClock;
    this.opts = {
      probeIntervalMs: opts.probeIntervalMs ?? 60_000,
      retryInitialMs: opts.retryInitialMs ?? 2_000,
      probeRecordIntervalMs: opts.probeRecordIntervalMs ?? 600_000,
    };
  }

  async reconcile(req: ObjectKey, ctx: ReconcileContext): Promise<Result> {
    const key = objectKeyString(req);
    let host: Host;
    try {
      host = await this.client.get(req, ctx.signal);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.forget(key);
      return {};
    }
    const previous = this.seen.get(key);
    if (previous && previous.metadata.uid !== host.metadata.uid) this.connections.release(previous);
    this.seen.set(key, host);

    const parsed = validateSpec(hostKind, host.spec);
    if (!parsed.ok) {
      const err = new TerminalError(ErrorCodes.InvalidSpec, describeFieldErrors(parsed.errors), { field: parsed.errors[0]?.path });
      await this.reportFailure(host, err, ctx);
      throw err;
    }
    host = { ...host, spec: parsed.value as Host['spec'] };

    let probe;
    try {
      probe = await probeHost(this.connections, host, ctx.signal);
    } catch (caught) {
      if (ctx.signal.aborted) throw caught;
      // A malformed setting is the user's to fix: no retries until the Host changes.
      const err = errorCode(caught) === ErrorCodes.InvalidSpec && !(caught instanceof TerminalError)
        ? new TerminalError(ErrorCodes.InvalidSpec, errorMessage(caught), { cause: caught })
        : caught;
      await this.reportFailure(host, err, ctx);
      throw err;
    }

    const now = new Date(this.clock.now());
    const shape = { ssh: Boolean(host.spec.ssh), docker: Boolean(host.spec.docker), nginx: Boolean(host.spec.nginx) };
    const status = hostStatus(host.status, probe, shape, { now, generation: host.metadata.generation, probeRecordIntervalMs: this.opts.probeRecordIntervalMs });
    this.announce(host, status);
    const ready = status.conditions?.find((c) => c.type === 'Ready');
    ctx.log.debug({ host: key, reachable: status.reachable, ready: ready?.status, reason: ready?.reason, message: ready?.message }, 'host probed');
    await updateStatus(this.client, host, status, ctx.signal);

    if (probe.problems.length === 0) {
      this.failures.delete(key);
      return { requeueAfterMs: this.opts.probeIntervalMs };
    }
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    return { requeueAfterMs: Math.min(this.opts.retryInitialMs * 2 ** (failures - 1), this.opts.probeIntervalMs) };
  }

  /** An event when the Ready condition changes reason (not on every probe). */
  private announce(host: Host, next: HostStatus): void {
    const before = host.status?.conditions?.find((c) => c.type === 'Ready');
    const after = next.conditions?.find((c) => c.type === 'Ready');
    if (!after || (before?.status === after.status && before.reason === after.reason)) return;
    if (after.status === 'True') this.events.event(host, 'Normal', 'Reachable', after.message ?? 'The host is reachable');
    else this.events.event(host, 'Warning', after.reason ?? 'Unreachable', after.message ?? 'The host is not ready');
  }

  /** Records a failure that stopped the probe itself (invalid spec, missing Secret). */
  private async reportFailure(host: Host, err: unknown, ctx: ReconcileContext): Promise<void> {
    const reason = String(errorCode(err));
    const message = stableMessage(errorMessage(err));
    const inputs = err instanceof TerminalError || reason === ErrorCodes.InvalidSpec ? stalledConditions(reason, message) : errorConditions(reason, message);
    const status: HostStatus = {
      ...(host.status ?? {}),
      observedGeneration: host.metadata.generation,
      conditions: setConditions(host.status?.conditions as Condition[] | undefined, inputs, host.metadata.generation, new Date(this.clock.now())),
    };
    if (semanticEqual(status, host.status ?? {})) return;
    this.events.event(host, 'Warning', reason, message);
    try {
      await updateStatus(this.client, host, status, ctx.signal);
    } catch (statusErr) {
      ctx.log.debug({ err: errorMessage(statusErr) }, 'could not record the failure in status');
    }
  }

  private forget(key: string): void {
    const last = this.seen.get(key);
    if (last) this.connections.release(last);
    this.seen.delete(key);
    this.failures.delete(key);
  }
}
