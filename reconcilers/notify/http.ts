// POST a JSON body to a receiver through the outbound guard, and sort the answer: 2xx delivered;
// 429 and 408 retried (429 after its Retry-After); other 4xx refused for good; 5xx, timeouts and
// connection failures retried. The URL is a credential (Slack's is): no message ever shows it,
// only the receiver's name and what happened.
import { rootCertificates } from 'node:tls';
import { Agent, buildConnector, request } from 'undici';
import type { Outbound } from '../alert/outbound.ts';
import { connectionFailure, DeliveryError, NotifyReasons } from './errors.ts';

export interface HttpDelivery {
  url: string;
  body: unknown;
  headers: Record<string, string>;
  /** "webhook receiver pager": how messages name the destination (never the URL). */
  what: string;
  field: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export class HttpSender {
  private readonly outbound: Outbound;
  private readonly ca: string[] | undefined;
  private readonly agents = new Map<string, Agent>();

  constructor(outbound: Outbound, ca?: string[]) {
    this.outbound = outbound;
    this.ca = ca;
  }

  async post(d: HttpDelivery): Promise<void> {
    let url: URL;
    try {
      url = new URL(d.url);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http');
    } catch {
      throw new DeliveryError(NotifyReasons.ReceiverMisconfigured, `${d.what}: the URL in its Secret is not an http or https URL`, { retryable: false });
    }
    const timeout = AbortSignal.timeout(d.timeoutMs);
    let res;
    try {
      res = await request(url, {
        method: 'POST',
        dispatcher: this.agent(d.field),
        body: JSON.stringify(d.body),
        headers: { 'content-type': 'application/json', 'user-agent': 'outrigger-notify', ...d.headers },
        signal: d.signal ? AbortSignal.any([d.signal, timeout]) : timeout,
        headersTimeout: d.timeoutMs,
        bodyTimeout: d.timeoutMs,
      });
    } catch (err) {
      if (d.signal?.aborted) throw err;
      throw connectionFailure(err, d.what, timeout.aborted);
    }
    await res.body.dump().catch(() => {});
    const status = res.statusCode;
    if (status >= 200 && status < 300) return;
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now());
      throw new DeliveryError(NotifyReasons.ReceiverRateLimited, `${d.what} answered HTTP 429 (rate limited)${retryAfterMs !== undefined ? `; retrying after ${Math.ceil(retryAfterMs / 1000)} s` : ''}`, { retryable: true, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    if (status === 408 || status >= 500) throw new DeliveryError(status === 408 ? NotifyReasons.ReceiverTimeout : NotifyReasons.ReceiverServerError, `${d.what} answered HTTP ${status}`, { retryable: true });
    throw new DeliveryError(NotifyReasons.ReceiverRejected, `${d.what} refused the notification with HTTP ${status}`, { retryable: false });
  }

  async close(): Promise<void> {
    const all = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(all.map((a) => a.close().catch(() => {})));
  }

  private agent(field: string): Agent {
    let agent = this.agents.get(field);
    if (!agent) {
      const connect = buildConnector({ ...(this.ca?.length ? { ca: [...rootCertificates, ...this.ca] } : {}), lookup: this.outbound.lookupFor(field) as never });
      const outbound = this.outbound;
      agent = new Agent({
        connect: (options, callback) => {
          try {
            outbound.checkLiteral(options.hostname, field);
          } catch (err) {
            callback(err as Error, null);
            return;
          }
          connect(options, callback);
        },
        keepAliveTimeout: 30_000,
      });
      this.agents.set(field, agent);
    }
    return agent;
  }
}

/** Retry-After as seconds or an HTTP date; capped at 10 minutes. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const seconds = Number(v);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 600_000) : undefined;
}
