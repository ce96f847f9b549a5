// Request bodies: read with the 3 MiB limit kube-apiserver enforces (413 beyond it), decoded
// from JSON or YAML according to Content-Type, with kube-apiserver's 400 messages when they
// do not parse.
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { MAX_REQUEST_BODY_BYTES, badRequest, requestEntityTooLarge, unsupportedMediaType } from '../api/errors.ts';
import { PROTOBUF_MEDIA_TYPE, decodeProtobufObject } from './protobuf.ts';

export function readBody(req: IncomingMessage, limit = MAX_REQUEST_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(requestEntityTooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(requestEntityTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
    });
  });
}

export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

const JSON_TYPES = new Set(['application/json', 'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']);
const YAML_TYPES = new Set(['application/yaml', 'application/apply-patch+yaml']);

/**
 * Parses a body as JSON or YAML; `accepted` are the media types this verb allows. `kind` names
 * the expected kind in errors ("the object provided is unrecognized (must be of type Widget)").
 */
export function decodeBody(buf: Buffer, contentType: string | undefined, accepted: string[], kind?: string): unknown {
  const media = mediaTypeOf(contentType) || 'application/json';
  if (!accepted.includes(media)) throw unsupportedMediaType(media, accepted);
  if (media === PROTOBUF_MEDIA_TYPE) return decodeProtobufObject(buf);
  const text = buf.toString('utf8');
  const prefix = kind ? `the object provided is unrecognized (must be of type ${kind}): ` : '';
  if (JSON_TYPES.has(media)) {
    if (text.trim() === '') throw badRequest(`${prefix}couldn't get version/kind; json parse error: unexpected end of JSON input`);
    try {
      return JSON.parse(text);
    } catch (err) {
      throw badRequest(`${prefix}couldn't get version/kind; json parse error: ${goJsonError(text, err as Error)} (${snippet(text)})`);
    }
  }
  if (YAML_TYPES.has(media)) {
    try {
      return parseYaml(text, { maxAliasCount: 100 });
    } catch (err) {
      const e = err as Error & { linePos?: { line: number }[] };
      const line = e.linePos?.[0]?.line ?? 1;
      const why = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      throw badRequest(`${prefix}yaml: line ${line}: ${why} (${buf.subarray(0, 200).toString('hex')})`);
    }
  }
  throw unsupportedMediaType(media, accepted);
}

/** How kube-apiserver quotes a body it could not parse: the first 30 characters. */
function snippet(text: string): string {
  return text.length > 30 ? `${text.slice(0, 30)} ...` : text;
}

/** encoding/json's syntax error text, as far as JSON.parse lets us tell. */
function goJsonError(text: string, err: Error): string {
  const m = /position (\d+)/.exec(err.message);
  const pos = m ? Number(m[1]) : -1;
  const ch = pos >= 0 && pos < text.trimEnd().length ? text[pos] : undefined;
  return ch === undefined ? 'unexpected end of JSON input' : `invalid character '${ch}' looking for beginning of value`;
}
