// The Proxmox VE API client: one per cluster, typed by the API model (api-types.ts), parsing the
// fields it reads with zod. What it guarantees:
// - a mutating request (POST, PUT, DELETE) is sent again only when PVE cannot have acted on it: the
//   connection never opened, or PVE refused it outright ("got no worker upid", a config lock wait
//   that timed out, 401 before a ticket refresh). When it went out and no answer came, the caller
//   gets ProxmoxOutcomeUnknownError and must observe before deciding;
// - GETs are retried with backoff after network errors, timeouts and gateway errors;
// - at most `concurrency` requests are in flight (pvedaemon has few workers), over one pool;
// - every wait and deadline runs on the injected clock.
import type { LookupFunction } from 'node:net';
import type { z } from 'zod';
import { backoffDelay, type BackoffOptions } from '../../controller/backoff.ts';
import { realClock, type Clock } from '../../controller/clock.ts';
import { Semaphore } from '../ssh/semaphore.ts';
import type { ApiParams, ApiPath, HttpMethod, PathParams } from './api-types.ts';
import { TicketAuthenticator, TokenAuthenticator, type Authenticator, type Credentials, type Ticket } from './auth.ts';
import { fillPath, formEncode, isJsonMediaType, type Params } from './encoding.ts';
import {
  ProxmoxApiError,
  ProxmoxBadResponseError,
  ProxmoxErrorCodes,
  ProxmoxForbiddenError,
  ProxmoxOutcomeUnknownError,
  ProxmoxUnauthorizedError,
  ProxmoxUnreachableError,
  isTransientRefusal,
  LOGIN_REFUSED_HINT,
  TOKEN_REFUSED_HINT,
  type FieldErrors,
} from './errors.ts';
import { loginAnswer, envelope } from './schemas.ts';
import { Transport, TransportError, type TlsSettings } from './transport.ts';

export interface RetryPolicy extends BackoffOptions {
  /** Attempts in all, the first included. */
  attempts: number;
}

export interface ProxmoxClientOptions {
  /** https://host:port, as in ProxmoxCluster spec.endpoint. */
  endpoint: string;
  credentials: Credentials;
  tls?: TlsSettings;
  /** dns.lookup's signature, used for every socket (an address guard plugs in here). */
  lookup?: LookupFunction;
  clock?: Clock;
  /** Requests in flight at once, and sockets in the pool. */
  concurrency?: number;
  /** Deadline of one attempt, on the clock. */
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  random?: () => number;
  /** Called after every attempt (metrics, tests, the benchmark's request counts). */
  onAttempt?: (attempt: AttemptRecord) => void;
}

export interface AttemptRecord {
  method: HttpMethod;
  /** The path template, such as /nodes/{node}/qemu/{vmid}/clone. */
  template: string;
  status?: number;
  error?: string;
}

export interface CallArgs<M extends HttpMethod, Path extends string> extends CallOptions {
  path?: PathParams<Path>;
  params?: ApiParams<M, Path>;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Let a POST be sent again after a network failure: only for calls that change nothing (login). */
  idempotent?: boolean;
  /** Deadline of one attempt instead of the client's default. */
  timeoutMs?: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, initialMs: 250, maxMs: 5_000, factor: 2, jitter: 0.2 };
export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const API_PREFIX = '/api2/json';
/** Answers from a gateway in front of PVE that lost the request: it may or may not have arrived. */
const GATEWAY_LOST = new Set([502, 504, 596, 599]);
/** Answers that mean the request was not handled: 503 busy, 595 the node did not answer pveproxy. */
const NOT_HANDLED = new Set([503, 595]);

interface RawArgs extends CallOptions {
  path?: Record<string, string | number>;
  params?: Params;
}

class RequestTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'RequestTimeout';
  }
}

export class ProxmoxClient {
  readonly endpoint: string;
  private readonly transport: Transport;
  private readonly auth: Authenticator;
  private readonly clock: Clock;
  private readonly semaphore: Semaphore;
  private readonly retry: RetryPolicy;
  private readonly random: () => number;
  private readonly requestTimeoutMs: number;
  private readonly onAttempt?: (attempt: AttemptRecord) => void;

  constructor(opts: ProxmoxClientOptions) {
    const url = new URL(opts.endpoint);
    if (url.protocol !== 'https:') throw new RangeError('the Proxmox endpoint must be https');
    this.endpoint = url.origin;
    this.clock = opts.clock ?? realClock;
    const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
    this.semaphore = new Semaphore(concurrency);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.random = opts.random ?? Math.random;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.onAttempt = opts.onAttempt;
    this.transport = new Transport({ origin: url.origin, tls: opts.tls, connections: concurrency, lookup: opts.lookup });
    const creds = opts.credentials;
    this.auth = creds.kind === 'token'
      ? new TokenAuthenticator(creds.tokenId, creds.secret)
      : new TicketAuthenticator({ username: creds.username, password: creds.password, clock: this.clock, login: (u, p, s) => this.login(u, p, s) });
  }

  get<const P extends string, S extends z.ZodType>(path: ApiPath<'GET', P>, args: CallArgs<'GET', P>, schema: S): Promise<z.output<S>> {
    return this.call('GET', path, args as RawArgs, schema);
  }

  post<const P extends string, S extends z.ZodType>(path: ApiPath<'POST', P>, args: CallArgs<'POST', P>, schema: S): Promise<z.output<S>> {
    return this.call('POST', path, args as RawArgs, schema);
  }

  put<const P extends string, S extends z.ZodType>(path: ApiPath<'PUT', P>, args: CallArgs<'PUT', P>, schema: S): Promise<z.output<S>> {
    return this.call('PUT', path, args as RawArgs, schema);
  }

  delete<const P extends string, S extends z.ZodType>(path: ApiPath<'DELETE', P>, args: CallArgs<'DELETE', P>, schema: S): Promise<z.output<S>> {
    return this.call('DELETE', path, args as RawArgs, schema);
  }

  /** Logins made with a ticket (0 with a token). */
  get logins(): number {
    return this.auth instanceof TicketAuthenticator ? this.auth.logins : 0;
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  private async login(username: string, password: string, signal: AbortSignal): Promise<Ticket> {
    const data = await this.call('POST', '/access/ticket', { params: { username, password }, signal, idempotent: true }, loginAnswer, false);
    return { ticket: data.ticket, csrf: data.CSRFPreventionToken };
  }

  private async call<S extends z.ZodType>(
    method: HttpMethod,
    template: string,
    args: RawArgs,
    schema: S,
    authenticated = true,
  ): Promise<z.output<S>> {
    const path = fillPath(template, args.path ?? {});
    const mutating = method !== 'GET' && !args.idempotent;
    let reauthenticated = false;
    for (let attempt = 0; ; attempt++) {
      const last = attempt + 1 >= this.retry.attempts;
      try {
        const raw = await this.attempt(method, path, args, authenticated);
        this.onAttempt?.({ method, template, status: raw.status });
        return this.interpret(method, path, raw, schema);
      } catch (err) {
        if (args.signal?.aborted && !(err instanceof ProxmoxApiError)) {
          if (mutating && !(err instanceof TransportError && !err.sent)) {
            throw new ProxmoxOutcomeUnknownError(method, path, 'cancelled while the request was out', args.signal.reason);
          }
          throw args.signal.reason;
        }
        if (!(err instanceof ProxmoxApiError)) this.onAttempt?.({ method, template, error: (err as Error).message });
        const decision = this.decide(method, path, err, mutating, last);
        if (decision === 'reauthenticate' && !reauthenticated && this.auth.refused()) {
          reauthenticated = true;
          attempt--;
          continue;
        }
        if (decision instanceof Error) throw decision;
        if (decision !== 'retry') throw err;
        await this.sleep(backoffDelay(attempt, this.retry, this.random), args.signal);
      }
    }
  }

  /** What to do after a failed attempt: retry, log in again, or the error to throw. */
  private decide(method: HttpMethod, path: string, err: unknown, mutating: boolean, last: boolean): 'retry' | 'reauthenticate' | Error {
    if (err instanceof ProxmoxUnauthorizedError) return 'reauthenticate';
    if (err instanceof ProxmoxApiError) {
      if (isTransientRefusal(err) || NOT_HANDLED.has(err.status)) return last ? err : 'retry';
      if (GATEWAY_LOST.has(err.status)) {
        if (mutating) return new ProxmoxOutcomeUnknownError(method, path, `HTTP ${err.status} from a gateway`, err);
        return last ? err : 'retry';
      }
      return err;
    }
    if (err instanceof TransportError && err.tls) {
      return new ProxmoxUnreachableError(this.endpoint,
        `its TLS certificate was refused (${this.scrub(err.message)}): set tls.caBundle to the CA that signs it`,
        err, ProxmoxErrorCodes.ProxmoxTlsVerifyFailed);
    }
    const timedOut = err instanceof RequestTimeout;
    if (err instanceof TransportError || timedOut) {
      const notSent = err instanceof TransportError && !err.sent;
      const reason = this.scrub((err as Error).message);
      if (mutating && !notSent) return new ProxmoxOutcomeUnknownError(method, path, timedOut ? reason : `connection lost (${reason})`, err);
      return last ? new ProxmoxUnreachableError(this.endpoint, reason, err) : 'retry';
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  private async attempt(method: HttpMethod, path: string, args: RawArgs, authenticated: boolean) {
    const release = await this.semaphore.acquire(args.signal);
    const deadline = new AbortController();
    const timeoutMs = args.timeoutMs ?? this.requestTimeoutMs;
    const timer = this.clock.setTimer(() => deadline.abort(new RequestTimeout(timeoutMs)), timeoutMs);
    const signal = args.signal ? AbortSignal.any([args.signal, deadline.signal]) : deadline.signal;
    try {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (authenticated) Object.assign(headers, await this.auth.headers(method, signal));
      const params = args.params ?? {};
      let target = API_PREFIX + path;
      let body: string | undefined;
      if (method === 'GET' || method === 'DELETE') {
        const query = formEncode(params);
        if (query) target += `?${query}`;
      } else {
        body = formEncode(params);
        headers['content-type'] = 'application/x-www-form-urlencoded';
      }
      return await this.transport.send({ method, path: target, headers, body, signal });
    } finally {
      timer.cancel();
      release();
    }
  }

  private interpret<S extends z.ZodType>(method: HttpMethod, path: string, raw: { status: number; reason: string; contentType?: string; text: string }, schema: S): z.output<S> {
    let body: z.output<typeof envelope> | undefined;
    if (isJsonMediaType(raw.contentType)) {
      try {
        body = envelope.parse(JSON.parse(raw.text));
      } catch (err) {
        if (raw.status < 400) throw new ProxmoxBadResponseError(method, path, 'the body is not PVE\'s JSON envelope', err);
      }
    } else if (raw.status < 400) {
      throw new ProxmoxBadResponseError(method, path, `Content-Type ${raw.contentType ?? '(none)'} instead of application/json`);
    }
    if (raw.status >= 400) {
      const message = this.scrub((body?.message ?? raw.reason ?? '').trim()) || `HTTP ${raw.status}`;
      const fieldErrors: FieldErrors | undefined = body?.errors
        ? Object.fromEntries(Object.entries(body.errors).map(([k, v]) => [k, this.scrub(String(v))]))
        : undefined;
      const details = { method, path, status: raw.status, pveMessage: message, fieldErrors };
      if (raw.status === 401) throw new ProxmoxUnauthorizedError(details, this.auth instanceof TokenAuthenticator ? TOKEN_REFUSED_HINT : LOGIN_REFUSED_HINT);
      if (raw.status === 403) throw new ProxmoxForbiddenError(details);
      throw new ProxmoxApiError(details);
    }
    const parsed = schema.safeParse(body?.data);
    if (!parsed.success) {
      throw new ProxmoxBadResponseError(method, path, parsed.error.issues.map((i) => `${i.path.join('.') || 'data'}: ${i.message}`).join('; '));
    }
    return parsed.data;
  }

  /** PVE sometimes echoes parameters; none of our secrets may travel on in a message. */
  private scrub(text: string): string {
    let out = text;
    for (const secret of this.auth.secrets()) {
      if (secret) out = out.split(secret).join('***').split(encodeURIComponent(secret)).join('***');
    }
    return out;
  }

  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => { timer.cancel(); reject(signal?.reason); };
      const timer = this.clock.setTimer(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
