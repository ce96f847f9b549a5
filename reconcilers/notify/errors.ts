// The notify layer's codes: why a delivery failed, each with whether it is tried again. A refusal
// (HTTP 4xx other than 408 and 429) is not retried: the same request would be refused again; the
// next group flush decides anew. Everything else (5xx, timeouts, connection and TLS failures, SMTP
// errors, a wrong password) is retried with backoff until it goes through: a receiver that is down
// or misconfigured delays a notification, it never loses it.
import { defineReasons, OutriggerError } from '../../controller/index.ts';

export const NotifyReasons = defineReasons('notify', {
  ReceiverUnreachable: 'The receiver could not be reached (connection refused, name not found, network down); retried',
  ReceiverTimeout: 'The receiver did not answer in time; retried',
  ReceiverTlsFailed: 'The TLS handshake with the receiver failed (certificate not trusted, expired, wrong name, or STARTTLS refused); retried',
  ReceiverServerError: 'The receiver answered with a server error (HTTP 5xx); retried',
  ReceiverRateLimited: 'The receiver asked to slow down (HTTP 429); retried after its Retry-After',
  ReceiverRejected: 'The receiver refused the notification (HTTP 4xx): not retried; the next group flush decides again',
  SmtpAuthFailed: 'The SMTP server refused the user name or password; retried, and sent once the Secret is fixed',
  SmtpRejected: 'The SMTP server refused the message or a recipient; retried',
  ReceiverMisconfigured: 'The receiver cannot be used as configured (its URL in the Secret is not an http(s) URL, or a Secret is missing)',
});

export class DeliveryError extends OutriggerError {
  readonly retryable: boolean;
  /** The receiver's own Retry-After, when it gave one. */
  readonly retryAfterMs?: number;

  constructor(code: string, message: string, opts: { retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super(code as never, message, { cause: opts.cause });
    this.name = 'DeliveryError';
    this.retryable = opts.retryable;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }
}

/** A connection-level failure (before or instead of an answer) as a DeliveryError. */
export function connectionFailure(err: unknown, what: string, timedOut: boolean): DeliveryError {
  if (err instanceof DeliveryError) return err;
  // The outbound guard refused the destination or found no address: its message names the field,
  // the host and the address class (never a URL's path or credentials).
  const guard = err instanceof OutriggerError ? err : (err as { cause?: unknown })?.cause instanceof OutriggerError ? (err as { cause: OutriggerError }).cause : undefined;
  if (guard && (guard.code === 'ForbiddenAddress' || guard.code === 'NameNotResolved')) {
    return new DeliveryError(guard.code === 'ForbiddenAddress' ? NotifyReasons.ReceiverMisconfigured : NotifyReasons.ReceiverUnreachable, `${what}: ${guard.message}`, { retryable: true, cause: err });
  }
  const codes: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const c = (e as { code?: string }).code;
    if (c) codes.push(c);
    e = (e as { cause?: unknown }).cause;
  }
  const text = codes.join(' ');
  if (timedOut || /TIMEOUT|ETIMEDOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_CONNECT_TIMEOUT|UND_ERR_BODY_TIMEOUT/.test(text)) {
    return new DeliveryError(NotifyReasons.ReceiverTimeout, `${what} did not answer in time`, { retryable: true, cause: err });
  }
  if (/CERT|SSL|TLS|ERR_TLS|UNABLE_TO|SELF_SIGNED|DEPTH_ZERO|HOSTNAME/.test(text)) {
    return new DeliveryError(NotifyReasons.ReceiverTlsFailed, `${what}: TLS failed (${codes.find((c) => /CERT|SSL|TLS|UNABLE|SELF|DEPTH|HOSTNAME/.test(c))})`, { retryable: true, cause: err });
  }
  const shown = codes[codes.length - 1] ?? 'connection failed';
  return new DeliveryError(NotifyReasons.ReceiverUnreachable, `${what} could not be reached (${shown})`, { retryable: true, cause: err });
}
