// The managed-resource reconcile, composed from the kit's small steps (each in its own module):
//   load (cache or GET) -> finalizer branch (finalizer.ts)
//     apply:   parse the spec (defaults applied) -> ensure finalizer -> connect -> observe
//              -> create (create-pending guard) or update -> the client's explicit steps
//              -> observe again -> write status (status.ts; no write when unchanged) -> poll later
//     cleanup: per deletionPolicy, connect for cleanup -> delete (gone already is success)
//              -> drop the finalizer; a referent gone for good completes with a Warning
//   any failure -> classify (failure.ts) -> report (report.ts) -> outcome for the queue
// A kind fills in ManagedKind: its schema, how to connect to its ExternalClient, and how an
// observation maps to status. Everything else is here, once.
import type { z } from 'zod';
import {
  isDeleting, isNotFound, isTerminal, progressingConditions, readyConditions, realClock, TerminalError,
  type Clock, type ConditionInput, type EventRecorder, type KubeObject, type ObjectKey, type ReconcileContext, type ResourceClient, type Result,
} from '../../controller/index.ts';
import { clearCreatePending, createPendingSince, markCreatePending } from './create-guard.ts';
import { classifyFailure, type Failure } from './failure.ts';
import { ensureFinalizer, finalizerBranch, releaseFinalizer } from './finalizer.ts';
import { outriggerFinalizer } from './kinds.ts';
import { KitReasons } from './reasons.ts';
import { reportFailure } from './report.ts';
import { writeStatus, type ManagedStatus } from './status.ts';
import { WaitingForReferent } from './waiting.ts';

export type { ManagedStatus } from './status.ts';

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

/** A named action after create/update that observe found due (a bootstrap, an idle stop). */
export interface ManagedStep<T, F> {
  name: string;
  /** Runs the step if the observation says it is due; true when it changed something (observe again). */
  run(obj: T, observation: Observation<F>, signal: AbortSignal): Promise<boolean>;
}

export interface ExternalClient<T, F = Record<string, unknown>> {
  /** Reads the external world; must not change anything outside the process. */
  observe(obj: T, signal: AbortSignal): Promise<Observation<F>>;
  create(obj: T, signal: AbortSignal): Promise<void>;
  update(obj: T, observation: Observation<F>, signal: AbortSignal): Promise<void>;
  /** Removes the external object; one that is gone already is success. */
  delete(obj: T, signal: AbortSignal): Promise<void>;
  /** Explicit steps run in order after create/update (observe decides nothing by running them). */
  steps?: ManagedStep<T, F>[];
  /** For the create-pending guard: what to remember before create (e.g. the id about to be used). */
  pendingHint?(obj: T): string | undefined;
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
  /** The client deletion uses (it may need less than connect, e.g. no Secret); default connect. */
  connectForCleanup?(obj: T, ctx: ReconcileContext): Promise<ExternalClient<T, F>>;
  /** Kind-specific status fields from an observation (conditions and observedGeneration are added). */
  statusFields?(obj: T, observation: Observation<F>): Record<string, unknown>;
  /** The Ready/Synced/Reconciling/Stalled set, when the kind decides it itself (default from `ready`). */
  conditions?(obj: T, observation: Observation<F>): ConditionInput[];
  /** Kind-specific conditions beyond Ready/Synced/Reconciling/Stalled. */
  extraConditions?(obj: T, observation: Observation<F>): ConditionInput[];
  /** Events after the status write, for changes a user should hear of (e.g. Ready flipped). */
  announce?(before: T, observation: Observation<F>): void;
  /** Status fields to show with a failure (e.g. phase). */
  failureFields?(obj: T, failure: Failure): Record<string, unknown>;
  /** How soon to look at the external object again. */
  pollIntervalMs(obj: T, ready: boolean, observation: Observation<F>): number;
  deletionPolicy(obj: T): 'Delete' | 'Orphan';
  /** The kind's finalizer; false when it owns nothing outside Kubernetes (default outrigger.dev/cleanup). */
  finalizer?: string | false;
  /**
   * `marker` (default) writes the create-pending annotation around create; `owner-label` skips it
   * for clients whose observe finds objects by an owner label set atomically by the create itself.
   */
  createGuard?: 'marker' | 'owner-label';
  /** Requeue of an object waiting for a referent (its watch normally brings it back sooner). */
  waitRequeueMs?: number;
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

const DEFAULT_WAIT_REQUEUE_MS = 5 * 60_000;

export async function reconcileManaged<T extends ManagedObject, F>(kind: ManagedKind<T, F>, req: ObjectKey, ctx: ReconcileContext): Promise<Result> {
  const obj = await load(kind, req, ctx);
  if (!obj) return {};
  const finalizer = kind.finalizer === undefined ? outriggerFinalizer : kind.finalizer;
  // The newest stored copy (each patch returns one), so a failure's status write does not conflict.
  const latest: Latest<T> = { obj };
  try {
    if (!finalizer) return isDeleting(obj) ? {} : await apply(kind, latest, finalizer, ctx);
    switch (finalizerBranch(obj, finalizer)) {
      case 'done':
        return {};
      case 'cleanup':
        await cleanup(kind, obj, ctx);
        await releaseFinalizer(kind.client, obj, finalizer, ctx.signal);
        return {};
      case 'apply':
        return await apply(kind, latest, finalizer, ctx);
    }
  } catch (err) {
    const failure = classifyFailure(err, ctx.signal);
    await reportFailure({ client: kind.client, clock: clockOf(kind), events: kind.events, failureFields: kind.failureFields }, latest.obj, failure, ctx);
    if (failure.kind === 'waiting') return { requeueAfterMs: kind.waitRequeueMs ?? DEFAULT_WAIT_REQUEUE_MS };
    // A stale copy (cached read, concurrent writer): again on fresh data, not logged as a failure.
    if (failure.kind === 'conflict') return { requeue: true };
    if (failure.kind === 'terminal' && !isTerminal(err)) throw new TerminalError(failure.reason, failure.message, { cause: err });
    throw err;
  }
}

const clockOf = (kind: { clock?: Clock }): Clock => kind.clock ?? realClock;

/** Load: from the kind's cache when it has one, otherwise a GET; undefined when gone. */
export async function load<T extends KubeObject>(kind: { client: ResourceClient<T>; read?(key: ObjectKey): T | undefined }, req: ObjectKey, ctx: ReconcileContext): Promise<T | undefined> {
  if (kind.read) return kind.read(req);
  try {
    return await kind.client.get(req, ctx.signal);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Parse: the kind's schema again, defaults applied (an older CRD or the embedded API may not have). */
export function parseSpec<T extends ManagedObject>(schema: z.ZodType, obj: T): T {
  const spec = schema.safeParse(obj.spec);
  if (!spec.success) throw new TerminalError(KitReasons.InvalidSpec, describeSpecIssues(spec.error));
  return { ...obj, spec: spec.data };
}

interface Latest<T> { obj: T }

async function apply<T extends ManagedObject, F>(kind: ManagedKind<T, F>, latest: Latest<T>, finalizer: string | false, ctx: ReconcileContext): Promise<Result> {
  let obj = parseSpec(kind.specSchema, latest.obj);
  latest.obj = obj;
  if (finalizer) latest.obj = obj = { ...(await ensureFinalizer(kind.client, obj, finalizer, ctx.signal)), spec: obj.spec };
  const external = await kind.connect(obj, ctx);
  const observation = await sync(kind, external, latest, ctx);
  obj = latest.obj;
  const ready = Boolean(observation.exists && observation.upToDate && (observation.ready ?? true));
  const base = kind.conditions?.(obj, observation) ?? (ready
    ? readyConditions()
    : progressingConditions(observation.notReadyReason ?? KitReasons.Creating, observation.notReadyMessage ?? 'Waiting for the external resource to become ready'));
  await writeStatus({ client: kind.client, clock: clockOf(kind) }, obj, { ...kind.statusFields?.(obj, observation) }, [...base, ...(kind.extraConditions?.(obj, observation) ?? [])], ctx);
  kind.announce?.(obj, observation);
  return { requeueAfterMs: kind.pollIntervalMs(obj, ready, observation) };
}

/** Observe, then create or update when needed, then the client's steps; returns the last observation. */
async function sync<T extends ManagedObject, F>(kind: ManagedKind<T, F>, external: ExternalClient<T, F>, latest: Latest<T>, ctx: ReconcileContext): Promise<Observation<F>> {
  let obj = latest.obj;
  let observation = await external.observe(obj, ctx.signal);
  const guarded = (kind.createGuard ?? 'marker') === 'marker';
  const pending = createPendingSince(obj);
  if (!observation.exists) {
    if (guarded && pending) {
      throw new TerminalError(KitReasons.CreatePending,
        `a create started at ${pending.split(';')[0]} but its outcome is unknown (the controller stopped mid-create) and nothing of it can be found; ` +
        `check the external system for an object of this resource, then remove the annotation outrigger.dev/create-pending to let Outrigger create it`);
    }
    if (guarded) latest.obj = obj = { ...(await markCreatePending(kind.client, obj, new Date(clockOf(kind).now()), external.pendingHint?.(obj), ctx.signal)), spec: obj.spec };
    try {
      await external.create(obj, ctx.signal);
    } catch (err) {
      // A refusal is definite: nothing was made, so a later create is safe. An unknown outcome keeps the marker.
      if (guarded && !isOutcomeUnknown(err)) latest.obj = obj = await clearCreatePending(kind.client, obj, ctx.signal);
      throw err;
    }
    if (guarded) latest.obj = obj = await clearCreatePending(kind.client, obj, ctx.signal);
    kind.events.event(obj, 'Normal', KitReasons.Created, 'Created the external resource');
    observation = await external.observe(obj, ctx.signal);
  } else {
    if (guarded && pending) latest.obj = obj = await clearCreatePending(kind.client, obj, ctx.signal); // found: the create took effect
    if (!observation.upToDate) {
      await external.update(obj, observation, ctx.signal);
      kind.events.event(obj, 'Normal', KitReasons.Updated, `Brought the external resource in line with the spec${observation.diff ? `: ${observation.diff}` : ''}`);
      observation = await external.observe(obj, ctx.signal);
    }
  }
  for (const step of external.steps ?? []) {
    if (await step.run(obj, observation, ctx.signal)) observation = await external.observe(obj, ctx.signal);
  }
  return observation;
}

/** Errors whose request may or may not have taken effect (a timeout after sending) say so. */
export function isOutcomeUnknown(err: unknown): boolean {
  return Boolean((err as { outcomeUnknown?: boolean } | undefined)?.outcomeUnknown);
}

async function cleanup<T extends ManagedObject, F>(kind: ManagedKind<T, F>, obj: T, ctx: ReconcileContext): Promise<void> {
  // The spec as the schema reads it when it can; deletion must not need a valid spec.
  const parsed = kind.specSchema.safeParse(obj.spec);
  const target = parsed.success ? { ...obj, spec: parsed.data } : obj;
  if (kind.deletionPolicy(target) === 'Orphan') {
    kind.events.event(obj, 'Normal', KitReasons.Orphaned, 'deletionPolicy is Orphan: left the external resource in place');
    return;
  }
  let external: ExternalClient<T, F>;
  try {
    external = await (kind.connectForCleanup ?? kind.connect)(target, ctx);
  } catch (err) {
    if (!(err instanceof WaitingForReferent)) throw err;
    // What this object names is gone for good (deleted, its protection removed by hand): waiting
    // would block the deletion forever, so it completes and says what may remain.
    kind.events.event(obj, 'Warning', KitReasons.ReferenceGone, `${err.message}; deleting without cleaning up: what it made there, if anything, may remain`);
    return;
  }
  await external.delete(target, ctx.signal);
  kind.events.event(obj, 'Normal', KitReasons.Deleted, 'Deleted the external resource');
}
