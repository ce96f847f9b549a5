// The reconciler's own validation of everything that can reach an nginx configuration: every
// malicious input is rejected with an error naming the field and saying what is allowed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  cidrProblem,
  headerValueProblem,
  pathProblem,
  redirectTargetProblem,
  serverNameProblem,
  upstreamAddressProblem,
  validateRouteInput,
  validateSpecReferences,
} from '../../reconcilers/nginx/validate.ts';
import type { NginxRouteInput } from '../../reconcilers/nginx/input.ts';

function route(overrides: (r: NginxRouteInput) => void): NginxRouteInput {
  const r: NginxRouteInput = {
    namespace: 'team-a',
    name: 'app',
    serverNames: ['app.example.com'],
    routes: [{ path: '/', pathType: 'Prefix', upstream: { address: '10.0.0.5', port: 8080 }, requestHeaders: [{ name: 'X-Team', value: 'a' }] }],
    access: { allowCIDRs: ['10.0.0.0/8'] },
  };
  overrides(r);
  return r;
}

const r0 = (r: NginxRouteInput) => r.routes[0]!;

interface Malicious {
  reason: string;
  field: string;
  mutate: (r: NginxRouteInput) => void;
  /** Semantic checks only this layer makes (the schema's patterns cannot express them). */
  reconcilerOnly?: true;
}

const malicious: Malicious[] = [
  { reason: 'a ";" in a server name would end the directive and start a new one', field: 'spec.serverNames[0]', mutate: (r) => { r.serverNames = ['a.com; include /etc/passwd'] } },
  { reason: 'a "}" in a server name would close the server block (block breakout)', field: 'spec.serverNames[0]', mutate: (r) => { r.serverNames = ['a.com}server{'] } },
  { reason: 'a newline in a server name starts a new directive', field: 'spec.serverNames[0]', mutate: (r) => { r.serverNames = ['a.com\nreturn 200'] } },
  { reason: 'a regex server name (~) could match every host', field: 'spec.serverNames[0]', mutate: (r) => { r.serverNames = ['~^(.*)$'] } },
  { reason: 'the catch-all "_" would steal every unmatched request on the host', field: 'spec.serverNames[0]', mutate: (r) => { r.serverNames = ['_'] } },
  { reason: 'a bare "*" is a catch-all', field: 'spec.serverNames[0]', mutate: (r) => { r.serverNames = ['*'] } },
  { reason: 'a leading-dot name is nginx shorthand for a wildcard plus the name itself', field: 'spec.serverNames[0]', mutate: (r) => { r.serverNames = ['.example.com'] } },
  { reason: 'a path with ".." is a traversal attempt', field: 'spec.routes[0].path', mutate: (r) => { r0(r).path = '/static/../../etc' } },
  { reason: 'an encoded NUL (%00) hides a control character from review', field: 'spec.routes[0].path', mutate: (r) => { r0(r).path = '/a%00b' } },
  { reason: 'an encoded dot-dot (%2e%2e) is traversal in disguise', field: 'spec.routes[0].path', mutate: (r) => { r0(r).path = '/%2e%2e/secret' } },
  { reason: 'regex metacharacters in a prefix path would change matching if ever used in a regex location', field: 'spec.routes[0].path', mutate: (r) => { r0(r).path = '/api/(.*)' } },
  { reason: 'a "{" in a path breaks out of the location block', field: 'spec.routes[0].path', mutate: (r) => { r0(r).path = '/x{ return 200; }' } },
  { reason: 'CR/LF in a path splits the directive', field: 'spec.routes[0].path', mutate: (r) => { r0(r).path = '/x\r\nreturn 301 http://evil' } },
  { reason: 'a path must be absolute', field: 'spec.routes[0].path', mutate: (r) => { r0(r).path = 'relative' } },
  { reason: '"$" in a header value would expand nginx variables (e.g. leak $http_authorization upstream)', field: 'spec.routes[0].requestHeaders[0].value', mutate: (r) => { r0(r).requestHeaders = [{ name: 'X-A', value: '$http_authorization' }] } },
  { reason: 'a double quote in a header value closes the quoted string', field: 'spec.routes[0].requestHeaders[0].value', mutate: (r) => { r0(r).requestHeaders = [{ name: 'X-A', value: 'a"; return 200 "b' }] } },
  { reason: 'CRLF in a header value is header injection', field: 'spec.routes[0].requestHeaders[0].value', mutate: (r) => { r0(r).requestHeaders = [{ name: 'X-A', value: 'a\r\nX-Admin: 1' }] } },
  { reason: 'a space or ";" in a header name would inject a directive', field: 'spec.routes[0].requestHeaders[0].name', mutate: (r) => { r0(r).requestHeaders = [{ name: 'X-A b;', value: 'c' }] } },
  { reason: 'hop-by-hop headers such as Transfer-Encoding are managed by the proxy (request smuggling)', field: 'spec.routes[0].requestHeaders[0].name', reconcilerOnly: true, mutate: (r) => { r0(r).requestHeaders = [{ name: 'Transfer-Encoding', value: 'chunked' }] } },
  { reason: 'a unix socket upstream reaches local services that are not meant to be proxied', field: 'spec.routes[0].upstream.address', mutate: (r) => { r0(r).upstream.address = 'unix:/var/run/docker.sock' } },
  { reason: 'the link-local metadata address hands out cloud credentials', field: 'spec.routes[0].upstream.address', mutate: (r) => { r0(r).upstream.address = '169.254.169.254' } },
  { reason: 'an IPv4-mapped IPv6 address is the metadata address in disguise', field: 'spec.routes[0].upstream.address', mutate: (r) => { r0(r).upstream.address = '::ffff:169.254.169.254' } },
  { reason: 'fe80::/10 is link-local', field: 'spec.routes[0].upstream.address', mutate: (r) => { r0(r).upstream.address = 'fe80::1' } },
  { reason: 'the GCE metadata name', field: 'spec.routes[0].upstream.address', mutate: (r) => { r0(r).upstream.address = 'metadata.google.internal' } },
  { reason: 'AWS IPv6 metadata address', field: 'spec.routes[0].upstream.address', mutate: (r) => { r0(r).upstream.address = 'fd00:ec2::254' } },
  { reason: 'a decimal IP (2852039166 = 169.254.169.254) is not a name and slips past naive checks', field: 'spec.routes[0].upstream.address', mutate: (r) => { r0(r).upstream.address = '2852039166' } },
  { reason: 'the unspecified address 0.0.0.0 reaches the host itself on any port', field: 'spec.routes[0].upstream.address', mutate: (r) => { r0(r).upstream.address = '0.0.0.0' } },
  // Names are pinned to the addresses the controller resolved: nginx never resolves one itself, and
  // every pinned address gets the same scrutiny as a literal.
  { reason: 'a host name nobody resolved would leave nginx to resolve it, unchecked, per request', field: 'spec.routes[0].upstream.address', reconcilerOnly: true, mutate: (r) => { r0(r).upstream = { address: 'backend.internal.example', port: 80 } } },
  { reason: 'a name pinned to the metadata address', field: 'spec.routes[0].upstream.address', reconcilerOnly: true, mutate: (r) => { r0(r).upstream = { address: 'rebind.example', port: 80, addresses: ['10.0.0.7', '169.254.169.254'] } } },
  { reason: 'a name pinned to an IPv4-mapped metadata address', field: 'spec.routes[0].upstream.address', reconcilerOnly: true, mutate: (r) => { r0(r).upstream = { address: 'rebind.example', port: 80, addresses: ['::ffff:169.254.169.254'] } } },
  { reason: 'a name pinned to fe80::1', field: 'spec.routes[0].upstream.address', reconcilerOnly: true, mutate: (r) => { r0(r).upstream = { address: 'rebind.example', port: 80, addresses: ['fe80::1'] } } },
  { reason: 'a name pinned to something that is not an address (config injection through the pin)', field: 'spec.routes[0].upstream.address', reconcilerOnly: true, mutate: (r) => { r0(r).upstream = { address: 'rebind.example', port: 80, addresses: ['10.0.0.7; include /etc/passwd'] } } },
  { reason: 'an IPv4-compatible spelling (::a9fe:a9fe) of the metadata address', field: 'spec.routes[0].upstream.address', reconcilerOnly: true, mutate: (r) => { r0(r).upstream.address = '::a9fe:a9fe' } },
  { reason: 'the NAT64 spelling of the metadata address', field: 'spec.routes[0].upstream.address', reconcilerOnly: true, mutate: (r) => { r0(r).upstream.address = '64:ff9b::a9fe:a9fe' } },
  { reason: 'an address with a port or path smuggles a URL into proxy_pass', field: 'spec.routes[0].upstream.address', mutate: (r) => { r0(r).upstream.address = 'evil.com/x?' } },
  { reason: 'port 0 is not a port', field: 'spec.routes[0].upstream.port', mutate: (r) => { r0(r).upstream.port = 0 } },
  { reason: 'port 65536 is out of range', field: 'spec.routes[0].upstream.port', mutate: (r) => { r0(r).upstream.port = 65536 } },
  { reason: 'a CIDR with "; allow all" would open access', field: 'spec.access.allowCIDRs[0]', mutate: (r) => { r.access = { allowCIDRs: ['10.0.0.0/8; allow all'] } } },
  { reason: 'host bits set (10.0.0.1/8) means something other than it looks like', field: 'spec.access.allowCIDRs[0]', reconcilerOnly: true, mutate: (r) => { r.access = { allowCIDRs: ['10.0.0.1/8'] } } },
  { reason: 'a realm with a quote breaks out of the auth_basic string', field: 'spec.access.basicAuth.realm', mutate: (r) => { r.access = { basicAuth: { htpasswd: 'u:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=', realm: 'x"; allow all; "' } } } },
  { reason: 'a plain-text password in the htpasswd Secret is refused', field: 'spec.access.basicAuth.secretRef', mutate: (r) => { r.access = { basicAuth: { htpasswd: 'admin:hunter2' } } } },
  { reason: 'a rate limit of 0 would be meaningless (and nginx rejects it)', field: 'spec.rateLimit.requestsPerSecond', mutate: (r) => { r.rateLimit = { requestsPerSecond: 0 } } },
  { reason: 'a connect timeout above 75s is beyond what nginx allows', field: 'spec.routes[0].timeouts.connect', reconcilerOnly: true, mutate: (r) => { r0(r).timeouts = { connect: '5m' } } },
  { reason: 'a namespace with "/" would leave the managed directory in file names', field: 'metadata.namespace', mutate: (r) => { r.namespace = '../etc' } },
];

describe('validateRouteInput: malicious inputs', () => {
  it('the table has at least 20 cases', () => assert.ok(malicious.length >= 20));
  it('accepts the base route', () => assert.deepEqual(validateRouteInput(route(() => {})), []));
  for (const m of malicious) {
    it(`rejects: ${m.reason}`, () => {
      const errors = validateRouteInput(route(m.mutate));
      assert.ok(errors.length > 0, 'expected an error');
      const e = errors.find((x) => x.path === m.field);
      assert.ok(e, `expected an error on ${m.field}, got ${JSON.stringify(errors)}`);
      // The message says what is allowed, not only what is wrong.
      assert.match(e.message, /use |must |may |allowed|each line|refused|managed/);
    });
  }
});

describe('validateRouteInput: legitimate inputs pass', () => {
  const good: Array<[string, (r: NginxRouteInput) => void]> = [
    ['a wildcard server name with two labels below it', (r) => { r.serverNames = ['*.example.com'] }],
    ['an IPv4 server name', (r) => { r.serverNames = ['192.0.2.10'] }],
    ['a loopback upstream (a service on the host itself)', (r) => { r0(r).upstream.address = '127.0.0.1' }],
    ['an IPv6 upstream', (r) => { r0(r).upstream.address = 'fd00::10' }],
    ['a host-name upstream pinned to the addresses it resolved to', (r) => { r0(r).upstream = { address: 'backend.internal.example', port: 80, addresses: ['10.0.0.7', 'fd00::7', '127.0.0.1'] } }],
    ['a path with allowed punctuation', (r) => { r0(r).path = '/api/v1/user@home/a,b=c:d~e!f&g-h_i.j' }],
    ['a header value with punctuation', (r) => { r0(r).requestHeaders = [{ name: 'X-Info', value: 'a=b, c/d (e) #1' }] }],
    ['an IPv6 CIDR', (r) => { r.access = { allowCIDRs: ['fd00::/64', '0.0.0.0/0'] } }],
    ['a bcrypt htpasswd', (r) => { r.access = { basicAuth: { htpasswd: 'alice:$2y$05$abcdefghijklmnopqrstuuJ3Pd0CZmVQe1JdR/ngcN5xHcyFHxa0q\n', realm: 'Team A' } } }],
  ];
  for (const [reason, mutate] of good) {
    it(`accepts ${reason}`, () => assert.deepEqual(validateRouteInput(route(mutate)), []));
  }
});

describe('single-value checks', () => {
  const cases: Array<[string, string | null, string]> = [
    ['upper case server names are refused (nginx lower-cases; ambiguous)', serverNameProblem('App.Example.com'), 'upper-case'],
    ['a wildcard above one label (*.com) is too broad', serverNameProblem('*.com'), 'two labels'],
    ['a trailing-wildcard nginx form (example.*)', serverNameProblem('example.*'), 'special'],
    ['a % escape in a path', pathProblem('/a%41'), '% escape'],
    ['a query in a path', pathProblem('/a?b=c'), 'metacharacter'],
    ['"//" in a path', pathProblem('//etc'), '"//"'],
    ['a "." segment', pathProblem('/a/./b'), 'segment'],
    ['a header value ending with a space', headerValueProblem('abc '), 'space'],
    ['a multicast upstream', upstreamAddressProblem('224.0.0.1'), 'multicast'],
    ['an upstream with brackets', upstreamAddressProblem('[::1]'), 'brackets'],
    ['an IPv6 CIDR with host bits', cidrProblem('fd00::1/64'), 'host bits'],
    ['a CIDR prefix beyond 32', cidrProblem('10.0.0.0/33'), 'longer than 32'],
    ['a redirect with a javascript: scheme', redirectTargetProblem('javascript:alert(1)'), 'absolute URL'],
    ['a redirect with user info (phishing)', redirectTargetProblem('https://good.com@evil.com/'), 'user info'],
    ['a redirect to the metadata address', redirectTargetProblem('http://169.254.169.254/latest'), 'link-local'],
    ['a redirect with a CRLF', redirectTargetProblem('https://a.com/\r\nSet-Cookie: x'), 'line break'],
  ];
  for (const [reason, problem, fragment] of cases) {
    it(`rejects ${reason}`, () => {
      assert.ok(problem, 'expected a problem');
      assert.ok(problem.includes(fragment), `"${problem}" should mention ${fragment}`);
    });
  }
  it('accepts a plain https redirect target', () => assert.equal(redirectTargetProblem('https://example.com:8443/welcome'), null));
});

describe('validateSpecReferences', () => {
  it('rejects a TLS Secret reference that names another namespace', () => {
    const errors = validateSpecReferences({ tls: { secretRef: { name: 'wildcard', namespace: 'kube-system' } } }, 'team-a');
    assert.equal(errors[0]?.path, 'spec.tls.secretRef');
    assert.match(errors[0]!.message, /other namespaces cannot be used/);
  });
  it('rejects a basic-auth Secret name that is a path', () => {
    const errors = validateSpecReferences({ access: { basicAuth: { secretRef: { name: '../kube-system/admin', key: 'auth' } } } }, 'team-a');
    assert.equal(errors[0]?.path, 'spec.access.basicAuth.secretRef');
  });
  it('accepts a same-namespace reference, explicit or implicit', () => {
    assert.deepEqual(validateSpecReferences({ tls: { secretRef: { name: 'app-tls', namespace: 'team-a' } }, access: { basicAuth: { secretRef: { name: 'users', key: 'auth' } } } }, 'team-a'), []);
  });
});

// The first layer, the CRD schema, must reject the same inputs where the spec can express them:
// two independent implementations that agree.
import { proxyRouteSpecSchema } from '../../crds/proxyroute.ts';

function toSpec(r: NginxRouteInput): unknown {
  return {
    hostRef: { name: 'edge' },
    serverNames: r.serverNames,
    routes: r.routes.map((x) => ({ path: x.path, pathType: x.pathType, upstream: { address: x.upstream.address, port: x.upstream.port }, ...(x.requestHeaders ? { requestHeaders: x.requestHeaders } : {}), ...(x.timeouts ? { timeouts: x.timeouts } : {}) })),
    ...(r.access ? { access: { ...(r.access.allowCIDRs ? { allowCIDRs: r.access.allowCIDRs } : {}), ...(r.access.basicAuth ? { basicAuth: { secretRef: { name: 'users' }, ...(r.access.basicAuth.realm ? { realm: r.access.basicAuth.realm } : {}) } } : {}) } } : {}),
    ...(r.rateLimit ? { rateLimit: r.rateLimit } : {}),
  };
}

describe('the CRD schema rejects the same malicious inputs', () => {
  it('accepts the base route', () => assert.equal(proxyRouteSpecSchema.safeParse(toSpec(route(() => {}))).success, true));
  // Contents of Secrets and object names are not part of the spec; only the reconciler sees them.
  const notInSpec = new Set(['spec.access.basicAuth.secretRef', 'metadata.namespace']);
  for (const m of malicious.filter((x) => !notInSpec.has(x.field) && !x.reconcilerOnly)) {
    it(`schema rejects: ${m.reason}`, () => {
      const result = proxyRouteSpecSchema.safeParse(toSpec(route(m.mutate)));
      assert.equal(result.success, false, 'the schema accepted it');
      const paths = result.error!.issues.map((i) => `spec.${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '').replace(/\.\[/g, '[')}`);
      assert.ok(paths.some((p) => m.field.startsWith(p) || p.startsWith(m.field)), `issues at ${paths.join(', ')}, expected ${m.field}`);
    });
  }
});
