// httpProbe: one request per rule per interval, from the controller's network, through the
// outbound guard. Success is a status inside expectedStatus within the timeout; anything else
// (a status outside it, a timeout, a refused connection, a certificate that does not verify) is a
// failure, with a message that says which. Redirects are not followed (a 3xx is a status like any
// other). Connections are kept alive per rule between probes.
import { rootCertificates } from 'node:tls';
import { Agent, buildConnector, request } from 'undici';
import { errorMessage } from '../../../controller/index.ts';
import type { Outbound } from '../outbound.ts';
import type { Evaluation } from '../series.ts';

export interface ProbeSpec {
  url: string;
  method: 'GET' | 'HEAD';
  expectedStatus: { min: number; max: number };
  timeoutMs: number;
  insecureSkipVerify: boolean;
}

export interface ProberOptions {
  outbound: Outbound;
  /** CA certificates trusted besides the system's (the operator's, e.g. a private PKI; tests). */
  ca?: string[];
}

export class HttpProber {
  private readonly opts: ProberOptions;
  private readonly dispatchers = new Map<string, Agent>();

  constructor(opts: ProberOptions) {
    this.opts = opts;
  }

  /** `field` names the rule (spec.rules[2].httpProbe.url): the guard's refusals say it; one pool per field. */
  async probe(spec: ProbeSpec, field: string, signal?: AbortSignal): Promise<Evaluation> {
    const timeout = AbortSignal.timeout(spec.timeoutMs);
    try {
      const res = await request(spec.url, {
        method: spec.method,
        dispatcher: this.dispatcher(field, spec.insecureSkipVerify),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        headersTimeout: spec.timeoutMs,
        bodyTimeout: spec.timeoutMs,
        headers: { 'user-agent': 'outrigger-alert-probe' },
      });
      await res.body.dump();
      const ok = res.statusCode >= spec.expectedStatus.min && res.statusCode <= spec.expectedStatus.max;
      const expected = `${spec.expectedStatus.min}-${spec.expectedStatus.max}`;
      return { active: !ok, message: `${spec.method} ${spec.url} answered ${res.statusCode}${ok ? '' : ` (expected ${expected})`}` };
    } catch (err) {
      if (signal?.aborted) throw err;
      const why = timeout.aborted ? `timed out after ${spec.timeoutMs} ms` : describeFailure(err);
      return { active: true, message: `${spec.method} ${spec.url} failed: ${why}` };
    }
  }

  /** Forgets pools of fields no rule uses any more (an Alert deleted or edited). */
  retain(fields: Set<string>): void {
    for (const [id, agent] of this.dispatchers) {
      if (fields.has(id.slice(id.indexOf('|') + 1))) continue;
      this.dispatchers.delete(id);
      void agent.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    const all = [...this.dispatchers.values()];
    this.dispatchers.clear();
    await Promise.all(all.map((a) => a.close().catch(() => {})));
  }

  private dispatcher(field: string, insecure: boolean): Agent {
    const id = `${insecure ? 'insecure' : 'verify'}|${field}`;
    let agent = this.dispatchers.get(id);
    if (!agent) {
      const tls = { rejectUnauthorized: !insecure, ...(this.opts.ca?.length ? { ca: [...rootCertificates, ...this.opts.ca] } : {}) };
      const connect = buildConnector({ ...tls, lookup: this.opts.outbound.lookupFor(field) as never });
      const outbound = this.opts.outbound;
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
        keepAliveTimeout: 60_000,
        connections: 4,
      });
      this.dispatchers.set(id, agent);
    }
    return agent;
  }
}

/** The cause of a failed request in a few words (node and undici wrap it a level or two down). */
export function describeFailure(err: unknown): string {
  const seen: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: string }).code;
    const message = errorMessage(e);
    if (code && !seen.some((s) => s.includes(code))) seen.push(`${message}${message.includes(code) ? '' : ` (${code})`}`);
    else if (!code && message && message !== 'fetch failed') seen.push(message);
    e = (e as { cause?: unknown }).cause;
  }
  return (seen.at(-1) ?? errorMessage(err)).slice(0, 300);
}
