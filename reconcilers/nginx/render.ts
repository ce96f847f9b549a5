// Pure rendering: one validated route to its files on the host (server block, http-level rate-limit
// zone, certificate, key, htpasswd), and a generation's index that includes them. Same input, same
// bytes: file names carry a hash of their content, so a generation's files never change under it.
//
// nginx never resolves a name: an IP upstream goes through a variable (`set $outrigger_upstream ...;
// proxy_pass $outrigger_upstream;`), and a host name becomes an http-level `upstream` group of the
// addresses the controller resolved and vetted (pinned), with the name kept for TLS (SNI). A name in
// proxy_pass would be resolved by nginx at load, or per request with `resolver`, with no check of
// the answer (see README: "Upstream names").
import { createHash } from 'node:crypto';
import { isIP, isIPv6 } from 'node:net';
import { posix } from 'node:path';
import { TerminalError } from '../../controller/errors.ts';
import { ErrorCodes } from '../common/reasons.ts';
import { describeFieldErrors } from '../../crds/validate.ts';
import type { NginxLocationInput, NginxRouteInput } from './input.ts';
import { durationMs, validateRouteInput } from './validate.ts';

export interface RenderSettings {
  /** Absolute directory Outrigger owns on the host (Host spec.nginx.configDir). */
  configDir: string;
  /** Also listen on IPv6 ([::]:80, [::]:443). */
  listenIPv6?: boolean;
}

/** What a file is decides its mode on the host (keys and certificates 0600). */
export type RenderedFileKind = 'server' | 'http' | 'certificate' | 'key' | 'htpasswd';

export interface RenderedFile {
  path: string;
  kind: RenderedFileKind;
  content: string;
  sha256: string;
}

export interface RenderedRoute {
  /** `<namespace>_<name>`: unique, and the name of the route's directory on the host. */
  key: string;
  serverNames: string[];
  /** Ports the route listens on (80 and/or 443). */
  ports: number[];
  /** Every file, in the order they must be written (secrets before the configs that use them). */
  files: RenderedFile[];
  /** The server-block file, included in the http context by the generation index. */
  serverInclude: string;
  /** The http-level file (rate-limit zone), if any. */
  httpInclude?: string;
  /** `sha256:<hex>` over every file's path and content: the route's configuration hash. */
  hash: string;
}

export function routeKey(namespace: string, name: string): string {
  // "_" appears in neither a namespace nor a name, so the key maps back unambiguously.
  return `${namespace}_${name}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const WRITE_ORDER: Record<RenderedFileKind, number> = { key: 0, certificate: 1, htpasswd: 2, http: 3, server: 4 };

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function hostForUrl(address: string): string {
  return isIPv6(address) ? `[${address}]` : address;
}

/** The per-generation file every server includes for its `resolver` (the host's DNS servers). */
export function resolverInclude(configDir: string): string {
  return posix.join(configDir, 'current', 'resolver.inc');
}

export function renderResolver(resolvers: readonly string[]): string {
  const valid = resolvers.filter((r) => isIP(r) !== 0);
  const list = (valid.length > 0 ? valid : ['127.0.0.1']).map((r) => (isIPv6(r) ? `[${r}]` : r));
  return `# The host's DNS servers, for upstream names resolved per request. Generated.\nresolver ${list.join(' ')} valid=30s;\nresolver_timeout 5s;\n`;
}

/** The log format of every route's access log: time (seconds.millis) and status; errorRate reads it. */
export const ACCESS_LOG_FORMAT = 'outrigger_access';

/** Where a route's access log is on its host (nginx writes it; Outrigger only reads it). */
export function accessLogPath(configDir: string, key: string): string {
  return posix.join(configDir, 'logs', `${key}.access.log`);
}

/** The http-level rate-limit zone name for a route: derived from its key, stable across edits. */
export function zoneName(key: string): string {
  return `outrigger_${sha256(key).slice(0, 16)}`;
}

interface LocationBlock { match: string; body: string[] }

/** The upstream group of a pinned name: one per route, name and port (locations share it). */
export function upstreamGroupName(key: string, address: string, port: number): string {
  return `outrigger_${sha256(`${key}\n${address}\n${port}`).slice(0, 16)}`;
}

/** Pinned addresses in a stable order, so a DNS server rotating its answers changes no file. */
function pinned(up: NginxLocationInput['upstream']): string[] | null {
  return !isIP(up.address) && up.addresses && up.addresses.length > 0 ? [...new Set(up.addresses)].sort() : null;
}

function renderUpstreamGroup(name: string, addresses: string[], port: number): string[] {
  return [`upstream ${name} {`, ...addresses.map((a) => `    server ${hostForUrl(a)}:${port};`), '}'];
}

function locationBody(loc: NginxLocationInput, key: string): string[] {
  const up = loc.upstream;
  const scheme = up.protocol === 'HTTPS' ? 'https' : 'http';
  const custom = new Map((loc.requestHeaders ?? []).map((h) => [h.name.toLowerCase(), h]));
  const lines = pinned(up)
    ? [`proxy_pass ${scheme}://${upstreamGroupName(key, up.address, up.port)};`, 'proxy_http_version 1.1;']
    : [`set $outrigger_upstream "${scheme}://${hostForUrl(up.address)}:${up.port}";`, 'proxy_pass $outrigger_upstream;', 'proxy_http_version 1.1;'];
  const defaults: Array<[string, string]> = [
    ['Host', '$host'],
    ['X-Real-IP', '$remote_addr'],
    ['X-Forwarded-For', '$proxy_add_x_forwarded_for'],
    ['X-Forwarded-Proto', '$scheme'],
    ['X-Forwarded-Host', '$host'],
  ];
  // A header the user sets replaces the default of the same name instead of being sent twice.
  for (const [name, value] of defaults) if (!custom.has(name.toLowerCase())) lines.push(`proxy_set_header ${name} ${value};`);
  if (loc.websocket) {
    lines.push('proxy_set_header Upgrade $http_upgrade;', 'proxy_set_header Connection $outrigger_connection_upgrade;');
  }
  for (const h of loc.requestHeaders ?? []) lines.push(`proxy_set_header ${h.name} "${h.value}";`);
  const t = loc.timeouts ?? {};
  const longLived = loc.websocket ? 3_600_000 : undefined; // live editors keep sockets open for hours
  const connect = t.connect !== undefined ? durationMs(t.connect) : null;
  const read = t.read !== undefined ? durationMs(t.read) : longLived ?? null;
  const send = t.send !== undefined ? durationMs(t.send) : longLived ?? null;
  if (connect !== null) lines.push(`proxy_connect_timeout ${seconds(connect)};`);
  if (read !== null) lines.push(`proxy_read_timeout ${seconds(read)};`);
  if (send !== null) lines.push(`proxy_send_timeout ${seconds(send)};`);
  if (up.protocol === 'HTTPS') {
    lines.push('proxy_ssl_server_name on;');
    // The group's name is no host name: the upstream's certificate is asked for by the real one.
    if (pinned(up)) lines.push(`proxy_ssl_name ${up.address};`);
  }
  return lines;
}

/**
 * Prefix paths match whole segments: /api serves /api and /api/... but not /apiary, so it becomes
 * an exact location plus a /api/ prefix location. Explicit routes win over these derived ones.
 */
function locations(routes: NginxLocationInput[], key: string): LocationBlock[] {
  const explicit = new Map<string, NginxLocationInput>();
  for (const r of routes) {
    const type = r.pathType ?? 'Prefix';
    explicit.set(type === 'Exact' ? `= ${r.path}` : r.path, r);
  }
  const blocks = new Map<string, NginxLocationInput>(explicit);
  for (const r of routes) {
    if ((r.pathType ?? 'Prefix') !== 'Prefix' || r.path.endsWith('/')) continue;
    if (!explicit.has(`= ${r.path}`)) blocks.set(`= ${r.path}`, r);
    blocks.delete(r.path);
    if (!explicit.has(`${r.path}/`)) blocks.set(`${r.path}/`, r);
  }
  const sortKey = (m: string) => (m.startsWith('= ') ? `${m.slice(2)}\u0000=` : m);
  return [...blocks.entries()]
    .sort(([a], [b]) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0))
    .map(([match, r]) => ({ match, body: locationBody(r, key) }));
}

function indent(lines: string[], depth: number): string[] {
  return lines.map((l) => (l === '' ? '' : `${'    '.repeat(depth)}${l}`));
}

function hstsValue(h: NonNullable<NonNullable<NginxRouteInput['tls']>['hsts']>): string {
  const parts = [`max-age=${h.maxAgeSeconds ?? 31_536_000}`];
  if (h.includeSubDomains) parts.push('includeSubDomains');
  if (h.preload) parts.push('preload');
  return parts.join('; ');
}

/** Renders one route. Throws a TerminalError naming every invalid field; nothing invalid is rendered. */
export function renderRoute(input: NginxRouteInput, settings: RenderSettings): RenderedRoute {
  const errors = validateRouteInput(input);
  if (errors.length > 0) {
    throw new TerminalError(ErrorCodes.InvalidSpec, describeFieldErrors(errors), { field: errors[0]!.path });
  }
  const key = routeKey(input.namespace, input.name);
  const dir = posix.join(settings.configDir, 'routes', key);
  const files: RenderedFile[] = [];
  const addFile = (kind: RenderedFileKind, stem: string, ext: string, content: string): string => {
    const hash = sha256(content);
    const path = posix.join(dir, `${stem}.${hash.slice(0, 16)}${ext}`);
    files.push({ path, kind, content, sha256: hash });
    return path;
  };

  const tls = input.tls;
  const certPath = tls ? addFile('certificate', 'tls', '.crt', tls.certificate.endsWith('\n') ? tls.certificate : `${tls.certificate}\n`) : undefined;
  const keyPath = tls ? addFile('key', 'tls', '.key', tls.privateKey.endsWith('\n') ? tls.privateKey : `${tls.privateKey}\n`) : undefined;
  const auth = input.access?.basicAuth;
  const htpasswdPath = auth ? addFile('htpasswd', 'htpasswd', '', `${auth.htpasswd.split('\n').map((l) => l.replace(/\r$/, '')).filter(Boolean).join('\n')}\n`) : undefined;
  const zone = zoneName(key);
  const rl = input.rateLimit;
  const httpLines: string[] = [];
  if (rl) httpLines.push(`limit_req_zone $binary_remote_addr zone=${zone}:1m rate=${rl.requestsPerSecond}r/s;`);
  const groups = new Map<string, string[]>();
  for (const r of input.routes) {
    const addresses = pinned(r.upstream);
    if (!addresses) continue;
    const name = upstreamGroupName(key, r.upstream.address, r.upstream.port);
    if (!groups.has(name)) groups.set(name, renderUpstreamGroup(name, addresses, r.upstream.port));
  }
  for (const [, lines] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) httpLines.push(...lines);
  const httpPath = httpLines.length > 0
    ? addFile('http', 'http', '.conf', `# Outrigger ProxyRoute ${input.namespace}/${input.name}: http-level settings. Generated; edits are overwritten.\n${httpLines.join('\n')}\n`)
    : undefined;

  const v6 = settings.listenIPv6 === true;
  const listen = (port: number, ssl: boolean) => [`listen ${port}${ssl ? ' ssl' : ''};`, ...(v6 ? [`listen [::]:${port}${ssl ? ' ssl' : ''};`] : [])];
  const common: string[] = [
    `server_name ${input.serverNames.join(' ')};`,
    `include ${resolverInclude(settings.configDir)};`,
    `access_log ${accessLogPath(settings.configDir, key)} ${ACCESS_LOG_FORMAT};`,
  ];
  const guards: string[] = [];
  for (const c of input.access?.allowCIDRs ?? []) guards.push(`allow ${c};`);
  if ((input.access?.allowCIDRs ?? []).length > 0) guards.push('deny all;');
  if (auth && htpasswdPath) guards.push(`auth_basic "${auth.realm ?? 'Restricted'}";`, `auth_basic_user_file ${htpasswdPath};`);
  // nginx refuses burst=0: no burst is written as no parameter.
  if (rl) guards.push(`limit_req zone=${zone}${rl.burst ? ` burst=${rl.burst} nodelay` : ''};`, 'limit_req_status 429;');
  const locs = locations(input.routes, key).flatMap((l) => ['', `location ${l.match} {`, ...indent(l.body, 1), '}']);

  const servers: string[][] = [];
  const ports: number[] = [];
  if (tls && certPath && keyPath) {
    const redirect = tls.redirectHTTP !== false;
    const tlsLines = [`ssl_certificate ${certPath};`, `ssl_certificate_key ${keyPath};`];
    if (tls.hsts) tlsLines.push(`add_header Strict-Transport-Security "${hstsValue(tls.hsts)}" always;`);
    if (redirect) {
      servers.push([...listen(80, false), `server_name ${input.serverNames.join(' ')};`, '', 'location / {', '    return 308 https://$host$request_uri;', '}']);
      servers.push([...listen(443, true), ...common, ...tlsLines, ...guards, ...locs]);
    } else {
      servers.push([...listen(80, false), ...listen(443, true), ...common, ...tlsLines, ...guards, ...locs]);
    }
    ports.push(80, 443);
  } else {
    servers.push([...listen(80, false), ...common, ...guards, ...locs]);
    ports.push(80);
  }
  const serverText = [
    `# Outrigger ProxyRoute ${input.namespace}/${input.name}. Generated; edits are overwritten on the next apply.`,
    ...servers.flatMap((s) => ['server {', ...indent(s, 1), '}']),
    '',
  ].join('\n');
  const serverPath = addFile('server', 'server', '.conf', serverText);

  files.sort((a, b) => WRITE_ORDER[a.kind] - WRITE_ORDER[b.kind] || (a.path < b.path ? -1 : 1));
  const hash = `sha256:${sha256(files.map((f) => `${f.path}\n${f.sha256}`).join('\n'))}`;
  return { key, serverNames: [...input.serverNames], ports, files, serverInclude: serverPath, ...(httpPath ? { httpInclude: httpPath } : {}), hash };
}

export interface IndexInput {
  generation: string;
  /** http-level files first, then server files; each included once, in this order. */
  httpIncludes: string[];
  serverIncludes: string[];
  /** Loopback port of the status server that reports the generation (verification after reload). */
  statusPort: number;
}

/**
 * The generation's one file, which the host's nginx.conf includes from `<configDir>/current/*.conf`
 * inside `http {}`: shared maps, every route's files, and a loopback-only status server.
 */
export function renderIndex(input: IndexInput): string {
  if (!/^[a-z0-9-]{1,64}$/.test(input.generation)) throw new RangeError(`invalid generation id ${JSON.stringify(input.generation)}`);
  return [
    `# Outrigger generation ${input.generation}. Generated; do not edit: the next apply replaces it.`,
    'map $http_upgrade $outrigger_connection_upgrade {',
    '    default upgrade;',
    "    '' close;",
    '}',
    `log_format ${ACCESS_LOG_FORMAT} '$msec $status';`,
    ...input.httpIncludes.map((p) => `include ${p};`),
    ...input.serverIncludes.map((p) => `include ${p};`),
    'server {',
    `    listen 127.0.0.1:${input.statusPort};`,
    '    server_name outrigger-status;',
    '    access_log off;',
    '    location = /outrigger/generation {',
    `        return 200 "${input.generation}\\n";`,
    '    }',
    '    location / {',
    '        return 404;',
    '    }',
    '}',
    '',
  ].join('\n');
}
