// Status writes through the status subresource, only when the status really changed. The write
// carries the resourceVersion it was computed from, so a stale write fails with 409 and the
// reconcile runs again on fresh data instead of overwriting someone else's change.
import { semanticEqual } from './equality.ts';
import type { KubeObject, ResourceClient } from './kube/resource.ts';

export interface StatusWriteResult<T> {
  written: boolean;
  object: T;
}

export async function updateStatus<T extends KubeObject & { status?: unknown }>(
  client: ResourceClient<T>,
  obj: T,
  status: T['status'],
  signal?: AbortSignal,
): Promise<StatusWriteResult<T>> {
  if (semanticEqual(obj.status ?? {}, status ?? {})) return { written: false, object: obj };
  const updated = await client.rest.request<T>('PUT', client.objectPath({ namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' }, 'status'), {
    body: { ...obj, status },
    signal,
  });
  return { written: true, object: updated };
}
