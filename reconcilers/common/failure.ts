// One failure classifier and one failure reporter for every kind. Whatever a reconcile throws is
// sorted into one of five outcomes, each with a reason from the catalog and a message a user can
// act on (secret values scrubbed):
//   terminal  -> Stalled=True; never retried until the object changes (the user must fix it)
//   transient -> Synced=False; retried with backoff
//   waiting   -> Ready=False naming the missing referent; the referent's watch brings it back
//   conflict  -> nothing written; retried at once on fresh data (routine with cached reads)
//   cancelled -> nothing written; the controller is stopping or the reconcile timed out
import {
  errorConditions, errorMessage, isConflict, isKnownReason, isTerminal, KubeApiError, OutriggerError, progressingConditions, stalledConditions,
  RuntimeReasons, type ConditionInput,
} from '../../controller/index.ts';
import { KitReasons } from './reasons.ts';
import { redactSecrets } from './secrets.ts';
import { WaitingForReferent, type Referent } from './waiting.ts';

export { WaitingForReferent, type Referent } from './waiting.ts';

export type FailureKind = 'terminal' | 'transient' | 'waiting' | 'conflict' | 'cancelled';

export interface Failure {
  kind: FailureKind;
  reason: string;
  message: string;
  /** For `waiting`: the object waited for. */
  referent?: Referent;
}

/** Codes that mean "something this object names is not there yet". */
const WAITING_CODES = new Set<string>([KitReasons.ReferenceNotFound, KitReasons.SecretNotFound, KitReasons.SecretKeyMissing]);

export function classifyFailure(err: unknown, signal?: AbortSignal): Failure {
  const message = redactSecrets(errorMessage(err));
  if (signal?.aborted) return { kind: 'cancelled', reason: RuntimeReasons.ReconcileTimeout, message };
  if (isConflict(err)) return { kind: 'conflict', reason: RuntimeReasons.Conflict, message };
  const reason = catalogedReason(err);
  if (err instanceof WaitingForReferent) return { kind: 'waiting', reason, message, referent: err.referent };
  if (WAITING_CODES.has(reason)) return { kind: 'waiting', reason, message };
  if (isTerminal(err) || reason === KitReasons.InvalidSpec) return { kind: 'terminal', reason, message };
  return { kind: 'transient', reason, message };
}

/** The error's code when the catalog knows it; otherwise the closest catalogued reason, never `undefined`. */
export function catalogedReason(err: unknown): string {
  const code = err instanceof OutriggerError ? String(err.code) : undefined;
  if (code && isKnownReason(code)) return code;
  if (err instanceof KubeApiError) return RuntimeReasons.KubeApiError;
  // An OutriggerError with a code nobody catalogued came from a provider: an external failure.
  // Anything else (a plain Error, a TypeError) is unexpected inside Outrigger.
  return err instanceof OutriggerError ? KitReasons.ExternalError : RuntimeReasons.Internal;
}

/** The conditions a failure writes (conflicts and cancellations write none). */
export function failureConditions(failure: Failure): ConditionInput[] {
  switch (failure.kind) {
    case 'terminal':
      return stalledConditions(failure.reason, failure.message);
    case 'waiting':
      return progressingConditions(failure.reason, failure.message);
    case 'transient':
      return errorConditions(failure.reason, failure.message);
    default:
      return [];
  }
}

/** Whether the failure writes status and an event at all. */
export const isReported = (failure: Failure): boolean => failure.kind !== 'conflict' && failure.kind !== 'cancelled';
