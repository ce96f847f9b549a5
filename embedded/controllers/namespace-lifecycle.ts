// Namespace deletion, as kube-controller-manager's namespace controller does it: delete every
// object in a Terminating namespace (waiting for their finalizers), then remove the "kubernetes"
// finalizer through /finalize, which lets the namespace go.
import type { Change } from '../storage/history.ts';
import { ApiError } from '../api/errors.ts';
import { namespaceType } from '../kinds/builtin.ts';
import { WorkQueue } from './queue.ts';
import { controllerWriteOptions, type Controller, type ControllerContext } from './context.ts';

type Obj = Record<string, unknown>;
const NAMESPACES = namespaceType.storageResource;

export function namespaceController(ctx: ControllerContext): Controller {
  const { store, registry, service } = ctx;
  let unsubscribe = () => {};

  const terminating = (name: string): boolean => !!(store.get(NAMESPACES, name)?.metadata as Obj | undefined)?.deletionTimestamp;

  const queue = new WorkQueue(
    async (ns) => {
      const nsObj = store.get(NAMESPACES, ns);
      if (!nsObj || !(nsObj.metadata as Obj).deletionTimestamp) return;
      let remaining = 0;
      for (const rt of registry.storageTypes()) {
        if (!rt.namespaced) continue;
        const prefix = `${ns}/`;
        const inNs = [...store.entries(rt.storageResource)].filter(([k]) => k.startsWith(prefix)).map(([, o]) => o);
        remaining += inNs.length;
        for (const obj of inNs) {
          const m = obj.metadata as Obj;
          if (m.deletionTimestamp) continue;
          try {
            await service.delete({ rt, namespace: ns, name: String(m.name) }, {}, controllerWriteOptions());
          } catch (err) {
            if (!(err instanceof ApiError && err.code === 404)) throw err;
          }
        }
      }
      const left = registry
        .storageTypes()
        .filter((rt) => rt.namespaced)
        .reduce((n, rt) => n + [...store.entries(rt.storageResource)].filter(([k]) => k.startsWith(`${ns}/`)).length, 0);
      if (left > 0) {
        queue.addAfter(ns, 500);
        return;
      }
      void remaining;
      const latest = store.get(NAMESPACES, ns);
      if (!latest) return;
      const finalizers = (((latest.spec as Obj | undefined)?.finalizers as string[] | undefined) ?? []).filter((f) => f !== 'kubernetes');
      await service.update(
        { rt: namespaceType, namespace: '', name: ns, subresource: 'finalize' },
        { ...latest, spec: { ...((latest.spec as Obj | undefined) ?? {}), finalizers } },
        controllerWriteOptions(),
      );
    },
    (key, err) => ctx.warn(`namespace cleanup of ${key} failed: ${(err as Error).message}`),
  );

  const onChanges = (changes: Change[]): void => {
    for (const c of changes) {
      if (c.resource === NAMESPACES) {
        if (c.type !== 'DELETED' && (c.object.metadata as Obj).deletionTimestamp) queue.add(c.key);
        continue;
      }
      const slash = c.key.indexOf('/');
      if (slash > 0) {
        const ns = c.key.slice(0, slash);
        if (terminating(ns)) queue.add(ns);
      }
    }
  };

  return {
    start() {
      for (const ns of store.values(NAMESPACES)) if ((ns.metadata as Obj).deletionTimestamp) queue.add(String((ns.metadata as Obj).name));
      unsubscribe = store.subscribe(onChanges);
    },
    stop() {
      unsubscribe();
      queue.stop();
    },
    idle: () => queue.idle(),
  };
}
