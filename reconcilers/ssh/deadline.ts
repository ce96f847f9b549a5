// Every SSH operation has a deadline and honours the caller's AbortSignal. This turns both into one
// signal and turns its firing into an error with a stable code that says what was cut short.
import { clockTimeout, realClock, type Clock } from '../../controller/clock.ts';
import { OutriggerError } from '../../controller/errors.ts';
import { defineReasons } from '../../controller/reasons.ts';

export interface OperationOptions {
  signal?: AbortSignal;
  /** Overrides the pool's default operation timeout. */
  timeoutMs?: number;
}

export const SshErrorCodes = defineReasons('ssh', {
  Timeout: { reason: 'SshTimeout', meaning: 'An SSH operation took longer than its deadline' },
  Aborted: { reason: 'SshAborted', meaning: 'An SSH operation was cancelled (the reconcile ended)' },
});

export interface Deadline {
  signal: AbortSignal;
  timeoutMs: number;
  /** The error to throw now that the signal fired. */
  error(what: string): OutriggerError;
}

export function deadline(opts: OperationOptions, defaultTimeoutMs: number, clock: Clock = realClock): Deadline {
  const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
  const timeout = clockTimeout(clock, timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  return {
    signal,
    timeoutMs,
    error(what) {
      if (opts.signal?.aborted) return new OutriggerError(SshErrorCodes.Aborted, `${what} was cancelled`, { cause: opts.signal.reason });
      return new OutriggerError(SshErrorCodes.Timeout, `${what} timed out after ${timeoutMs} ms`);
    },
  };
}

/**
 * Settles with `work` unless the deadline fires first; then `onAbort` runs (to close a channel, say)
 * and the deadline's error is thrown.
 */
export function raceDeadline<T>(d: Deadline, what: string, work: Promise<T>, onAbort?: () => void): Promise<T> {
  if (d.signal.aborted) {
    work.catch(() => {});
    onAbort?.();
    return Promise.reject(d.error(what));
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      work.catch(() => {});
      try { onAbort?.(); } catch { /* best effort */ }
      reject(d.error(what));
    };
    d.signal.addEventListener('abort', abort, { once: true });
    work.then(
      (v) => { d.signal.removeEventListener('abort', abort); resolve(v); },
      (e: unknown) => { d.signal.removeEventListener('abort', abort); reject(e); },
    );
  });
}
