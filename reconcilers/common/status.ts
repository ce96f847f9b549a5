// The one status writer: status = kind fields + observedGeneration + conditions merged by type,
// written through the status subresource only when something changed. An object gone meanwhile
// (its last finalizer was just removed) is not a failure: there is no status left to write.
import {
  isKnownReason, isNotFound, setConditions, updateStatus,
  type Clock, type Condition, type ConditionInput, type KubeObject, type Logger, type ResourceClient,
} from '../../controller/index.ts';

export interface ManagedStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  [field: string]: unknown;
}

export interface StatusTarget<T extends KubeObject & { status?: ManagedStatus }> {
  client: ResourceClient<T>;
  clock: Clock;
}

/** The status the fields and conditions make, from the object's current status. */
export function nextStatus(obj: KubeObject & { status?: ManagedStatus }, fields: Record<string, unknown>, conditions: ConditionInput[], now: Date): ManagedStatus {
  const generation = obj.metadata.generation;
  return {
    ...fields,
    observedGeneration: generation,
    conditions: setConditions(obj.status?.conditions, conditions, generation, now),
  };
}

/** Writes the status when it differs; returns whether a write happened. */
export async function writeStatus<T extends KubeObject & { status?: ManagedStatus }>(
  target: StatusTarget<T>,
  obj: T,
  fields: Record<string, unknown>,
  conditions: ConditionInput[],
  ctx: { signal: AbortSignal; log: Logger },
): Promise<boolean> {
  for (const c of conditions) {
    // Every reason must be in a catalog (tests check what reaches the API); say so loudly here.
    if (!isKnownReason(c.reason)) ctx.log.error({ condition: c.type, reason: c.reason }, 'condition reason is not in any reason catalog');
  }
  const status = nextStatus(obj, fields, conditions, new Date(target.clock.now()));
  try {
    return (await updateStatus(target.client, obj, status as T['status'], ctx.signal)).written;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** The status fields of an object other than those the writer manages. */
export function kindFields(obj: { status?: ManagedStatus }): Record<string, unknown> {
  const { conditions: _c, observedGeneration: _g, ...rest } = obj.status ?? {};
  return rest;
}
