// Conditions in the kstatus and Crossplane style: Ready and Synced on every kind, Reconciling and
// Stalled where they apply. lastTransitionTime moves only when a condition's status flips, so a
// status write happens only when something a user can see changed.

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export type ConditionInput = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

export const ConditionTypes = { Ready: 'Ready', Synced: 'Synced', Reconciling: 'Reconciling', Stalled: 'Stalled' } as const;

/** Condition messages are short and single-line; the API server caps them at 32 KiB. */
const maxMessageLength = 1024;

export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === 'True';
}

/**
 * Returns a new list with the condition set. An unchanged status keeps its lastTransitionTime;
 * conditions keep a stable order (existing ones in place, new ones appended).
 */
export function setCondition(conditions: readonly Condition[] | undefined, input: ConditionInput, generation: number | undefined, now: Date): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === input.type);
  const existing = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: truncate(input.message),
    lastTransitionTime: existing && existing.status === input.status ? existing.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

export function setConditions(conditions: readonly Condition[] | undefined, inputs: ConditionInput[], generation: number | undefined, now: Date): Condition[] {
  return inputs.reduce<Condition[]>((acc, input) => setCondition(acc, input, generation, now), [...(conditions ?? [])]);
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

function truncate(message: string): string {
  const oneLine = message.replace(/\s*\n\s*/g, ' ');
  return oneLine.length <= maxMessageLength ? oneLine : `${oneLine.slice(0, maxMessageLength - 1)}…`;
}

/** The conditions a reconcile that succeeded and found the world in order writes. */
export const readyConditions = (message = 'The resource is ready'): ConditionInput[] => [
  { type: ConditionTypes.Ready, status: 'True', reason: 'Available', message },
  { type: ConditionTypes.Synced, status: 'True', reason: 'ReconcileSuccess', message: 'The last reconcile succeeded' },
  { type: ConditionTypes.Reconciling, status: 'False', reason: 'ReconcileSuccess', message: 'Nothing left to do' },
  { type: ConditionTypes.Stalled, status: 'False', reason: 'ReconcileSuccess', message: 'Nothing is blocking progress' },
];

/** Work is under way and will go on by itself. */
export const progressingConditions = (reason: string, message: string): ConditionInput[] => [
  { type: ConditionTypes.Ready, status: 'False', reason, message },
  { type: ConditionTypes.Synced, status: 'True', reason: 'ReconcileSuccess', message: 'The last reconcile succeeded' },
  { type: ConditionTypes.Reconciling, status: 'True', reason, message },
  { type: ConditionTypes.Stalled, status: 'False', reason, message: 'Nothing is blocking progress' },
];

/** A failure that retries may fix (an unreachable engine, a conflict). */
export const errorConditions = (reason: string, message: string): ConditionInput[] => [
  { type: ConditionTypes.Ready, status: 'False', reason, message },
  { type: ConditionTypes.Synced, status: 'False', reason, message },
  { type: ConditionTypes.Reconciling, status: 'True', reason, message: 'Retrying with backoff' },
  { type: ConditionTypes.Stalled, status: 'False', reason, message: 'Retrying with backoff' },
];

/** A failure only the user can fix (invalid input): no retries until the object changes. */
export const stalledConditions = (reason: string, message: string): ConditionInput[] => [
  { type: ConditionTypes.Ready, status: 'False', reason, message },
  { type: ConditionTypes.Synced, status: 'False', reason, message },
  { type: ConditionTypes.Reconciling, status: 'False', reason, message: 'Waiting for the resource to change' },
  { type: ConditionTypes.Stalled, status: 'True', reason, message },
];
