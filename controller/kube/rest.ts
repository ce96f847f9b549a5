// One HTTP(S) client for any Kubernetes API server. Configuration and credentials come from
// client-node's KubeConfig (kubeconfig files, in-cluster service account tokens, exec plugins);
// requests go over one keep-alive agent so a controller holds a handful of connections, not one per
// call. Generic over group/version/resource and subresource, which the generated per-group clients
// are not.
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';
import { OutriggerError, ErrorCodes } from '../errors.ts';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Fails the request if no answer arrives in time (watches pass none). */
  timeoutMs?: number;
  /** Counted as a list rather than a get. */
  isList?: boolean;
}

/** The metav1.Status a Kubernetes API server answers an error with. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: Array<{ field?: string; message?: string; reason?: string }> };
}

export class KubeApiError extends OutriggerError {
  readonly statusCode: number;
  readonly reason: string;
  readonly status: KubeStatus;

  constructor(method: string, path: string, statusCode: number, status: KubeStatus) {
    const reason = status.reason ?? String(statusCode);
    super(ErrorCodes.KubeApiError, `${method} ${path}: ${statusCode} ${reason}: ${status.message ?? ''}`.trim());
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.reason = reason;
    this.status = status;
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.statusCode === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.statusCode === 409;
export const isGone = (err: unknown): boolean => err instanceof KubeApiError && err.statusCode === 410;
export const isInvalid = (err: unknown): boolean => err instanceof KubeApiError && err.statusCode === 422;

export const ContentTypes = {
  json: 'application/json',
  mergePatch: 'application/merge-patch+json',
  jsonPatch: 'application/json-patch+json',
  applyPatch: 'application/apply-patch+yaml',
} as const;

interface Prepared {
  url: URL;
  options: https.RequestOptions;
}

export class KubeRest {
  readonly kubeConfig: KubeConfig;
  private agent?: http.Agent;
  /** Counts requests by verb, for benchmarks that report API writes. */
  readonly counts = { get: 0, list: 0, watch: 0, write: 0 };

  constructor(kubeConfig: KubeConfig) {
    this.kubeConfig = kubeConfig;
  }

  get server(): string {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new OutriggerError(ErrorCodes.KubeApiError, 'the kubeconfig has no current cluster');
    return cluster.server.replace(/\/+$/, '');
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    if (method !== 'GET') this.counts.write++;
    else if (opts.isList) this.counts.list++;
    else this.counts.get++;
    const { url, options } = await this.prepare(method, path, opts.query);
    const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string | number> = { ...(options.headers as Record<string, string>), Accept: 'application/json' };
    if (payload !== undefined) {
      headers['Content-Type'] = opts.contentType ?? ContentTypes.json;
      headers['Content-Length'] = Buffer.byteLength(payload);
    }
    const signal = combineSignals(opts.signal, opts.timeoutMs ?? 30_000);
    return new Promise<T>((resolve, reject) => {
      const req = transport(url).request(url, { ...options, method, headers, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          const parsed = parseJson(text);
          if (status >= 200 && status < 300) resolve(parsed as T);
          else reject(new KubeApiError(method, url.pathname, status, (parsed as KubeStatus) ?? { message: text.slice(0, 500) }));
        });
      });
      req.on('error', (err) => reject(new OutriggerError(ErrorCodes.ApiUnreachable, `${method} ${url.pathname}: ${err.message}`, { cause: err })));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /**
   * Opens a watch and yields its events (one JSON object per line) until the server closes the
   * stream or the signal aborts. A non-200 answer is thrown as a KubeApiError.
   */
  async *watch(path: string, query: Query, signal: AbortSignal): AsyncGenerator<{ type: string; object: any }> {
    this.counts.watch++;
    const { url, options } = await this.prepare('GET', path, { ...query, watch: 'true' });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = transport(url).request(url, { ...options, method: 'GET', signal, headers: { ...(options.headers as object), Accept: 'application/json' } }, resolve);
      req.on('error', (err) => reject(new OutriggerError(ErrorCodes.ApiUnreachable, `watch ${url.pathname}: ${err.message}`, { cause: err })));
      req.end();
    });
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      throw new KubeApiError('WATCH', url.pathname, res.statusCode ?? 0, (parseJson(text) as KubeStatus) ?? { message: text.slice(0, 500) });
    }
    const lines = createInterface({ input: res, crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        if (!line.trim()) continue;
        yield JSON.parse(line);
      }
    } finally {
      lines.close();
      res.destroy();
    }
  }

  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  private async prepare(method: string, path: string, query?: Query): Promise<Prepared> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const options: https.RequestOptions = { method, headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(options);
    // applyToHTTPSOptions makes a fresh agent per call; keep one keep-alive agent with the same TLS material.
    this.agent ??= url.protocol === 'https:'
      ? new https.Agent({ keepAlive: true, maxSockets: 64, ca: options.ca, cert: options.cert, key: options.key, rejectUnauthorized: options.rejectUnauthorized, servername: options.servername })
      : new http.Agent({ keepAlive: true, maxSockets: 64 });
    options.agent = this.agent;
    return { url, options };
  }
}

function transport(url: URL): typeof https | typeof http {
  return url.protocol === 'https:' ? https : http;
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function combineSignals(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}
