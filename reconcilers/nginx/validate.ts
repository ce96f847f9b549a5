// Validation of everything a user writes that can reach an nginx configuration or a file on a host.
// The CRD schema checks the same fields first; this is the second, independent layer the reconciler
// runs on the values it is about to render (including values resolved from Workspaces and Secrets),
// so a schema bug or an object written around the API server still cannot inject configuration.
// Every check is an allow-list; errors name the field path and say what is allowed.
import { isIP, isIPv4 } from 'node:net';
import type { FieldError } from '../../crds/validate.ts';
import { ADDRESS_CLASS_DESCRIPTIONS, cidrSyntaxProblem, judgeAddress, upstreamPolicy } from '../net/index.ts';
import type { NginxRouteInput } from './input.ts';

export type { FieldError };

// ---- single values ------------------------------------------------------------------------------

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Characters nginx's parser gives meaning to, plus whitespace and control characters. */
export function hasConfigSyntax(value: string): boolean {
  return /[;{}"'\\$#`\s]/.test(value) || CONTROL.test(value);
}

function describeSyntax(value: string): string {
  if (/[\r\n]/.test(value)) return 'a line break';
  if (CONTROL.test(value)) return 'a control character';
  const m = /[;{}"'\\$#`\s]/.exec(value);
  return m ? `"${m[0] === ' ' ? 'space' : m[0]}"` : 'a forbidden character';
}

function dnsName(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  const labels = value.split('.');
  // The last label starts with a letter, so 2852039166 or 0xa9fea9fe never pass for a name.
  return labels.every((l) => DNS_LABEL.test(l)) && /^[a-z]/.test(labels[labels.length - 1]!);
}

/** Why a server name is unacceptable, or null. Exact names, one leading "*." wildcard, or IPv4. */
export function serverNameProblem(value: string): string | null {
  const allowed = 'use a lower-case DNS name such as app.example.com, a wildcard such as *.example.com, or an IPv4 address';
  if (typeof value !== 'string' || value === '') return `is empty; ${allowed}`;
  if (hasConfigSyntax(value)) return `contains ${describeSyntax(value)}; ${allowed}`;
  if (value.startsWith('~')) return `is a regular expression; regex server names are not allowed; ${allowed}`;
  if (value === '_' || value === '*' || value === '.' || value === 'default_server') return `is a catch-all name; ${allowed}`;
  if (value.startsWith('.') || value.endsWith('.*') || value.endsWith('.')) return `uses nginx's special leading-dot or trailing forms; ${allowed}`;
  if (value !== value.toLowerCase()) return `has upper-case letters; ${allowed}`;
  if (isIPv4(value)) return null;
  if (isIP(value)) return `is an IPv6 address; ${allowed}`;
  const name = value.startsWith('*.') ? value.slice(2) : value;
  if (name.includes('*')) return `has a wildcard that is not one leading "*." label; ${allowed}`;
  if (!dnsName(name)) return `is not a valid DNS name (labels of a-z, 0-9 and "-", at most 63 characters each, the last starting with a letter); ${allowed}`;
  if (value.startsWith('*.') && !name.includes('.')) return `wildcard must sit above at least two labels (*.example.com, not *.com); ${allowed}`;
  return null;
}

const PATH_ALLOWED = 'use a path such as / or /api/v1 made of A-Z a-z 0-9 and _ ~ ! & , = : @ . - / , without "." or ".." segments, "//", % escapes, query or fragment';

/** Why a location path is unacceptable, or null. */
export function pathProblem(value: string): string | null {
  if (typeof value !== 'string' || value === '') return `is empty; ${PATH_ALLOWED}`;
  if (value.length > 1024) return `is longer than 1024 characters; ${PATH_ALLOWED}`;
  if (!value.startsWith('/')) return `must start with "/"; ${PATH_ALLOWED}`;
  if (/%(0[0-9a-f]|1[0-9a-f]|7f)/i.test(value)) return `contains an encoded control character (${/%(0[0-9a-f]|1[0-9a-f]|7f)/i.exec(value)![0]}); ${PATH_ALLOWED}`;
  if (/%2e/i.test(value) || /%2f/i.test(value) || /%5c/i.test(value)) return `contains an encoded ".", "/" or "\\" (a traversal attempt); ${PATH_ALLOWED}`;
  if (value.includes('%')) return `contains a % escape; nginx matches decoded paths, so write the character itself; ${PATH_ALLOWED}`;
  if (hasConfigSyntax(value)) return `contains ${describeSyntax(value)}; ${PATH_ALLOWED}`;
  if (/[\^$*+?()[\]|\\]/.test(value)) return `contains a regular expression metacharacter; only literal prefix or exact paths are allowed; ${PATH_ALLOWED}`;
  if (/[?#]/.test(value)) return `contains a query or fragment; ${PATH_ALLOWED}`;
  if (value.includes('//')) return `contains "//"; ${PATH_ALLOWED}`;
  const segments = value.split('/').slice(1);
  if (segments.some((s) => s === '.' || s === '..')) return `contains a "." or ".." segment (path traversal); ${PATH_ALLOWED}`;
  if (!/^[A-Za-z0-9._~!&,=:@/-]+$/.test(value)) return `contains a character outside the allowed set; ${PATH_ALLOWED}`;
  return null;
}

/** Request headers nginx itself manages or that would let a client smuggle requests. */
const RESERVED_HEADERS = new Set(['connection', 'upgrade', 'content-length', 'transfer-encoding', 'te', 'trailer', 'keep-alive', 'proxy-connection', 'expect']);

export function headerNameProblem(value: string): string | null {
  const allowed = 'use letters, digits and "-" (such as X-Team), at most 128 characters';
  if (typeof value !== 'string' || value === '') return `is empty; ${allowed}`;
  if (value.length > 128) return `is longer than 128 characters; ${allowed}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(value)) return `contains ${hasConfigSyntax(value) ? describeSyntax(value) : 'a character other than letters, digits and "-"'}; ${allowed}`;
  if (RESERVED_HEADERS.has(value.toLowerCase())) return `is managed by the proxy and cannot be set (${[...RESERVED_HEADERS].join(', ')}); use the websocket switch for upgrades`;
  return null;
}

export function headerValueProblem(value: string): string | null {
  const allowed = 'allowed: literal text of letters, digits, spaces and _ . , : / = + * ! ? @ % & ( ) < > [ ] ^ | ~ # -, at most 1024 characters';
  if (typeof value !== 'string') return `is not text; ${allowed}`;
  if (value.length > 1024) return `is longer than 1024 characters; ${allowed}`;
  if (value.includes('$')) return `contains "$"; nginx variables are not allowed in header values; ${allowed}`;
  if (/[\r\n]/.test(value)) return `contains a line break (header injection); ${allowed}`;
  if (CONTROL.test(value)) return `contains a control character; ${allowed}`;
  if (value !== value.trim()) return `starts or ends with a space; ${allowed}`;
  if (!/^[A-Za-z0-9 _.,:/=+*!?@%&()<>[\]^|~#-]*$/.test(value)) return `contains ${describeSyntax(value)}; ${allowed}`;
  return null;
}

const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.azure.internal', 'instance-data', 'instance-data.ec2.internal', 'metadata.packet.net', 'metadata.platformequinix.com']);

/** Why an IP address must not be an upstream, or null (the project's one classifier decides). */
function forbiddenIp(addr: string): string | null {
  const verdict = judgeAddress(addr, upstreamPolicy);
  if (!verdict || verdict.allowed) return null;
  const what = ADDRESS_CLASS_DESCRIPTIONS[verdict.class];
  return verdict.embeddedIPv4 ? `carries the IPv4 address ${verdict.embeddedIPv4}, ${what}` : `is ${what}`;
}

/** At most this many vetted addresses per upstream name (nginx's round robin over them). */
export const MAX_PINNED_ADDRESSES = 16;

/**
 * The addresses a name was resolved to by the controller (pinned into the configuration, so nginx
 * never resolves a name itself): required for names, absent for IP literals, each allowed.
 */
export function pinnedAddressesProblem(address: string, pinned: readonly string[] | undefined): string | null {
  const allowed = 'a name must be resolved by the controller to addresses nginx may proxy to (not link-local, unspecified or cloud metadata), at most 16';
  if (isIP(address)) return pinned === undefined || pinned.length === 0 || (pinned.length === 1 && pinned[0] === address) ? null : 'is an IP address, so it takes no resolved addresses';
  if (pinned === undefined || pinned.length === 0) return `is a host name that was not resolved to vetted addresses (nginx is never left to resolve a name itself); ${allowed}`;
  if (pinned.length > MAX_PINNED_ADDRESSES) return `resolves to more than ${MAX_PINNED_ADDRESSES} addresses; ${allowed}`;
  for (const a of pinned) {
    if (typeof a !== 'string' || !isIP(a) || a.includes('%')) return `resolved to something that is not an IP address (${JSON.stringify(String(a).slice(0, 60))}); ${allowed}`;
    const why = forbiddenIp(a);
    if (why) return `resolves to ${a}, which ${why}; ${allowed}`;
  }
  return null;
}

const UPSTREAM_ALLOWED = 'use a lower-case host name or an IP address reachable from the host (not a unix socket, link-local, unspecified or cloud metadata address)';

export function upstreamAddressProblem(value: string): string | null {
  if (typeof value !== 'string' || value === '') return `is empty; ${UPSTREAM_ALLOWED}`;
  if (value.toLowerCase().startsWith('unix:') || value.includes('/')) return `is a unix socket or path; ${UPSTREAM_ALLOWED}`;
  if (hasConfigSyntax(value)) return `contains ${describeSyntax(value)}; ${UPSTREAM_ALLOWED}`;
  if (value.includes('[') || value.includes(']')) return `has brackets; write IPv6 addresses without them; ${UPSTREAM_ALLOWED}`;
  if (value.includes('%')) return `has a zone index or escape; ${UPSTREAM_ALLOWED}`;
  if (isIP(value)) {
    const why = forbiddenIp(value);
    return why ? `${why}; ${UPSTREAM_ALLOWED}` : null;
  }
  if (value.includes(':')) return `contains ":"; put the port in the port field; ${UPSTREAM_ALLOWED}`;
  if (!dnsName(value)) return `is neither an IP address nor a lower-case DNS name (numeric forms such as 2852039166 are not names); ${UPSTREAM_ALLOWED}`;
  if (METADATA_NAMES.has(value)) return `is a cloud metadata service name; ${UPSTREAM_ALLOWED}`;
  return null;
}

export function portProblem(value: unknown): string | null {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    return `must be a whole number from 1 to 65535, got ${JSON.stringify(value)}`;
  }
  return null;
}

/** Why a CIDR is unacceptable, or null. Host bits must be zero, so what is allowed is what is written. */
export function cidrProblem(value: string): string | null {
  const allowed = 'use a network such as 10.0.0.0/8, 192.168.1.0/24 or fd00::/64 (address bits past the prefix must be zero)';
  if (typeof value !== 'string' || hasConfigSyntax(value)) return `contains ${typeof value === 'string' ? describeSyntax(value) : 'no text'}; ${allowed}`;
  const problem = cidrSyntaxProblem(value);
  return problem ? `${problem}; ${allowed}` : null;
}

/** A redirect target: an absolute http(s) URL to a validated host, with a validated path. */
export function redirectTargetProblem(value: string): string | null {
  const allowed = 'use an absolute URL such as https://example.com/path (http or https, a DNS name or IP address, an optional port and a plain path)';
  if (typeof value !== 'string' || value === '') return `is empty; ${allowed}`;
  if (hasConfigSyntax(value)) return `contains ${describeSyntax(value)}; ${allowed}`;
  const m = /^(https?):\/\/([^/:?#@]+)(:(\d{1,5}))?(\/[^?#]*)?$/.exec(value);
  if (!m) return `is not a plain absolute URL (no user info, query or fragment); ${allowed}`;
  const host = m[2]!;
  if (!isIPv4(host) && !dnsName(host)) return `has an invalid host "${host.slice(0, 60)}"; ${allowed}`;
  if (isIPv4(host) && forbiddenIp(host)) return `points at an address that ${forbiddenIp(host)}; ${allowed}`;
  if (m[4] !== undefined && portProblem(Number(m[4]))) return `has a port outside 1-65535; ${allowed}`;
  if (m[5] !== undefined && m[5] !== '/' && pathProblem(m[5])) return `has a path that ${pathProblem(m[5])}`;
  return null;
}

const DURATION = /^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$/;

/** Milliseconds in a duration such as 30s, 1m30s or 500ms, or null if it is not one. */
export function durationMs(value: string): number | null {
  if (typeof value !== 'string' || value.length < 2 || !DURATION.test(value)) return null;
  const units: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const m of value.matchAll(/([0-9]+)(ms|d|h|m|s)/g)) total += Number(m[1]) * units[m[2]!]!;
  return total;
}

/** The only thing a Secret reference may name is a Secret in the route's own namespace. */
export function secretRefProblem(ref: unknown, namespace: string): string | null {
  const allowed = 'reference a Secret by name only; it is read from the ProxyRoute\'s own namespace';
  if (typeof ref !== 'object' || ref === null) return `must be an object with a name; ${allowed}`;
  const r = ref as Record<string, unknown>;
  if (r.namespace !== undefined && r.namespace !== namespace) return `names namespace ${JSON.stringify(String(r.namespace).slice(0, 63))}; Secrets in other namespaces cannot be used; ${allowed}`;
  if (typeof r.name !== 'string' || r.name.length > 253 || !r.name.split('.').every((l) => DNS_LABEL.test(l))) {
    return `has an invalid name (a lower-case DNS name such as my-tls is needed; "/", ".." and upper case are not allowed); ${allowed}`;
  }
  for (const k of Object.keys(r)) {
    if (!['name', 'key', 'namespace'].includes(k)) return `has an unknown field "${k.slice(0, 40)}"; ${allowed}`;
  }
  if (r.key !== undefined && (typeof r.key !== 'string' || !/^[-._a-zA-Z0-9]{1,253}$/.test(r.key))) return 'key must be a Secret data key (A-Z a-z 0-9 - _ .)';
  return null;
}

const HTPASSWD_HASH = /^(\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}|\{SHA\}[A-Za-z0-9+/]{27}=|\$apr1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}|\$[56]\$(rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86})$/;

/** An htpasswd file: lines of user:hash with bcrypt, {SHA}, apr1 or SHA-crypt hashes. Never echoes content. */
export function htpasswdProblem(content: string): string | null {
  const allowed = 'each line must be user:hash with a bcrypt ($2y$), {SHA}, $apr1$ or SHA-crypt ($5$, $6$) hash, as htpasswd -B writes';
  if (typeof content !== 'string') return `is not text; ${allowed}`;
  const lines = content.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l !== '');
  if (lines.length === 0) return `has no users; ${allowed}`;
  for (const [i, line] of lines.entries()) {
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon < 1 || !/^[A-Za-z0-9._@-]{1,64}$/.test(user)) return `line ${i + 1} has no valid user name (A-Z a-z 0-9 . _ @ -); ${allowed}`;
    if (!HTPASSWD_HASH.test(hash)) return `line ${i + 1} (user ${user}) has no supported hash (plain-text passwords are refused); ${allowed}`;
  }
  return null;
}

function objectNameProblem(value: string): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > 253 || !value.split('.').every((l) => DNS_LABEL.test(l))) {
    return 'must be a lower-case DNS name (a-z, 0-9, "-", ".")';
  }
  return null;
}

// ---- the whole route ----------------------------------------------------------------------------

/**
 * Checks a route input completely; returns every problem found (empty when it may be rendered).
 * Paths are spelled as in the ProxyRoute (spec.routes[0].path) so users can find the field.
 */
export function validateRouteInput(input: NginxRouteInput): FieldError[] {
  const errors: FieldError[] = [];
  const add = (path: string, problem: string | null) => {
    if (problem) errors.push({ path, message: problem });
  };
  add('metadata.namespace', objectNameProblem(input.namespace));
  add('metadata.name', objectNameProblem(input.name));

  if (!Array.isArray(input.serverNames) || input.serverNames.length === 0 || input.serverNames.length > 32) {
    errors.push({ path: 'spec.serverNames', message: 'needs 1 to 32 server names' });
  } else {
    const seen = new Set<string>();
    input.serverNames.forEach((n, i) => {
      add(`spec.serverNames[${i}]`, serverNameProblem(n));
      if (seen.has(n)) errors.push({ path: `spec.serverNames[${i}]`, message: `duplicates ${JSON.stringify(n)}; list each name once` });
      seen.add(n);
    });
  }

  if (!Array.isArray(input.routes) || input.routes.length === 0 || input.routes.length > 64) {
    errors.push({ path: 'spec.routes', message: 'needs 1 to 64 routes' });
  } else {
    const seen = new Set<string>();
    input.routes.forEach((r, i) => {
      const p = `spec.routes[${i}]`;
      add(`${p}.path`, pathProblem(r.path));
      const type = r.pathType ?? 'Prefix';
      if (type !== 'Prefix' && type !== 'Exact') errors.push({ path: `${p}.pathType`, message: 'must be Prefix or Exact' });
      const id = `${type} ${r.path}`;
      if (seen.has(id)) errors.push({ path: `${p}.path`, message: `duplicates ${type} path ${JSON.stringify(r.path)}; each path and pathType appears once` });
      seen.add(id);
      const up = r.upstream ?? ({} as NginxRouteInput['routes'][number]['upstream']);
      add(`${p}.upstream.address`, upstreamAddressProblem(up.address) ?? pinnedAddressesProblem(up.address, up.addresses));
      add(`${p}.upstream.port`, portProblem(up.port));
      if (up.protocol !== undefined && up.protocol !== 'HTTP' && up.protocol !== 'HTTPS') errors.push({ path: `${p}.upstream.protocol`, message: 'must be HTTP or HTTPS' });
      for (const k of ['connect', 'read', 'send'] as const) {
        const v = r.timeouts?.[k];
        if (v === undefined) continue;
        const ms = durationMs(v);
        const max = k === 'connect' ? 75_000 : 86_400_000;
        if (ms === null || ms < 1 || ms > max) {
          errors.push({ path: `${p}.timeouts.${k}`, message: `must be a duration such as 30s or 1m30s, from 1ms to ${k === 'connect' ? '75s (nginx\'s limit)' : '1d'}` });
        }
      }
      const headers = r.requestHeaders ?? [];
      if (headers.length > 32) errors.push({ path: `${p}.requestHeaders`, message: 'at most 32 headers' });
      const names = new Set<string>();
      headers.forEach((h, j) => {
        add(`${p}.requestHeaders[${j}].name`, headerNameProblem(h.name));
        add(`${p}.requestHeaders[${j}].value`, headerValueProblem(h.value));
        const lower = typeof h.name === 'string' ? h.name.toLowerCase() : '';
        if (names.has(lower)) errors.push({ path: `${p}.requestHeaders[${j}].name`, message: `duplicates header ${h.name}; set each header once` });
        names.add(lower);
      });
    });
  }

  if (input.tls) {
    const hsts = input.tls.hsts;
    if (hsts?.maxAgeSeconds !== undefined && (!Number.isInteger(hsts.maxAgeSeconds) || hsts.maxAgeSeconds < 0 || hsts.maxAgeSeconds > 63_072_000)) {
      errors.push({ path: 'spec.tls.hsts.maxAgeSeconds', message: 'must be a whole number of seconds from 0 to 63072000 (two years)' });
    }
    if (typeof input.tls.certificate !== 'string' || typeof input.tls.privateKey !== 'string') {
      errors.push({ path: 'spec.tls.secretRef', message: 'the Secret must hold tls.crt and tls.key' });
    }
  }

  const cidrs = input.access?.allowCIDRs ?? [];
  if (cidrs.length > 64) errors.push({ path: 'spec.access.allowCIDRs', message: 'at most 64 networks' });
  cidrs.forEach((c, i) => add(`spec.access.allowCIDRs[${i}]`, cidrProblem(c)));
  const auth = input.access?.basicAuth;
  if (auth) {
    add('spec.access.basicAuth.secretRef', htpasswdProblem(auth.htpasswd) && `Secret content: ${htpasswdProblem(auth.htpasswd)}`);
    if (auth.realm !== undefined && !/^[A-Za-z0-9 ._-]{1,64}$/.test(auth.realm)) {
      errors.push({ path: 'spec.access.basicAuth.realm', message: 'may hold only letters, digits, spaces, ".", "_" and "-" (1 to 64 characters)' });
    }
  }

  const rl = input.rateLimit;
  if (rl) {
    if (!Number.isInteger(rl.requestsPerSecond) || rl.requestsPerSecond < 1 || rl.requestsPerSecond > 100_000) {
      errors.push({ path: 'spec.rateLimit.requestsPerSecond', message: 'must be a whole number from 1 to 100000' });
    }
    if (rl.burst !== undefined && (!Number.isInteger(rl.burst) || rl.burst < 0 || rl.burst > 100_000)) {
      errors.push({ path: 'spec.rateLimit.burst', message: 'must be a whole number from 0 to 100000' });
    }
  }
  return errors;
}

/** Checks the references of a ProxyRoute spec as written (before anything is resolved). */
export function validateSpecReferences(spec: unknown, namespace: string): FieldError[] {
  const errors: FieldError[] = [];
  const s = (spec ?? {}) as { tls?: { secretRef?: unknown }; access?: { basicAuth?: { secretRef?: unknown } }; hostRef?: unknown };
  if (s.tls?.secretRef !== undefined) {
    const p = secretRefProblem(s.tls.secretRef, namespace);
    if (p) errors.push({ path: 'spec.tls.secretRef', message: p });
  }
  if (s.access?.basicAuth?.secretRef !== undefined) {
    const p = secretRefProblem(s.access.basicAuth.secretRef, namespace);
    if (p) errors.push({ path: 'spec.access.basicAuth.secretRef', message: p });
  }
  const host = s.hostRef as Record<string, unknown> | undefined;
  if (host && host.namespace !== undefined && host.namespace !== namespace) {
    errors.push({ path: 'spec.hostRef', message: 'must name a Host in the ProxyRoute\'s own namespace (no namespace field)' });
  }
  return errors;
}
