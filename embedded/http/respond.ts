// Writing responses: JSON bodies, metav1.Status errors and Warning headers.
import type { ServerResponse } from 'node:http';
import type { ApiError } from '../api/errors.ts';

export function warningHeader(text: string): string {
  return `299 - ${JSON.stringify(text)}`;
}

export function sendJson(res: ServerResponse, code: number, body: unknown, contentType = 'application/json', warnings: string[] = []): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | string[]> = {
    'Content-Type': contentType,
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-cache, private',
  };
  if (warnings.length) headers.Warning = [...new Set(warnings)].map(warningHeader);
  res.writeHead(code, headers);
  res.end(text);
}

export function sendStatus(res: ServerResponse, err: ApiError, warnings: string[] = []): void {
  if (err.plainText !== undefined) return sendText(res, err.code, err.plainText);
  sendJson(res, err.code, err.status, 'application/json', warnings);
}

export function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), 'X-Content-Type-Options': 'nosniff' });
  res.end(text);
}
