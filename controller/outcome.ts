// The outcome rules, in one place: what the queue does with a key after its reconcile.
//   terminal error -> counted, never retried (until the object changes)
//   error          -> counted, retried with per-key exponential backoff
//   requeueAfter   -> backoff forgotten, key added again after the delay
//   requeue        -> retried with backoff, not counted as an error
//   success        -> backoff forgotten
import { isTerminal } from './errors.ts';
import type { ReconcileResult } from './metrics.ts';

export interface Result {
  /** Reconcile again after this long, e.g. to poll external state. */
  requeueAfterMs?: number;
  /** Reconcile again soon, with backoff, without treating this as an error. */
  requeue?: boolean;
}

export type Outcome =
  | { kind: 'terminal'; error: unknown; metric: ReconcileResult }
  | { kind: 'error'; error: unknown; metric: ReconcileResult }
  | { kind: 'requeueAfter'; delayMs: number; metric: ReconcileResult }
  | { kind: 'requeue'; metric: ReconcileResult }
  | { kind: 'success'; metric: ReconcileResult };

export function decideOutcome(settled: { result?: Result | void; error?: unknown; failed: boolean }): Outcome {
  if (settled.failed) {
    return isTerminal(settled.error)
      ? { kind: 'terminal', error: settled.error, metric: 'error' }
      : { kind: 'error', error: settled.error, metric: 'error' };
  }
  const result = settled.result ?? {};
  if (result.requeueAfterMs !== undefined && result.requeueAfterMs > 0) return { kind: 'requeueAfter', delayMs: result.requeueAfterMs, metric: 'requeue_after' };
  if (result.requeue) return { kind: 'requeue', metric: 'requeue' };
  return { kind: 'success', metric: 'success' };
}

/** Programming errors (the JavaScript analogue of a Go panic), counted apart from ordinary failures. */
export function isPanic(error: unknown): boolean {
  return error instanceof TypeError || error instanceof ReferenceError || error instanceof RangeError || !(error instanceof Error);
}
