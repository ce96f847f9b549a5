// The garbage collector for ownerReferences, as kube-controller-manager runs it:
// - background: a dependent whose owners are all gone is deleted; a reference to a gone owner is
//   dropped when other owners remain;
// - orphan: an owner deleted with propagationPolicy=Orphan first has its dependents' references
//   to it removed, then its "orphan" finalizer;
// - foreground: an owner deleted with propagationPolicy=Foreground has its dependents deleted and
//   keeps its "foregroundDeletion" finalizer until none is left.
import type { Change } from '../storage/history.ts';
import type { KubeObject } from '../storage/store.ts';
import type { ResourceType } from '../kinds/types.ts';
import { ApiError } from '../api/errors.ts';
import { WorkQueue } from './queue.ts';
import { controllerWriteOptions, type Controller, type ControllerContext } from './context.ts';

type Obj = Record<string, unknown>;
interface Ref {
  resource: string;
  key: string;
}
const refKey = (r: Ref) => `${r.resource}\u0000${r.key}`;
const parseRef = (s: string): Ref => {
  const [resource = '', key = ''] = s.split('\u0000');
  return { resource, key };
};

function ownerUids(obj: KubeObject | undefined): string[] {
  const refs = ((obj?.metadata as Obj | undefined)?.ownerReferences as Obj[] | undefined) ?? [];
  return refs.map((r) => String(r.uid ?? '')).filter(Boolean);
}

export function garbageCollector(ctx: ControllerContext): Controller {
  const { store, registry, service } = ctx;
  const byUid = new Map<string, Ref>();
  const dependents = new Map<string, Set<string>>();
  let unsubscribe = () => {};

  const typeFor = (resource: string): ResourceType | undefined => registry.storageTypes().find((t) => t.storageResource === resource);
  const load = (r: Ref) => store.get(r.resource, r.key);
  const exists = (uid: string) => byUid.has(uid);

  const index = (resource: string, key: string, obj: KubeObject | undefined, prev: KubeObject | undefined): void => {
    const ref = { resource, key };
    const prevUid = (prev?.metadata as Obj | undefined)?.uid as string | undefined;
    if (prevUid && (!obj || (obj.metadata as Obj).uid !== prevUid)) byUid.delete(prevUid);
    for (const u of ownerUids(prev)) dependents.get(u)?.delete(refKey(ref));
    if (!obj) return;
    const uid = (obj.metadata as Obj).uid as string | undefined;
    if (uid) byUid.set(uid, ref);
    for (const u of ownerUids(obj)) {
      if (!dependents.has(u)) dependents.set(u, new Set());
      dependents.get(u)!.add(refKey(ref));
    }
  };

  const deleteObject = async (r: Ref, policy?: string): Promise<void> => {
    const rt = typeFor(r.resource);
    const obj = load(r);
    if (!rt || !obj || (obj.metadata as Obj).deletionTimestamp) return;
    const m = obj.metadata as Obj;
    try {
      await service.delete(
        { rt, namespace: String(m.namespace ?? ''), name: String(m.name) },
        { preconditions: { uid: String(m.uid) }, ...(policy ? { propagationPolicy: policy } : {}) },
        controllerWriteOptions(),
      );
    } catch (err) {
      if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) throw err;
    }
  };

  const writeMeta = async (r: Ref, change: (meta: Obj) => void): Promise<void> => {
    const rt = typeFor(r.resource);
    const obj = load(r);
    if (!rt || !obj) return;
    const view = service.fromStorage(rt, obj);
    const meta = structuredClone(view.metadata as Obj);
    change(meta);
    try {
      await service.update({ rt, namespace: String(meta.namespace ?? ''), name: String(meta.name) }, { ...view, metadata: meta }, controllerWriteOptions());
    } catch (err) {
      if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) throw err;
    }
  };

  /** A dependent: delete it if every owner is gone, drop references to the gone ones otherwise. */
  const attemptDependent = async (r: Ref): Promise<void> => {
    const obj = load(r);
    if (!obj) return;
    const uids = ownerUids(obj);
    if (!uids.length) return;
    const gone = uids.filter((u) => !exists(u));
    const foregroundOwner = uids.some((u) => {
      const owner = byUid.get(u) && load(byUid.get(u)!);
      const m = owner?.metadata as Obj | undefined;
      return !!m?.deletionTimestamp && ((m.finalizers as string[] | undefined) ?? []).includes('foregroundDeletion');
    });
    if (gone.length === uids.length || (foregroundOwner && uids.every((u) => !exists(u) || isForegroundDeleting(u)))) {
      await deleteObject(r, foregroundOwner ? 'Foreground' : undefined);
    } else if (gone.length) {
      await writeMeta(r, (m) => {
        m.ownerReferences = ((m.ownerReferences as Obj[]) ?? []).filter((o) => !gone.includes(String(o.uid)));
      });
    }
  };

  const isForegroundDeleting = (uid: string): boolean => {
    const owner = byUid.get(uid) && load(byUid.get(uid)!);
    const m = owner?.metadata as Obj | undefined;
    return !!m?.deletionTimestamp && ((m.finalizers as string[] | undefined) ?? []).includes('foregroundDeletion');
  };

  /** An owner being deleted with the orphan or foregroundDeletion finalizer. */
  const attemptOwner = async (r: Ref): Promise<void> => {
    const obj = load(r);
    if (!obj) return;
    const m = obj.metadata as Obj;
    if (!m.deletionTimestamp) return;
    const uid = String(m.uid);
    const finalizers = (m.finalizers as string[] | undefined) ?? [];
    const deps = [...(dependents.get(uid) ?? [])].map(parseRef);
    if (finalizers.includes('orphan')) {
      for (const d of deps) {
        await writeMeta(d, (dm) => {
          dm.ownerReferences = ((dm.ownerReferences as Obj[]) ?? []).filter((o) => String(o.uid) !== uid);
          if (!(dm.ownerReferences as Obj[]).length) delete dm.ownerReferences;
        });
      }
      await writeMeta(r, (mm) => {
        mm.finalizers = ((mm.finalizers as string[]) ?? []).filter((f) => f !== 'orphan');
      });
      return;
    }
    if (finalizers.includes('foregroundDeletion')) {
      for (const d of deps) await deleteObject(d, 'Foreground');
      const blocking = deps.filter((d) => {
        const dep = load(d);
        return !!dep && (((dep.metadata as Obj).ownerReferences as Obj[] | undefined) ?? []).some((o) => String(o.uid) === uid && o.blockOwnerDeletion === true);
      });
      if (blocking.length) {
        queue.addAfter(`owner:${refKey(r)}`, 200);
        return;
      }
      await writeMeta(r, (mm) => {
        mm.finalizers = ((mm.finalizers as string[]) ?? []).filter((f) => f !== 'foregroundDeletion');
      });
    }
  };

  const queue = new WorkQueue(
    async (key) => {
      if (key.startsWith('dep:')) await attemptDependent(parseRef(key.slice(4)));
      else if (key.startsWith('owner:')) await attemptOwner(parseRef(key.slice(6)));
    },
    (key, err) => ctx.warn(`garbage collection of ${key} failed: ${(err as Error).message}`),
  );

  const onChanges = (changes: Change[]): void => {
    for (const c of changes) {
      const after = c.type === 'DELETED' ? undefined : c.object;
      index(c.resource, c.key, after, c.prev);
      const ref = { resource: c.resource, key: c.key };
      if (c.type === 'DELETED') {
        const uid = (c.prev?.metadata as Obj | undefined)?.uid as string | undefined;
        if (uid) {
          for (const d of dependents.get(uid) ?? []) queue.add(`dep:${d}`);
          // Dependents whose owner turned out to be a foreground-deleting parent may now be free too.
          for (const u of ownerUids(c.prev)) if (isForegroundDeleting(u)) queue.add(`owner:${refKey(byUid.get(u)!)}`);
        }
        continue;
      }
      const m = c.object.metadata as Obj;
      if (m.deletionTimestamp) {
        const f = (m.finalizers as string[] | undefined) ?? [];
        if (f.includes('orphan') || f.includes('foregroundDeletion')) queue.add(`owner:${refKey(ref)}`);
        for (const d of dependents.get(String(m.uid)) ?? []) if (f.includes('foregroundDeletion')) queue.add(`dep:${d}`);
      }
      if (ownerUids(c.object).some((u) => !exists(u))) queue.add(`dep:${refKey(ref)}`);
    }
  };

  return {
    start() {
      for (const rt of registry.storageTypes()) for (const [k, o] of store.entries(rt.storageResource)) index(rt.storageResource, k, o, undefined);
      for (const rt of registry.storageTypes()) {
        for (const [k, o] of store.entries(rt.storageResource)) {
          if (ownerUids(o).some((u) => !exists(u))) queue.add(`dep:${refKey({ resource: rt.storageResource, key: k })}`);
          const m = o.metadata as Obj;
          const f = (m.finalizers as string[] | undefined) ?? [];
          if (m.deletionTimestamp && (f.includes('orphan') || f.includes('foregroundDeletion'))) queue.add(`owner:${refKey({ resource: rt.storageResource, key: k })}`);
        }
      }
      unsubscribe = store.subscribe(onChanges);
    },
    stop() {
      unsubscribe();
      queue.stop();
    },
    idle: () => queue.idle(),
  };
}
