// The managed-resource reconciler, in the manner of crossplane-runtime's, split into named steps:
//   load -> (deleting? clean up external objects per deletionPolicy, drop finalizer)
//        -> validate the spec again -> ensure finalizer -> connect -> observe
//        -> create or update when needed -> observe again -> write status -> poll later.
// Kinds supply an ExternalClient per object; observe never mutates, create/update/delete are
// idempotent, and delete of something already gone is success.
import type { z } from 'zod';
import {
  addFinalizer, errorCode, errorConditions, errorMessage, hasFinalizer, isConflict, isDeleting, isNotFound, isTerminal,
  progressingConditions, readyConditions, removeFinalizer, setConditions, stalledConditions, TerminalError, ErrorCodes,
  updateStatus, realClock,
  type Clock, type Condition, type ConditionInput, type EventRecorder, type KubeObject, type ObjectKey, type ReconcileContext, type ResourceClient, type Result,
} from '../../controller/index.ts';
import { outriggerFinalizer } from './kinds.ts';

export interface Observation<F = Record<string, unknown>> {
  /** The external object exists. */
  exists: boolean;
  /** It matches the spec; when false, `diff` says how it differs. */
  upToDate: boolean;
  diff?: string;
  /** It is usable (running, serving); when false, `notReadyReason`/`notReadyMessage` say why. */
  ready?: boolean;
  notReadyReason?: string;
  notReadyMessage?: string;
  /** Kind-specific facts for status. */
  facts?: F;
}

export interface ExternalClient<T, F = Record<string, unknown>> {
  observe(obj: T, signal: AbortSignal): Promise<Observation<F>>;
  create(obj: T, signal: AbortSignal): Promise<void>;
  update(obj: T, observation: Observation<F>, signal: AbortSignal): Promise<void>;
  delete(obj: T, signal: AbortSignal): Promise<void>;
}

export interface ManagedStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  [field: string]: unknown;
}

export interface ManagedObject<S = any> extends KubeObject {
  spec: S;
  status?: ManagedStatus;
}

export interface ManagedKind<T extends ManagedObject, F> {
  client: ResourceClient<T>;
  specSchema: z.ZodType;
  events: EventRecorder;
  connect(obj: T, ctx: ReconcileContext): Promise<ExternalClient<T, F>>;
  /** Kind-specific status fields from an observation (conditions and observedGeneration are added). */
  statusFields?(obj: T, observation: Observation<F>): Record<string, unknown>;
  /** Kind-specific conditions beyond Ready/Synced/Reconciling/Stalled. */
  extraConditions?(obj: T, observation: Observation<F>): ConditionInput[];
  /** How soon to look at the external object again. */
  pollIntervalMs(obj: T, ready: boolean): number;
  deletionPolicy(obj: T): 'Delete' | 'Orphan';
  finalizer?: string;
  clock?: Clock;
  /**
   * Reads the object from a cache (the kind's informer) instead of a GET per reconcile; undefined
   * means not found. A stale read costs at most a conflict on the next write, which is retried.
   */
  read?(key: ObjectKey): T | undefined;
}

/** Renders a zod error as "spec.a.b: message; spec.c: message". */
export function describeSpecIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${['spec', ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
}

export async function reconcileManaged<T extends ManagedObject, F>(kind: ManagedKind<T, F>, req: ObjectKey, ctx: ReconcileContext): Promise<Result> {
  const finalizer = kind.finalizer ?? outriggerFinalizer;
  const clock = kind.clock ?? realClock;
  let obj: T;
  if (kind.read) {
    const cached = kind.read(req);
    if (!cached) return {};
    obj = cached;
  } else {
    try {
      obj = await kind.client.get(req, ctx.signal);
    } catch (err) {
      if (isNotFound(err)) return {};
      throw err;
    }
  }

  if (isDeleting(obj)) return finalize(kind, obj, finalizer, ctx);

  try {
    const spec = kind.specSchema.safeParse(obj.spec);
    if (!spec.success) throw new TerminalError(ErrorCodes.InvalidSpec, describeSpecIssues(spec.error));
    // Defaults the API server may not have applied (an older CRD, the embedded server) apply here.
    obj = { ...obj, spec: spec.data };
    if (!hasFinalizer(obj, finalizer)) obj = { ...(await addFinalizer(kind.client, obj, finalizer, ctx.signal)), spec: obj.spec };

    const external = await kind.connect(obj, ctx);
    let observation = await external.observe(obj, ctx.signal);
    if (!observation.exists) {
      await external.create(obj, ctx.signal);
      kind.events.event(obj, 'Normal', 'Created', 'Created the external resource');
      observation = await external.observe(obj, ctx.signal);
    } else if (!observation.upToDate) {
      await external.update(obj, observation, ctx.signal);
      kind.events.event(obj, 'Normal', 'Updated', `Brought the external resource in line with the spec${observation.diff ? `: ${observation.diff}` : ''}`);
      observation = await external.observe(obj, ctx.signal);
    }

    const ready = Boolean(observation.exists && observation.upToDate && (observation.ready ?? true));
    const base = ready
      ? readyConditions()
      : progressingConditions(observation.notReadyReason ?? 'Progressing', observation.notReadyMessage ?? 'Waiting for the external resource to become ready');
    await writeStatus(kind, obj, { ...kind.statusFields?.(obj, observation) }, [...base, ...(kind.extraConditions?.(obj, observation) ?? [])], clock, ctx.signal);
    return { requeueAfterMs: kind.pollIntervalMs(obj, ready) };
  } catch (err) {
    // A conflict means our copy was stale (a cached read, a concurrent writer): retry on fresh
    // data, without a failure in status or a Warning event for what is routine.
    if (!isConflict(err)) await reportFailure(kind, obj, err, clock, ctx);
    throw err;
  }
}

async function finalize<T extends ManagedObject, F>(kind: ManagedKind<T, F>, obj: T, finalizer: string, ctx: ReconcileContext): Promise<Result> {
  if (!hasFinalizer(obj, finalizer)) return {};
  if (kind.deletionPolicy(obj) === 'Delete') {
    try {
      const external = await kind.connect(obj, ctx);
      await external.delete(obj, ctx.signal);
      kind.events.event(obj, 'Normal', 'Deleted', 'Deleted the external resource');
    } catch (err) {
      await reportFailure(kind, obj, err, kind.clock ?? realClock, ctx);
      throw err;
    }
  } else {
    kind.events.event(obj, 'Normal', 'Orphaned', 'deletionPolicy is Orphan: left the external resource in place');
  }
  await removeFinalizer(kind.client, obj, finalizer, ctx.signal);
  return {};
}

/** Records a failure in status (Synced=False with the error's code) without losing other status fields. */
async function reportFailure<T extends ManagedObject, F>(kind: ManagedKind<T, F>, obj: T, err: unknown, clock: Clock, ctx: ReconcileContext): Promise<void> {
  const reason = String(errorCode(err));
  const message = errorMessage(err);
  const conditions = isTerminal(err) ? stalledConditions(reason, message) : errorConditions(reason, message);
  const previous = { ...(obj.status ?? {}) };
  delete previous.conditions;
  delete previous.observedGeneration;
  try {
    await writeStatus(kind, obj, previous, conditions, clock, ctx.signal);
  } catch (statusErr) {
    ctx.log.debug({ err: errorMessage(statusErr) }, 'could not record the failure in status');
  }
  if (!obj.status?.conditions?.some((c) => c.type === 'Synced' && c.status === 'False' && c.reason === reason)) {
    kind.events.event(obj, 'Warning', reason, message);
  }
}

async function writeStatus<T extends ManagedObject, F>(kind: ManagedKind<T, F>, obj: T, fields: Record<string, unknown>, conditions: ConditionInput[], clock: Clock, signal: AbortSignal): Promise<void> {
  const generation = obj.metadata.generation;
  const status: ManagedStatus = {
    ...fields,
    observedGeneration: generation,
    conditions: setConditions(obj.status?.conditions, conditions, generation, new Date(clock.now())),
  };
  await updateStatus(kind.client, obj, status as T['status'], signal);
}
