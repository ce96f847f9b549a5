// In-use protection for referents, after Kubernetes' pvc-protection and Crossplane's in-use
// finalizer: a Host, ProxmoxCluster or Secret that an object's cleanup needs carries the finalizer
// outrigger.dev/in-use while anything names it. Deleting it then waits, with an event (and, for
// kinds with status, a Ready=False InUse condition) naming the first users and their count, and
// completes by itself once the last one is gone. So deletion in any order (a namespace included)
// finishes, and dependants are always cleaned up through a referent that still exists.
// Holders beyond the index (a host's nginx still serving routes of deleted ProxyRoutes) are asked
// through `holders`.
import {
  hasFinalizer, isDeleting, parseObjectKey, type Controller, type EventRecorder, type Informer, type KubeObject, type Manager, type ObjectKey,
  type ReconcileContext, type Reconciler, type ResourceClient, type Result,
} from '../../controller/index.ts';
import { ensureFinalizer, releaseFinalizer } from './finalizer.ts';
import { KitReasons } from './reasons.ts';
import { type ReferenceIndex } from './references.ts';
import { writeStatus, kindFields, type ManagedStatus } from './status.ts';

export const IN_USE_FINALIZER = 'outrigger.dev/in-use';
/** How many users a message names before it says "and N more". */
const NAMED_USERS = 10;

export interface ProtectedKind {
  kind: string;
  informer: Informer<KubeObject>;
  client: ResourceClient<KubeObject & { status?: ManagedStatus }>;
  /** Whether the kind has a status to show the wait in (Secrets do not). */
  hasStatus: boolean;
}

/** Who else still needs a referent, by name ("ProxyRoute team-a/docs (still served)"). */
export type Holders = (kind: string, namespace: string, name: string) => string[];

export interface InUseDeps {
  index: ReferenceIndex;
  events: EventRecorder;
  clock: Manager['clock'];
  holders?: Holders[];
}

/** The users of a referent that protect it: declared dependants plus other holders. */
export function usersOf(deps: Pick<InUseDeps, 'index' | 'holders'>, kind: string, namespace: string, name: string): string[] {
  const declared = deps.index
    .dependants(kind, namespace, name)
    .filter((d) => d.protects)
    .map((d) => `${d.kind} ${d.key.name}`);
  const extra = (deps.holders ?? []).flatMap((h) => h(kind, namespace, name));
  return [...new Set([...declared, ...extra])];
}

export function describeUsers(users: string[]): string {
  const named = users.slice(0, NAMED_USERS).join(', ');
  return users.length > NAMED_USERS ? `${named} and ${users.length - NAMED_USERS} more` : named;
}

export class InUseProtection implements Reconciler {
  private readonly target: ProtectedKind;
  private readonly deps: InUseDeps;

  constructor(target: ProtectedKind, deps: InUseDeps) {
    this.target = target;
    this.deps = deps;
  }

  async reconcile(req: ObjectKey, ctx: ReconcileContext): Promise<Result> {
    const obj = this.target.informer.get(`${req.namespace ?? ''}/${req.name}`) as (KubeObject & { status?: ManagedStatus }) | undefined;
    if (!obj) return {};
    const users = usersOf(this.deps, this.target.kind, obj.metadata.namespace ?? '', obj.metadata.name ?? '');
    const held = hasFinalizer(obj, IN_USE_FINALIZER);
    if (users.length === 0) {
      if (held) {
        await releaseFinalizer(this.target.client, obj, IN_USE_FINALIZER, ctx.signal);
        if (isDeleting(obj)) this.deps.events.event(obj, 'Normal', KitReasons.NotInUse, `Nothing uses this ${this.target.kind} any more: its deletion goes ahead`);
      }
      return {};
    }
    if (!isDeleting(obj)) {
      if (!held) await ensureFinalizer(this.target.client, obj, IN_USE_FINALIZER, ctx.signal);
      return {};
    }
    if (!held) return {}; // deleting without our finalizer (added by nobody, or removed by hand): nothing to hold
    const message = `Deletion waits until nothing uses this ${this.target.kind}: still used by ${describeUsers(users)} (${users.length} in all); delete them first, or wait for their cleanup`;
    if (this.target.hasStatus) {
      await writeStatus({ client: this.target.client, clock: this.deps.clock }, obj, kindFields(obj), [
        { type: 'Ready', status: 'False', reason: KitReasons.InUse, message },
        { type: 'Reconciling', status: 'True', reason: KitReasons.InUse, message: 'Waiting for its users to go' },
      ], ctx);
    }
    // The same words while the same users remain: the recorder folds repeats into one series.
    this.deps.events.event(obj, 'Normal', KitReasons.InUse, message);
    return {};
  }
}

/**
 * Adds the protection controller for one referent kind. It waits for every tracked kind's cache
 * before deciding anything (an unsynced cache would look like "no users"), and is woken by the
 * index whenever a referent's users change.
 */
export function protectReferents(manager: Manager, target: ProtectedKind, deps: InUseDeps): Controller<KubeObject> {
  const controller = manager.addController<KubeObject>({
    name: `${target.kind.toLowerCase()}-in-use`,
    informer: target.informer,
    reconciler: new InUseProtection(target, deps),
    workers: 2,
    // Finalizers and deletion matter, not status churn.
    predicate: (oldObj, newObj) =>
      Boolean(oldObj.metadata.deletionTimestamp) !== Boolean(newObj.metadata.deletionTimestamp) ||
      hasFinalizer(oldObj, IN_USE_FINALIZER) !== hasFinalizer(newObj, IN_USE_FINALIZER),
    syncBefore: deps.index.informers(),
  });
  const prefix = `${target.kind}/`;
  deps.index.onChange((ids) => {
    for (const id of ids) if (id.startsWith(prefix)) controller.enqueue(parseObjectKey(id.slice(prefix.length)));
  });
  return controller;
}

/** For holders outside the index: ask protection to look at a referent again. */
export function recheckReferent(controller: Controller<KubeObject> | undefined, namespace: string | undefined, name: string): void {
  controller?.enqueue({ namespace, name });
}


