// The one failure reporter: a classified failure becomes conditions (through the status writer,
// keeping the kind's other status fields, optionally adjusted) and a Warning event when what the
// user sees changes. A repeated identical failure writes nothing new: the event recorder folds
// repeats into one series with a count, and an unchanged status is not written.
import { errorMessage, getCondition, type EventRecorder, type KubeObject, type Logger } from '../../controller/index.ts';
import { failureConditions, isReported, type Failure } from './failure.ts';
import { kindFields, writeStatus, type ManagedStatus, type StatusTarget } from './status.ts';

export interface FailureReporter<T extends KubeObject & { status?: ManagedStatus }> extends StatusTarget<T> {
  events: EventRecorder;
  /** Status fields to show with a failure (e.g. phase: Failed); the current ones are kept otherwise. */
  failureFields?(obj: T, failure: Failure): Record<string, unknown>;
}

export async function reportFailure<T extends KubeObject & { status?: ManagedStatus }>(
  reporter: FailureReporter<T>,
  obj: T,
  failure: Failure,
  ctx: { signal: AbortSignal; log: Logger },
): Promise<void> {
  if (!isReported(failure)) return;
  const before = getCondition(obj.status?.conditions, 'Ready');
  const fields = { ...kindFields(obj), ...reporter.failureFields?.(obj, failure) };
  try {
    await writeStatus(reporter, obj, fields, failureConditions(failure), ctx);
  } catch (err) {
    ctx.log.debug({ err: errorMessage(err) }, 'could not record the failure in status');
  }
  const changed = before?.reason !== failure.reason || before.message !== failure.message || before.status !== 'False';
  // A wait is progress, not a fault: it is told in status; its Warning comes once, on the change.
  if (changed || failure.kind !== 'waiting') reporter.events.event(obj, 'Warning', failure.reason, failure.message);
}
