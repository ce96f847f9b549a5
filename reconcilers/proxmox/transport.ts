// One cluster's HTTPS transport: a single undici connection pool (the engine of Node's fetch) with
// the cluster's TLS settings and an optional DNS `lookup` for the socket (so an address guard can
// decide where the connection may go), and a classification of failures by whether the request
// could have reached PVE. Only this module touches the network.
import { getCACertificates } from 'node:tls';
import type { LookupFunction } from 'node:net';
import { Pool, errors as undiciErrors } from 'undici';

export interface TlsSettings {
  /** PEM CA certificates; when absent, Node's bundled roots and the system's. */
  caBundle?: string;
  /** Skip certificate verification for this cluster only. */
  insecureSkipVerify?: boolean;
}

export interface TransportOptions {
  /** https://host:port (no path). */
  origin: string;
  tls?: TlsSettings;
  /** Sockets at most (PVE's pveproxy has few workers; the client's concurrency limit matches it). */
  connections: number;
  /** dns.lookup's signature; used to resolve the host for every new socket. */
  lookup?: LookupFunction;
  /** Milliseconds to open a TCP + TLS connection (undici's connect phase). */
  connectTimeoutMs?: number;
}

export interface RawResponse {
  status: number;
  /** The HTTP reason phrase, where PVE also puts its message. */
  reason: string;
  contentType: string | undefined;
  text: string;
}

/**
 * A request that failed without an HTTP answer. `sent` is false when the failure happened before
 * any byte of the request could have left (connect, DNS, TLS): then PVE cannot have acted on it.
 */
export class TransportError extends Error {
  readonly sent: boolean;
  readonly tls: boolean;
  readonly code: string | undefined;
  constructor(message: string, opts: { sent: boolean; tls: boolean; code: string | undefined; cause: unknown }) {
    super(message, { cause: opts.cause });
    this.name = 'TransportError';
    this.sent = opts.sent;
    this.tls = opts.tls;
    this.code = opts.code;
  }
}

const BEFORE_SENDING = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL',
  'ENETDOWN', 'EHOSTDOWN', 'UND_ERR_CONNECT_TIMEOUT',
]);

function isTlsCode(code: string | undefined): boolean {
  return !!code && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.startsWith('CERT_') ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH');
}

function innermostCode(err: unknown): { code: string | undefined; message: string } {
  let current: unknown = err;
  let code: string | undefined;
  let message = err instanceof Error ? err.message : String(err);
  for (let depth = 0; current && depth < 5; depth++) {
    const c = (current as { code?: unknown }).code;
    if (typeof c === 'string') code = c;
    if (current instanceof Error && current.message) message = current.message;
    current = (current as { cause?: unknown }).cause;
  }
  return { code, message };
}

/** Classifies what undici threw; `aborted` says the abort signal fired (timeout or caller). */
export function classifyTransportError(err: unknown): TransportError {
  if (err instanceof TransportError) return err;
  const { code, message } = innermostCode(err);
  const tls = isTlsCode(code);
  // A lookup hook that refuses an address throws from the connect phase too.
  const fromLookup = (err as { lookupRefused?: boolean }).lookupRefused === true;
  const sent = !(tls || fromLookup || (code !== undefined && BEFORE_SENDING.has(code)));
  return new TransportError(message, { sent, tls, code, cause: err });
}

function caCertificates(tls: TlsSettings | undefined): string[] | undefined {
  if (tls?.caBundle) return [tls.caBundle];
  // Node's bundled Mozilla roots plus the machine's own store.
  return [...new Set([...getCACertificates('default'), ...getCACertificates('system')])];
}

export class Transport {
  private readonly pool: Pool;
  readonly origin: string;

  constructor(opts: TransportOptions) {
    this.origin = opts.origin;
    this.pool = new Pool(opts.origin, {
      connections: opts.connections,
      // The client's clock-driven deadline is the one timeout of a request; undici's own would fire on real time.
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
      connect: {
        ca: caCertificates(opts.tls),
        rejectUnauthorized: !opts.tls?.insecureSkipVerify,
        timeout: opts.connectTimeoutMs ?? 10_000,
        ...(opts.lookup ? { lookup: opts.lookup } : {}),
      },
    });
  }

  /** One request; throws TransportError when no HTTP answer came. */
  async send(req: { method: string; path: string; headers: Record<string, string>; body?: string; signal: AbortSignal }): Promise<RawResponse> {
    try {
      const res = await this.pool.request({
        method: req.method as 'GET',
        path: req.path,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
      });
      const text = await res.body.text();
      const contentType = res.headers['content-type'];
      return { status: res.statusCode, reason: res.statusText ?? '', contentType: Array.isArray(contentType) ? contentType[0] : contentType, text };
    } catch (err) {
      if (req.signal.aborted) throw req.signal.reason;
      if (err instanceof undiciErrors.RequestAbortedError && req.signal.aborted) throw req.signal.reason;
      throw classifyTransportError(err);
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
