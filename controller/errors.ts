// The error catalog: every error Outrigger raises carries a stable code, a message that says what to
// fix, and its cause. Messages must never contain secret values.
import { RuntimeReasons } from './reasons.ts';

/** The runtime's own error codes; kinds and providers define theirs in their layer's catalog. */
export const ErrorCodes = {
  Internal: RuntimeReasons.Internal,
  Conflict: RuntimeReasons.Conflict,
  KubeApiError: RuntimeReasons.KubeApiError,
  ReconcileTimeout: RuntimeReasons.ReconcileTimeout,
  /** The API server cannot be reached (the informer retries). */
  ApiUnreachable: RuntimeReasons.ApiUnreachable,
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes] | (string & {});

export class OutriggerError extends Error {
  readonly code: ErrorCode;
  /** Where in the user's object the problem lies, e.g. `spec.ssh.port`. */
  readonly field?: string;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; field?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OutriggerError';
    this.code = code;
    this.field = options.field;
  }
}

/** An error retrying cannot fix (bad input until the user changes it): counted, never retried. */
export class TerminalError extends OutriggerError {
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; field?: string } = {}) {
    super(code, message, options);
    this.name = 'TerminalError';
  }
}

export function isTerminal(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

export function errorCode(err: unknown): ErrorCode {
  return err instanceof OutriggerError ? err.code : ErrorCodes.Internal;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
