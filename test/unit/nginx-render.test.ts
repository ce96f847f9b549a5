// Rendering one route to nginx files: deterministic, and every feature table-tested with a reason.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderIndex, renderResolver, renderRoute, upstreamGroupName, zoneName, type RenderedRoute } from '../../reconcilers/nginx/render.ts';
import type { NginxRouteInput } from '../../reconcilers/nginx/input.ts';
import { errorCode } from '../../controller/errors.ts';

const DIR = '/etc/nginx/outrigger';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEsecretkeymaterial\n-----END PRIVATE KEY-----\n';

function base(mutate: (r: NginxRouteInput) => void = () => {}): NginxRouteInput {
  const r: NginxRouteInput = {
    namespace: 'team-a',
    name: 'app',
    serverNames: ['app.example.com'],
    routes: [{ path: '/', upstream: { address: '10.0.0.5', port: 8080 } }],
  };
  mutate(r);
  return r;
}

function render(r: NginxRouteInput): RenderedRoute {
  return renderRoute(r, { configDir: DIR });
}

function server(r: RenderedRoute): string {
  return r.files.find((f) => f.kind === 'server')!.content;
}

describe('renderRoute: a plain HTTP route, exactly', () => {
  it('renders the documented server block (golden output)', () => {
    const out = render(base());
    assert.equal(server(out), [
      '# Outrigger ProxyRoute team-a/app. Generated; edits are overwritten on the next apply.',
      'server {',
      '    listen 80;',
      '    server_name app.example.com;',
      '    include /etc/nginx/outrigger/current/resolver.inc;',
      '    access_log /etc/nginx/outrigger/logs/team-a_app.access.log outrigger_access;',
      '',
      '    location / {',
      '        set $outrigger_upstream "http://10.0.0.5:8080";',
      '        proxy_pass $outrigger_upstream;',
      '        proxy_http_version 1.1;',
      '        proxy_set_header Host $host;',
      '        proxy_set_header X-Real-IP $remote_addr;',
      '        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      '        proxy_set_header X-Forwarded-Proto $scheme;',
      '        proxy_set_header X-Forwarded-Host $host;',
      '    }',
      '}',
      '',
    ].join('\n'));
    assert.equal(out.key, 'team-a_app');
    assert.deepEqual(out.ports, [80]);
    assert.match(out.serverInclude, /^\/etc\/nginx\/outrigger\/routes\/team-a_app\/server\.[0-9a-f]{16}\.conf$/);
    assert.match(out.hash, /^sha256:[0-9a-f]{64}$/);
  });
});

interface Case {
  reason: string;
  input: NginxRouteInput;
  /** Substrings of the server file that must appear. */
  has?: string[];
  /** Substrings that must not appear. */
  hasNot?: string[];
  check?: (r: RenderedRoute) => void;
}

const cases: Case[] = [
  {
    reason: 'several server names share one server block, in the order given (the first is the primary name)',
    input: base((r) => { r.serverNames = ['b.example.com', 'a.example.com', '*.c.example.com'] }),
    has: ['server_name b.example.com a.example.com *.c.example.com;'],
  },
  {
    reason: 'a Prefix path matches whole segments: /api serves /api and /api/..., never /apiary',
    input: base((r) => { r.routes = [{ path: '/api', upstream: { address: '10.0.0.5', port: 80 } }] }),
    has: ['location = /api {', 'location /api/ {'],
    hasNot: ['location /api {'],
  },
  {
    reason: 'an Exact path is an exact location only',
    input: base((r) => { r.routes = [{ path: '/healthz', pathType: 'Exact', upstream: { address: '10.0.0.5', port: 80 } }] }),
    has: ['location = /healthz {'],
    hasNot: ['location /healthz/'],
  },
  {
    reason: 'an explicit Exact route wins over the exact part of a Prefix route on the same path (no duplicate location)',
    input: base((r) => { r.routes = [{ path: '/api', upstream: { address: '10.0.0.5', port: 80 } }, { path: '/api', pathType: 'Exact', upstream: { address: '10.0.0.6', port: 81 } }] }),
    check: (out) => {
      const text = server(out);
      assert.equal(text.split('location = /api {').length, 2, 'exactly one exact location');
      const exact = text.slice(text.indexOf('location = /api {'));
      assert.match(exact.slice(0, exact.indexOf('}')), /10\.0\.0\.6:81/);
    },
  },
  {
    reason: 'an IP upstream goes through a variable, as ever',
    input: base(),
    has: ['set $outrigger_upstream "http://10.0.0.5:8080";', 'proxy_pass $outrigger_upstream;'],
    hasNot: ['upstream outrigger_'],
  },
  {
    reason: 'a host name is pinned: an upstream group of the vetted addresses, so nginx never resolves the name (at load or per request)',
    input: base((r) => { r.routes = [{ path: '/', upstream: { address: 'backend.internal', port: 9000, addresses: ['10.0.0.9', '10.0.0.8'] } }] }),
    has: [`proxy_pass http://${upstreamGroupName('team-a_app', 'backend.internal', 9000)};`],
    hasNot: ['backend.internal', '$outrigger_upstream'],
    check: (out) => {
      const http = out.files.find((f) => f.kind === 'http')!;
      assert.equal(out.httpInclude, http.path);
      assert.ok(http.content.includes([`upstream ${upstreamGroupName('team-a_app', 'backend.internal', 9000)} {`, '    server 10.0.0.8:9000;', '    server 10.0.0.9:9000;', '}'].join('\n')), http.content);
      assert.ok(!http.content.includes('backend.internal'), 'the name appears nowhere nginx could resolve it');
    },
  },
  {
    reason: 'a DNS server rotating its answers changes no byte (no reload for a reordered answer)',
    input: base((r) => { r.routes = [{ path: '/', upstream: { address: 'backend.internal', port: 9000, addresses: ['10.0.0.9', '10.0.0.8'] } }] }),
    check: (out) => {
      const rotated = render(base((r) => { r.routes = [{ path: '/', upstream: { address: 'backend.internal', port: 9000, addresses: ['10.0.0.8', '10.0.0.9'] } }] }));
      assert.equal(rotated.hash, out.hash);
      const moved = render(base((r) => { r.routes = [{ path: '/', upstream: { address: 'backend.internal', port: 9000, addresses: ['10.0.0.8'] } }] }));
      assert.notEqual(moved.hash, out.hash, 'a changed answer is a new configuration');
    },
  },
  {
    reason: 'two locations to one name and port share one group; IPv6 pinned addresses are bracketed',
    input: base((r) => { r.routes = [{ path: '/a', upstream: { address: 'svc.internal', port: 80, addresses: ['fd00::5'] } }, { path: '/b', upstream: { address: 'svc.internal', port: 80, addresses: ['fd00::5'] } }] }),
    check: (out) => {
      const http = out.files.find((f) => f.kind === 'http')!.content;
      assert.equal(http.split('upstream outrigger_').length, 2, 'one group');
      assert.match(http, /server \[fd00::5\]:80;/);
    },
  },
  {
    reason: 'IPv6 upstreams are bracketed in the URL',
    input: base((r) => { r.routes = [{ path: '/', upstream: { address: 'fd00::5', port: 8080 } }] }),
    has: ['"http://[fd00::5]:8080"'],
  },
  {
    reason: 'an HTTPS upstream by name uses https, and asks for the name\'s certificate (SNI) although it connects to a pinned address',
    input: base((r) => { r.routes = [{ path: '/', upstream: { address: 'api.internal', port: 443, protocol: 'HTTPS', addresses: ['10.0.0.10'] } }] }),
    has: [`proxy_pass https://${upstreamGroupName('team-a_app', 'api.internal', 443)};`, 'proxy_ssl_server_name on;', 'proxy_ssl_name api.internal;'],
  },
  {
    reason: 'an HTTPS upstream by IP sends no made-up name',
    input: base((r) => { r.routes = [{ path: '/', upstream: { address: '10.0.0.10', port: 443, protocol: 'HTTPS' } }] }),
    has: ['"https://10.0.0.10:443"', 'proxy_ssl_server_name on;'],
    hasNot: ['proxy_ssl_name'],
  },
  {
    reason: 'an unpinned name is refused, never rendered for nginx to resolve',
    input: base(),
    check: () => {
      assert.throws(() => render(base((r) => { r.routes = [{ path: '/', upstream: { address: 'backend.internal', port: 9000 } }] })), (err: unknown) => errorCode(err) === 'InvalidSpec' && /not resolved to vetted addresses/.test(String(err)));
    },
  },
  {
    reason: 'websocket routes pass Upgrade and a mapped Connection header, with long timeouts for live editors',
    input: base((r) => { r.routes = [{ path: '/', websocket: true, upstream: { address: '10.0.0.5', port: 8080 } }] }),
    has: ['proxy_set_header Upgrade $http_upgrade;', 'proxy_set_header Connection $outrigger_connection_upgrade;', 'proxy_read_timeout 3600s;', 'proxy_send_timeout 3600s;'],
  },
  {
    reason: 'non-websocket routes do not forward Upgrade',
    input: base(),
    hasNot: ['Upgrade', 'proxy_read_timeout'],
  },
  {
    reason: 'timeouts are rendered in nginx units (seconds, or ms when not whole seconds)',
    input: base((r) => { r.routes = [{ path: '/', upstream: { address: '10.0.0.5', port: 80 }, timeouts: { connect: '1500ms', read: '2m', send: '30s' } }] }),
    has: ['proxy_connect_timeout 1500ms;', 'proxy_read_timeout 120s;', 'proxy_send_timeout 30s;'],
  },
  {
    reason: 'request headers are set literally, quoted',
    input: base((r) => { r.routes = [{ path: '/', upstream: { address: '10.0.0.5', port: 80 }, requestHeaders: [{ name: 'X-Team', value: 'team a (blue)' }] }] }),
    has: ['proxy_set_header X-Team "team a (blue)";'],
  },
  {
    reason: 'a user Host header replaces the default instead of sending Host twice',
    input: base((r) => { r.routes = [{ path: '/', upstream: { address: '10.0.0.5', port: 80 }, requestHeaders: [{ name: 'Host', value: 'internal.example' }] }] }),
    has: ['proxy_set_header Host "internal.example";'],
    hasNot: ['proxy_set_header Host $host;'],
  },
  {
    reason: 'allowCIDRs become allow lines followed by deny all',
    input: base((r) => { r.access = { allowCIDRs: ['10.0.0.0/8', 'fd00::/64'] } }),
    has: ['allow 10.0.0.0/8;\n    allow fd00::/64;\n    deny all;'],
  },
  {
    reason: 'basic auth points at the htpasswd file in the route directory, with the realm quoted',
    input: base((r) => { r.access = { basicAuth: { htpasswd: 'alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=', realm: 'Team A' } } }),
    has: ['auth_basic "Team A";', `auth_basic_user_file ${DIR}/routes/team-a_app/htpasswd.`],
    check: (out) => {
      const f = out.files.find((x) => x.kind === 'htpasswd')!;
      assert.equal(f.content, 'alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n');
      assert.ok(!server(out).includes('qUqP5'), 'the hash stays out of the server file');
    },
  },
  {
    reason: 'the rate limit zone lives in an http-level file; the server refers to it by a stable name',
    input: base((r) => { r.rateLimit = { requestsPerSecond: 5, burst: 10 } }),
    has: [`limit_req zone=${zoneName('team-a_app')} burst=10 nodelay;`, 'limit_req_status 429;'],
    check: (out) => {
      const noBurst = server(render(base((r) => { r.rateLimit = { requestsPerSecond: 5, burst: 0 } })));
      assert.match(noBurst, new RegExp(`limit_req zone=${zoneName('team-a_app')};`), 'nginx refuses burst=0, so it is left out');
      const http = out.files.find((f) => f.kind === 'http')!;
      assert.equal(out.httpInclude, http.path);
      assert.match(http.content, new RegExp(`limit_req_zone \\$binary_remote_addr zone=${zoneName('team-a_app')}:1m rate=5r/s;`));
    },
  },
  {
    reason: 'TLS with the default redirect: port 80 only redirects to HTTPS (308 keeps the method), 443 serves',
    input: base((r) => { r.tls = { certificate: CERT, privateKey: KEY } }),
    has: ['listen 80;', 'return 308 https://$host$request_uri;', 'listen 443 ssl;', `ssl_certificate ${DIR}/routes/team-a_app/tls.`, `ssl_certificate_key ${DIR}/routes/team-a_app/tls.`],
    check: (out) => {
      assert.deepEqual(out.ports, [80, 443]);
      const text = server(out);
      const plain = text.slice(0, text.indexOf('listen 443'));
      assert.ok(!plain.includes('proxy_pass'), 'the port-80 server does not proxy');
      assert.ok(!text.includes('MIIEsecret'), 'no key material in the server file');
    },
  },
  {
    reason: 'TLS without redirect: one server listens on both ports and proxies both',
    input: base((r) => { r.tls = { certificate: CERT, privateKey: KEY, redirectHTTP: false } }),
    has: ['listen 80;\n    listen 443 ssl;'],
    hasNot: ['return 308'],
  },
  {
    reason: 'HSTS is sent on HTTPS responses, including error responses (always)',
    input: base((r) => { r.tls = { certificate: CERT, privateKey: KEY, hsts: { maxAgeSeconds: 600, includeSubDomains: true, preload: true } } }),
    has: ['add_header Strict-Transport-Security "max-age=600; includeSubDomains; preload" always;'],
  },
  {
    reason: 'IPv6 listening is opt-in per host',
    input: base(),
    check: (out) => {
      const v6 = renderRoute(base(), { configDir: DIR, listenIPv6: true });
      assert.match(server(v6), /listen \[::\]:80;/);
      assert.doesNotMatch(server(out), /\[::\]/);
    },
  },
  {
    reason: 'locations are ordered by path, so the list order in the spec does not change the bytes',
    input: base((r) => { r.routes = [{ path: '/b', upstream: { address: '10.0.0.5', port: 80 } }, { path: '/a', upstream: { address: '10.0.0.5', port: 80 } }] }),
    check: (out) => {
      const swapped = render(base((r) => { r.routes = [{ path: '/a', upstream: { address: '10.0.0.5', port: 80 } }, { path: '/b', upstream: { address: '10.0.0.5', port: 80 } }] }));
      assert.equal(swapped.hash, out.hash);
      assert.ok(server(out).indexOf('location = /a') < server(out).indexOf('location = /b'));
    },
  },
];

describe('renderRoute: features', () => {
  for (const c of cases) {
    it(c.reason, () => {
      const out = render(c.input);
      const text = server(out);
      for (const s of c.has ?? []) assert.ok(text.includes(s), `missing ${JSON.stringify(s)} in:\n${text}`);
      for (const s of c.hasNot ?? []) assert.ok(!text.includes(s), `unexpected ${JSON.stringify(s)} in:\n${text}`);
      c.check?.(out);
    });
  }
});

describe('renderRoute: files and hashes', () => {
  const tlsRoute = base((r) => {
    r.tls = { certificate: CERT, privateKey: KEY };
    r.access = { basicAuth: { htpasswd: 'alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=' } };
    r.rateLimit = { requestsPerSecond: 1 };
  });

  it('is deterministic: the same input gives the same bytes and hash', () => {
    assert.deepEqual(render(tlsRoute), render(structuredClone(tlsRoute)));
  });

  it('lists secrets before the configurations that use them (write order)', () => {
    assert.deepEqual(render(tlsRoute).files.map((f) => f.kind), ['key', 'certificate', 'htpasswd', 'http', 'server']);
  });

  it('names every file by its content, so a generation never changes under nginx', () => {
    for (const f of render(tlsRoute).files) assert.ok(f.path.includes(f.sha256.slice(0, 16)), f.path);
  });

  it('a renewed certificate changes the certificate file, the server file that points at it, and the hash', () => {
    const renewed = structuredClone(tlsRoute);
    renewed.tls!.certificate = CERT.replace('MIIBcert', 'MIIBcert2');
    const a = render(tlsRoute);
    const b = render(renewed);
    assert.notEqual(a.hash, b.hash);
    assert.notEqual(a.serverInclude, b.serverInclude);
    assert.equal(a.files.find((f) => f.kind === 'key')!.path, b.files.find((f) => f.kind === 'key')!.path);
  });

  it('keeps every file inside the route directory under configDir', () => {
    for (const f of render(tlsRoute).files) assert.ok(f.path.startsWith(`${DIR}/routes/team-a_app/`), f.path);
  });

  it('refuses invalid input with a TerminalError naming the field (nothing is rendered)', () => {
    assert.throws(() => render(base((r) => { r.serverNames = ['a.com; evil'] })), (err: Error) => {
      assert.equal(errorCode(err), 'InvalidSpec');
      assert.equal(err.name, 'TerminalError');
      assert.match(err.message, /^spec\.serverNames\[0\]: /);
      return true;
    });
  });
});

describe('renderIndex and renderResolver', () => {
  it('includes http-level files before servers, and a loopback status server reporting the generation', () => {
    const text = renderIndex({ generation: 'g1-2', httpIncludes: ['/d/routes/a_b/http.1.conf'], serverIncludes: ['/d/routes/a_b/server.1.conf', '/d/routes/c_d/server.2.conf'], statusPort: 10080 });
    assert.ok(text.indexOf('http.1.conf') < text.indexOf('server.1.conf'));
    assert.match(text, /listen 127\.0\.0\.1:10080;/);
    assert.match(text, /return 200 "g1-2\\n";/);
    assert.match(text, /map \$http_upgrade \$outrigger_connection_upgrade/);
    // Every route's access log is written in this format (an Alert's errorRate reads it).
    assert.match(text, /log_format outrigger_access '\$msec \$status';/);
  });
  it('refuses a generation id that is not plain', () => {
    assert.throws(() => renderIndex({ generation: 'x"; }', httpIncludes: [], serverIncludes: [], statusPort: 1 }), RangeError);
  });
  it('keeps only IP literals from resolv.conf, brackets IPv6, and falls back to loopback', () => {
    assert.match(renderResolver(['10.0.0.2', 'fd00::53', 'evil; x']), /resolver 10\.0\.0\.2 \[fd00::53\] valid=30s;/);
    assert.match(renderResolver([]), /resolver 127\.0\.0\.1 valid=30s;/);
  });
});
