// The create-pending guard, after crossplane-runtime's: for systems where observe cannot be sure to
// find an object made moments before (no atomic owner label, eventually consistent listings), an
// annotation is written before create and removed after it. Finding the annotation with nothing
// observed means a create was cut short with its outcome unknown: the kit then refuses to create
// again and says how to proceed, instead of risking a second object.
// Kinds whose observe finds their objects by an owner label set atomically at creation (Docker
// labels) do not need it and skip the two writes.
import { isNotFound, type KubeObject, type ResourceClient } from '../../controller/index.ts';

export const CREATE_PENDING_ANNOTATION = 'outrigger.dev/create-pending';

/** The annotation's value: `<ISO time>` or `<ISO time>;<hint>` (what the client was about to use). */
export function createPendingSince(obj: KubeObject): string | undefined {
  return obj.metadata.annotations?.[CREATE_PENDING_ANNOTATION];
}

/** The hint the client left before a create that may have happened (e.g. the VM id it chose). */
export function createPendingHint(obj: KubeObject): string | undefined {
  const value = createPendingSince(obj);
  const at = value?.indexOf(';') ?? -1;
  return value && at >= 0 ? value.slice(at + 1) : undefined;
}

const escaped = CREATE_PENDING_ANNOTATION.replace(/~/g, '~0').replace(/\//g, '~1');

export async function markCreatePending<T extends KubeObject>(client: ResourceClient<T>, obj: T, now: Date, hint: string | undefined, signal: AbortSignal): Promise<T> {
  const value = hint ? `${now.toISOString()};${hint}` : now.toISOString();
  const key = { namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' };
  // Guarded by the resourceVersion: two workers (or two replicas) never both pass this point.
  const ops = [
    { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
    obj.metadata.annotations
      ? { op: 'add', path: `/metadata/annotations/${escaped}`, value }
      : { op: 'add', path: '/metadata/annotations', value: { [CREATE_PENDING_ANNOTATION]: value } },
  ];
  return client.jsonPatch(key, ops, { signal });
}

/** Removes the marker; returns the stored object (the given one if it is gone), spec kept as given. */
export async function clearCreatePending<T extends KubeObject>(client: ResourceClient<T>, obj: T, signal: AbortSignal): Promise<T> {
  const key = { namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' };
  try {
    const stored = await client.mergePatch(key, { metadata: { annotations: { [CREATE_PENDING_ANNOTATION]: null } } }, { signal });
    return { ...stored, spec: (obj as { spec?: unknown }).spec } as T;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return obj;
  }
}
