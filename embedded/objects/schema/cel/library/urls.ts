// Kubernetes' URL library: url(), isURL() and the URL accessors. kube-apiserver parses with Go's
// net/url (ParseRequestURI: an absolute URI or an absolute path, no fragment), so this parser
// follows Go's rules and error texts rather than the WHATWG URL parser's.
import { celMap, type CelMap } from '@bufbuild/cel';
import { URL_DESC, makeOpaque, payloadOf } from '../opaque.ts';
import { BOOL, STRING, URL_T, list, map } from '../types.ts';
import { fn, method, type Overload } from './overload.ts';

export interface GoURL {
  raw: string;
  scheme: string;
  opaque: string;
  host: string;
  /** The path as written (escaped). */
  rawPath: string;
  rawQuery: string;
}

function goQuote(s: string): string {
  return JSON.stringify(s);
}

function urlError(raw: string, why: string): Error {
  return new Error(`parse ${goQuote(raw)}: ${why}`);
}

function validHost(host: string): string | undefined {
  let h = host;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return 'missing \']\' in host';
    const port = h.slice(end + 1);
    if (port && !/^:\d*$/.test(port)) return `invalid port ${goQuote(port)} after host`;
    return undefined;
  }
  const colon = h.lastIndexOf(':');
  if (colon >= 0) {
    const port = h.slice(colon);
    if (!/^:\d*$/.test(port)) return `invalid port ${goQuote(port)} after host`;
    h = h.slice(0, colon);
  }
  for (const c of h) {
    if (!/[A-Za-z0-9\-._~!$&'()*+,;=%:\[\] ]/.test(c) || c === ' ') return `invalid character ${goQuote(c)} in host name`;
  }
  return undefined;
}

/** Go's url.ParseRequestURI: what url() and isURL() accept. */
export function parseRequestURI(raw: string): GoURL {
  if (/[\x00-\x1f\x7f]/.test(raw)) throw urlError(raw, 'net/url: invalid control character in URL');
  let rest = raw;
  let scheme = '';
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(rest);
  if (m) {
    scheme = m[1]!.toLowerCase();
    rest = rest.slice(m[0].length);
  } else if (/^[^/?]*:/.test(rest) && !/^[A-Za-z]/.test(rest)) {
    throw urlError(raw, 'missing protocol scheme');
  }
  let rawQuery = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    rawQuery = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (!rest.startsWith('/')) {
    if (scheme) return { raw, scheme, opaque: rest, host: '', rawPath: '', rawQuery };
    throw urlError(raw, 'invalid URI for request');
  }
  let host = '';
  if (scheme && rest.startsWith('//') && !rest.startsWith('///')) {
    const authEnd = rest.indexOf('/', 2);
    const authority = authEnd < 0 ? rest.slice(2) : rest.slice(2, authEnd);
    rest = authEnd < 0 ? '' : rest.slice(authEnd);
    const at = authority.lastIndexOf('@');
    host = at >= 0 ? authority.slice(at + 1) : authority;
    const bad = validHost(host);
    if (bad) throw urlError(raw, bad);
  }
  if (/%(?![0-9A-Fa-f]{2})/.test(rest)) {
    const bad = /%(?![0-9A-Fa-f]{2}).{0,2}/.exec(rest)![0];
    throw urlError(raw, `invalid URL escape ${goQuote(bad)}`);
  }
  return { raw, scheme, opaque: '', host, rawPath: rest, rawQuery };
}

function hostname(u: GoURL): string {
  const h = u.host;
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

function port(u: GoURL): string {
  const h = u.host;
  const colon = h.lastIndexOf(':');
  if (colon < 0 || (h.startsWith('[') && colon < h.indexOf(']'))) return '';
  return h.slice(colon + 1);
}

const PATH_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@/%]/;

function escapedPath(u: GoURL): string {
  let out = '';
  for (const c of u.rawPath) out += PATH_SAFE.test(c) ? c : [...Buffer.from(c)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  return out;
}

function unescapeQuery(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function query(u: GoURL): CelMap {
  const out = new Map<string, string[]>();
  for (const part of u.rawQuery.split('&')) {
    if (!part || part.includes(';')) continue;
    const eq = part.indexOf('=');
    const k = unescapeQuery(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : unescapeQuery(part.slice(eq + 1));
    out.set(k, [...(out.get(k) ?? []), v]);
  }
  return celMap(out as never);
}

function toURL(s: string) {
  let u: GoURL;
  try {
    u = parseRequestURI(s);
  } catch (err) {
    throw new Error(`URL parse error during conversion from string: ${(err as Error).message}`);
  }
  return makeOpaque(URL_DESC, s, u);
}

function isURL(s: string): boolean {
  try {
    parseRequestURI(s);
    return true;
  } catch {
    return false;
  }
}

const get = (f: (u: GoURL) => unknown) => ((v: unknown) => f(payloadOf<GoURL>(v))) as never;

export const URL_OVERLOADS: Overload[] = [
  fn('string_to_url', 'url', [STRING], URL_T, toURL as never),
  fn('is_url_string', 'isURL', [STRING], BOOL, isURL as never),
  method('url_get_scheme', 'getScheme', URL_T, [], STRING, get((u) => u.scheme)),
  method('url_get_host', 'getHost', URL_T, [], STRING, get((u) => u.host)),
  method('url_get_hostname', 'getHostname', URL_T, [], STRING, get(hostname)),
  method('url_get_port', 'getPort', URL_T, [], STRING, get(port)),
  method('url_get_escaped_path', 'getEscapedPath', URL_T, [], STRING, get(escapedPath)),
  method('url_get_query', 'getQuery', URL_T, [], map(STRING, list(STRING)), get(query)),
];
