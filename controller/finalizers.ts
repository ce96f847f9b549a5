// Finalizers, added before anything external is created and removed only after cleanup. Both
// patches guard themselves: adding to an absent list tests the resourceVersion, and removal tests
// that the entry at the index is still ours, so a concurrent writer's finalizer is never dropped.
import type { KubeObject, ResourceClient } from './kube/resource.ts';
import { isInvalid, KubeApiError } from './kube/rest.ts';

export type JsonPatchOp =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'add'; path: string; value: unknown }
  | { op: 'remove'; path: string };

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

export function isDeleting(obj: KubeObject): boolean {
  return Boolean(obj.metadata.deletionTimestamp);
}

/** The JSON patch that adds the finalizer, or null when it is already there. */
export function addFinalizerPatch(obj: KubeObject, finalizer: string): JsonPatchOp[] | null {
  const list = obj.metadata.finalizers;
  if (list?.includes(finalizer)) return null;
  if (!list) {
    return [
      { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
      { op: 'add', path: '/metadata/finalizers', value: [finalizer] },
    ];
  }
  return [{ op: 'add', path: '/metadata/finalizers/-', value: finalizer }];
}

/** The JSON patch that removes the finalizer, or null when it is not there. */
export function removeFinalizerPatch(obj: KubeObject, finalizer: string): JsonPatchOp[] | null {
  const index = obj.metadata.finalizers?.indexOf(finalizer) ?? -1;
  if (index < 0) return null;
  const path = `/metadata/finalizers/${index}`;
  return [{ op: 'test', path, value: finalizer }, { op: 'remove', path }];
}

export async function addFinalizer<T extends KubeObject>(client: ResourceClient<T>, obj: T, finalizer: string, signal?: AbortSignal): Promise<T> {
  return patchGuarded(client, obj, (o) => addFinalizerPatch(o, finalizer), signal);
}

export async function removeFinalizer<T extends KubeObject>(client: ResourceClient<T>, obj: T, finalizer: string, signal?: AbortSignal): Promise<T> {
  return patchGuarded(client, obj, (o) => removeFinalizerPatch(o, finalizer), signal);
}

/** Applies a guarded patch; if its test fails because the object moved on, recomputes once from a fresh read. */
async function patchGuarded<T extends KubeObject>(client: ResourceClient<T>, obj: T, makePatch: (o: T) => JsonPatchOp[] | null, signal?: AbortSignal): Promise<T> {
  const key = { namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' };
  let current = obj;
  for (let attempt = 0; attempt < 2; attempt++) {
    const patch = makePatch(current);
    if (!patch) return current;
    try {
      return await client.jsonPatch(key, patch, { signal });
    } catch (err) {
      const testFailed = isInvalid(err) || (err instanceof KubeApiError && err.statusCode === 409);
      if (!testFailed || attempt > 0) throw err;
      current = await client.get(key, signal);
    }
  }
  return current;
}
