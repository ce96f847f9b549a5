// The Host kind on the reconcile kit: its ExternalClient's observe is the probe (SSH, Docker,
// nginx), nothing is ever created or deleted (no finalizer: a Host owns nothing outside
// Kubernetes; its in-use protection is the kit's), and status comes from the probe. A Host that
// fails its probe is probed again sooner, doubling up to the normal interval.
import { realClock, type Clock, type EventRecorder, type ObjectKey, type ReconcileContext, type Reconciler, type ResourceClient, type Result } from '../../controller/index.ts';
import { hostSpecSchema, type Host, type HostStatus } from '../../crds/index.ts';
import { reconcileManaged, type ExternalClient, type ManagedKind, type ManagedStatus, type Observation } from '../common/managed.ts';
import type { HostConnections } from '../hosts.ts';
import { probeHost, type ProbeResult } from './probe.ts';
import { HostReasons } from './reasons.ts';
import { hostConditions, hostStatus } from './status.ts';

export interface HostReconcilerOptions {
  /** A Ready Host is probed again after this long (default 60 s). */
  probeIntervalMs?: number;
  /** First retry delay of a failing Host, doubled per failure up to probeIntervalMs (default 2 s). */
  retryInitialMs?: number;
  /** lastProbeTime is rewritten at least this often (default 10 min). */
  probeRecordIntervalMs?: number;
  clock?: Clock;
}

/** A Host as the kit handles it (its status read through the shared condition type). */
type HostObject = Omit<Host, 'status'> & { status?: ManagedStatus & Omit<HostStatus, 'conditions'> };
type Facts = { probe: ProbeResult };

const shapeOf = (host: HostObject) => ({ ssh: Boolean(host.spec.ssh), docker: Boolean(host.spec.docker), nginx: Boolean(host.spec.nginx) });

export class HostReconciler implements Reconciler {
  readonly kind: ManagedKind<HostObject, Facts>;
  /** Consecutive failed probes per Host uid, for the retry interval. */
  private readonly failures = new Map<string, number>();

  constructor(deps: { client: ResourceClient<Host>; connections: HostConnections; events: EventRecorder }, opts: HostReconcilerOptions = {}) {
    const clock = opts.clock ?? realClock;
    const probeIntervalMs = opts.probeIntervalMs ?? 60_000;
    const retryInitialMs = opts.retryInitialMs ?? 2_000;
    const probeRecordIntervalMs = opts.probeRecordIntervalMs ?? 600_000;
    const prober: ExternalClient<HostObject, Facts> = {
      observe: async (host, signal) => {
        const probe = await probeHost(deps.connections, host as Host, signal);
        return { exists: true, upToDate: true, ready: probe.problems.length === 0, facts: { probe } };
      },
      create: async () => {},
      update: async () => {},
      delete: async () => {},
    };
    this.kind = {
      client: deps.client as unknown as ResourceClient<HostObject>,
      specSchema: hostSpecSchema,
      events: deps.events,
      clock,
      finalizer: false,
      connect: async () => prober,
      conditions: (host, o: Observation<Facts>) => hostConditions(o.facts!.probe, shapeOf(host)),
      statusFields: (host, o) => {
        const { conditions: _c, observedGeneration: _g, ...fields } = hostStatus(host.status as HostStatus | undefined, o.facts!.probe, shapeOf(host), { now: new Date(clock.now()), generation: host.metadata.generation, probeRecordIntervalMs });
        return fields;
      },
      announce: (host, o) => announce(deps.events, host, o.facts!.probe, shapeOf(host)),
      pollIntervalMs: (host, ready) => {
        const uid = host.metadata.uid ?? '';
        if (ready) {
          this.failures.delete(uid);
          return probeIntervalMs;
        }
        const failures = (this.failures.get(uid) ?? 0) + 1;
        this.failures.set(uid, failures);
        return Math.min(retryInitialMs * 2 ** (failures - 1), probeIntervalMs);
      },
      deletionPolicy: () => 'Orphan',
    };
  }

  reconcile(req: ObjectKey, ctx: ReconcileContext): Promise<Result> {
    return reconcileManaged(this.kind, req, ctx);
  }
}

/** An event when the Ready condition changes reason (not on every probe). */
function announce(events: EventRecorder, host: HostObject, probe: ProbeResult, shape: ReturnType<typeof shapeOf>): void {
  const before = host.status?.conditions?.find((c) => c.type === 'Ready');
  const after = hostConditions(probe, shape).find((c) => c.type === 'Ready');
  if (!after || (before?.status === after.status && before.reason === after.reason)) return;
  if (after.status === 'True') events.event(host, 'Normal', HostReasons.Reachable, after.message || 'The host is reachable');
  else events.event(host, 'Warning', after.reason, after.message || 'The host is not ready');
}
