// List continue tokens in kube-apiserver's format: base64 of
// {"v":"meta.k8s.io/v1","rv":<list resourceVersion>,"start":"<next key>\u0000"}.
import { badRequest } from './errors.ts';

export interface ContinueToken {
  rv: number;
  /** The first key of the next page (exclusive of everything before it). */
  start: string;
}

export function encodeContinue(rv: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: `${lastKey}\u0000` })).toString('base64');
}

export function decodeContinue(token: string): ContinueToken {
  let parsed: { v?: string; rv?: number; start?: string };
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as typeof parsed;
  } catch {
    throw badRequest('continue key is not valid: illegal base64 data or not JSON');
  }
  if (parsed.v !== 'meta.k8s.io/v1') throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  if (typeof parsed.rv !== 'number' || parsed.rv <= 0) throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  if (typeof parsed.start !== 'string' || !parsed.start) throw badRequest('continue key is not valid: encoded start key empty');
  if (parsed.start.includes('..') || parsed.start.startsWith('/')) throw badRequest('continue key is not valid: key cannot contain "..", or start with "/"');
  return { rv: parsed.rv, start: parsed.start };
}
