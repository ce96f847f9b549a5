// Calls an express app in-process, without a socket or a port: a request object is fed to the app
// and the response is captured when it ends. Tests use it to send AdmissionReviews to the app.
import { IncomingMessage, ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import { Socket } from 'node:net';
import type { Express } from 'express';

export interface InjectRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string or Buffer as it is. */
  body?: unknown;
}

export interface InjectResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  body: string;
  json<T = unknown>(): T;
}

export function inject(app: Express, request: InjectRequest, timeoutMs = 10_000): Promise<InjectResponse> {
  const payload =
    request.body === undefined ? undefined
    : Buffer.isBuffer(request.body) ? request.body
    : Buffer.from(typeof request.body === 'string' ? request.body : JSON.stringify(request.body));
  const req = new IncomingMessage(new Socket());
  req.method = request.method;
  req.url = request.url;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers ?? {})) headers[k.toLowerCase()] = v;
  if (payload) {
    headers['content-type'] ??= typeof request.body === 'object' && !Buffer.isBuffer(request.body) ? 'application/json' : 'application/octet-stream';
    headers['content-length'] = String(payload.length);
  }
  req.headers = headers;
  if (payload) req.push(payload);
  req.push(null);

  const res = new ServerResponse(req);
  const chunks: Buffer[] = [];
  const toBuffer = (chunk: unknown, encoding?: unknown): Buffer =>
    Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');

  return new Promise<InjectResponse>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${request.method} ${request.url}: no response within ${timeoutMs} ms`)), timeoutMs);
    res.write = ((chunk: unknown, encoding?: unknown) => {
      chunks.push(toBuffer(chunk, encoding));
      return true;
    }) as typeof res.write;
    res.end = ((chunk?: unknown, encoding?: unknown) => {
      if (chunk !== undefined && typeof chunk !== 'function') chunks.push(toBuffer(chunk, encoding));
      clearTimeout(timer);
      const body = Buffer.concat(chunks).toString('utf8');
      resolve({ status: res.statusCode, headers: res.getHeaders(), body, json: <T>() => JSON.parse(body) as T });
      return res;
    }) as typeof res.end;
    app(req as Parameters<Express>[0], res as Parameters<Express>[1]);
  });
}
