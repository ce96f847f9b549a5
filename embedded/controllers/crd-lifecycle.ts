// CustomResourceDefinitions at run time: serve what each stored CRD defines (the registry follows
// the store), and when a CRD is deleted, delete its custom resources first, then release the
// cleanup finalizer so the CRD itself goes.
import type { Change } from '../storage/history.ts';
import type { KubeObject } from '../storage/store.ts';
import { ApiError } from '../api/errors.ts';
import { CRD_CLEANUP_FINALIZER, crdStatus, crdType } from '../kinds/crd.ts';
import { WorkQueue } from './queue.ts';
import { controllerWriteOptions, type Controller, type ControllerContext } from './context.ts';

type Obj = Record<string, unknown>;
const CRDS = crdType.storageResource;

export function crdController(ctx: ControllerContext): Controller {
  const { store, registry, service } = ctx;
  const servedSpec = new Map<string, string>();
  let unsubscribe = () => {};

  const serve = (crd: KubeObject, rv?: number): void => {
    const name = String((crd.metadata as Obj).name);
    const spec = JSON.stringify(crd.spec);
    if (servedSpec.get(name) === spec) return;
    servedSpec.set(name, spec);
    registry.setCrd(crd);
    if (rv !== undefined) for (const t of registry.all()) if (t.crdName === name) registry.markServed(t.storageResource, rv);
  };

  const queue = new WorkQueue(
    async (name) => {
      const crd = store.get(CRDS, name);
      if (!crd) return;
      const meta = crd.metadata as Obj;
      if (!meta.deletionTimestamp) return;
      const finalizers = (meta.finalizers as string[] | undefined) ?? [];
      if (!finalizers.includes(CRD_CLEANUP_FINALIZER)) return;
      const status = crdStatus(crd, crd, service.now());
      if (JSON.stringify(status.conditions) !== JSON.stringify((crd.status as Obj | undefined)?.conditions)) {
        await service.update({ rt: crdType, namespace: '', name, subresource: 'status' }, { ...crd, status }, controllerWriteOptions());
      }
      const types = registry.all().filter((t) => t.crdName === name);
      const resource = types[0]?.storageResource ?? `${(crd.spec as Obj).group}/${((crd.spec as Obj).names as Obj).plural}`;
      let remaining = 0;
      for (const obj of store.values(resource)) {
        remaining++;
        const m = obj.metadata as Obj;
        if (m.deletionTimestamp || !types[0]) continue;
        try {
          await service.delete({ rt: types[0], namespace: String(m.namespace ?? ''), name: String(m.name) }, {}, controllerWriteOptions());
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        }
      }
      if (store.count(resource) > 0) {
        queue.addAfter(name, 200); // custom resources with finalizers are still going
        return;
      }
      void remaining;
      const latest = store.get(CRDS, name);
      if (!latest) return;
      const lm = latest.metadata as Obj;
      await service.update(
        { rt: crdType, namespace: '', name },
        { ...latest, metadata: { ...lm, finalizers: ((lm.finalizers as string[]) ?? []).filter((f) => f !== CRD_CLEANUP_FINALIZER) } },
        controllerWriteOptions(),
      );
    },
    (key, err) => ctx.warn(`CRD cleanup of ${key} failed: ${(err as Error).message}`),
  );

  const onChanges = (changes: Change[]): void => {
    for (const c of changes) {
      if (c.resource === CRDS) {
        if (c.type === 'DELETED') {
          servedSpec.delete(c.key);
          registry.removeCrd(c.key);
        } else {
          serve(c.object, c.rv);
          if ((c.object.metadata as Obj).deletionTimestamp) queue.add(c.key);
        }
      } else {
        const owner = registry.all().find((t) => t.storageResource === c.resource && t.crdName);
        if (owner && store.get(CRDS, owner.crdName!)?.metadata?.deletionTimestamp) queue.add(owner.crdName!);
      }
    }
  };

  return {
    start() {
      for (const crd of store.values(CRDS)) {
        serve(crd);
        if ((crd.metadata as Obj).deletionTimestamp) queue.add(String((crd.metadata as Obj).name));
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
