// Public surface of the notify provider: one `Notifier` delivers a Notification to a receiver of
// any type (SMTP, Slack incoming webhook, generic webhook, Alertmanager), through the outbound
// guard, and says why when it cannot (DeliveryError: a code from errors.ts, retryable or not).
import { HttpSender } from './http.ts';
import { alertmanagerAlerts, slackBody, webhookBody, type Notification } from './message.ts';
import { sendMail, type SmtpSettings } from './smtp.ts';
import type { Outbound } from '../alert/outbound.ts';

export { DeliveryError, NotifyReasons, connectionFailure } from './errors.ts';
export { parseRetryAfter } from './http.ts';
export { webhookBody, slackBody, textBody, subject, alertmanagerAlerts, ZERO_TIME, type Notification, type NotifiedAlert } from './message.ts';
export type { SmtpSettings } from './smtp.ts';

export type ReceiverTarget =
  | { type: 'smtp'; smtp: SmtpSettings }
  | { type: 'slack'; url: string; channel?: string }
  | { type: 'webhook'; url: string; authorization?: string; headers?: Record<string, string> }
  | { type: 'alertmanager'; url: string; authorization?: string };

export interface NotifierOptions {
  outbound: Outbound;
  /** CA certificates trusted besides the system's (a private PKI; tests). */
  ca?: string[];
  timeoutMs?: number;
  /** How long Alertmanager keeps a pushed firing alert without a refresh (default 4 min). */
  alertmanagerValidMs?: number;
  now?: () => number;
}

export class Notifier {
  private readonly opts: NotifierOptions;
  private readonly http: HttpSender;

  constructor(opts: NotifierOptions) {
    this.opts = opts;
    this.http = new HttpSender(opts.outbound, opts.ca);
  }

  /** Delivers or throws a DeliveryError; `field` names the receiver in the spec (for the guard). */
  async deliver(name: string, target: ReceiverTarget, n: Notification, field: string, signal?: AbortSignal): Promise<void> {
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    const what = `${target.type} receiver ${name}`;
    switch (target.type) {
      case 'smtp':
        return sendMail(target.smtp, n, what, field, { outbound: this.opts.outbound, ...(this.opts.ca ? { ca: this.opts.ca } : {}), timeoutMs });
      case 'slack':
        return this.http.post({ url: target.url, body: slackBody(n, target.channel), headers: {}, what, field, timeoutMs, ...(signal ? { signal } : {}) });
      case 'webhook':
        return this.http.post({
          url: target.url,
          body: webhookBody(n),
          headers: { ...target.headers, 'idempotency-key': n.key, ...(target.authorization ? { authorization: target.authorization } : {}) },
          what, field, timeoutMs, ...(signal ? { signal } : {}),
        });
      case 'alertmanager': {
        const base = target.url.replace(/\/+$/, '');
        const now = (this.opts.now ?? Date.now)();
        return this.http.post({
          url: `${base}/api/v2/alerts`,
          body: alertmanagerAlerts(n, now, this.opts.alertmanagerValidMs ?? 240_000),
          headers: target.authorization ? { authorization: target.authorization } : {},
          what, field, timeoutMs, ...(signal ? { signal } : {}),
        });
      }
    }
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
