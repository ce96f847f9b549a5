// The finalizer step, in the manner of kube-rs' finalizer helper: a four-way match on "has our
// finalizer?" x "is it being deleted?" that runs exactly one of the kind's two branches.
//   live, no finalizer      -> add it (guarded patch), then apply
//   live, finalizer         -> apply
//   deleting, finalizer     -> cleanup, then remove it (test-then-remove: never someone else's)
//   deleting, no finalizer  -> nothing left for us to do
import { addFinalizer, hasFinalizer, isDeleting, isNotFound, removeFinalizer, type KubeObject, type ResourceClient, type Result } from '../../controller/index.ts';

export type FinalizerBranch = 'apply' | 'cleanup' | 'done';

export function finalizerBranch(obj: KubeObject, finalizer: string): FinalizerBranch {
  if (!isDeleting(obj)) return 'apply';
  return hasFinalizer(obj, finalizer) ? 'cleanup' : 'done';
}

/** Adds the finalizer before anything external is made; returns the object as patched. */
export async function ensureFinalizer<T extends KubeObject>(client: ResourceClient<T>, obj: T, finalizer: string, signal: AbortSignal): Promise<T> {
  if (hasFinalizer(obj, finalizer)) return obj;
  return addFinalizer(client, obj, finalizer, signal);
}

/** Removes the finalizer after cleanup; the object already gone is success. */
export async function releaseFinalizer<T extends KubeObject>(client: ResourceClient<T>, obj: T, finalizer: string, signal: AbortSignal): Promise<void> {
  try {
    await removeFinalizer(client, obj, finalizer, signal);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

export interface FinalizerHandlers<T> {
  apply(obj: T): Promise<Result>;
  cleanup(obj: T): Promise<void>;
}

export async function withFinalizer<T extends KubeObject>(client: ResourceClient<T>, obj: T, finalizer: string, signal: AbortSignal, handlers: FinalizerHandlers<T>): Promise<Result> {
  switch (finalizerBranch(obj, finalizer)) {
    case 'done':
      return {};
    case 'cleanup':
      await handlers.cleanup(obj);
      await releaseFinalizer(client, obj, finalizer, signal);
      return {};
    case 'apply': {
      const patched = await ensureFinalizer(client, obj, finalizer, signal);
      // The patch answers with the stored object; keep the caller's parsed spec.
      return handlers.apply(patched === obj ? obj : ({ ...patched, spec: (obj as { spec?: unknown }).spec } as T));
    }
  }
}
