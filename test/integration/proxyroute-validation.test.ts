// Malicious ProxyRoute inputs, through the real API and the real controller: each is rejected before
// anything reaches a file on the host. Most never get past the CRD schema (kube-apiserver refuses the
// object, naming the field). The rest are values the schema cannot see or lets through (a Workspace's
// status, Secret contents, IPv4-mapped IPv6, hop-by-hop headers): the reconciler refuses those with a
// condition naming the field, and writes nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ProxyRoute, Workspace } from '../../crds/index.ts';
import type { SecretObject } from '../../reconcilers/common/secrets.ts';
import { controlPlaneSkipReason } from '../fixtures/controlplane.ts';
import { createTestCa, hostsSkipReason, type TestHost } from '../fixtures/hosts.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { b64, createHost, readyOf, routeDir, startHarness, type Harness } from './proxyroute-harness.ts';

const skip = controlPlaneSkipReason() ?? hostsSkipReason();

type Spec = Record<string, any>;
const route0 = (spec: Spec) => spec.routes[0];

interface SchemaCase { why: string; field: string; mutate(spec: Spec): void }
interface ReconcilerCase {
  why: string;
  /** Ready=False reason the reconciler must give. */
  reason: string;
  /** The message must name this field. */
  field: string;
  /** And say what is wrong or allowed. */
  says: RegExp;
  mutate(spec: Spec, name: string): void;
  /** Objects the case needs first (Secrets, a Workspace with a hostile status). */
  prepare?(h: Harness, name: string): Promise<void>;
}

const schemaCases: SchemaCase[] = [
  { why: 'directive characters in a server name', field: 'spec.serverNames[0]', mutate: (s) => { s.serverNames = ['evil.test;include /etc/shadow'] } },
  { why: 'a regex server name', field: 'spec.serverNames[0]', mutate: (s) => { s.serverNames = ['~^(?<user>.+)\\.test$'] } },
  { why: 'the catch-all server name _', field: 'spec.serverNames[0]', mutate: (s) => { s.serverNames = ['_'] } },
  { why: 'a bare * server name', field: 'spec.serverNames[0]', mutate: (s) => { s.serverNames = ['*'] } },
  { why: 'a newline in a server name', field: 'spec.serverNames[0]', mutate: (s) => { s.serverNames = ['a.test\nserver_name b.test'] } },
  { why: 'path traversal', field: 'spec.routes[0].path', mutate: (s) => { route0(s).path = '/../../etc/passwd' } },
  { why: 'an encoded newline in a path', field: 'spec.routes[0].path', mutate: (s) => { route0(s).path = '/a%0aproxy_pass' } },
  { why: 'regex metacharacters in a prefix path', field: 'spec.routes[0].path', mutate: (s) => { route0(s).path = '/api(.*)$' } },
  { why: 'a block breakout in a path', field: 'spec.routes[0].path', mutate: (s) => { route0(s).path = '/a}location /{' } },
  { why: 'a quote in a path', field: 'spec.routes[0].path', mutate: (s) => { route0(s).path = '/a"b' } },
  { why: 'an nginx variable in a header value', field: 'spec.routes[0].requestHeaders[0].value', mutate: (s) => { route0(s).requestHeaders = [{ name: 'X-Leak', value: '$http_authorization' }] } },
  { why: 'CR/LF in a header value', field: 'spec.routes[0].requestHeaders[0].value', mutate: (s) => { route0(s).requestHeaders = [{ name: 'X-A', value: 'a\r\nX-Injected: 1' }] } },
  { why: 'a header name with ": "', field: 'spec.routes[0].requestHeaders[0].name', mutate: (s) => { route0(s).requestHeaders = [{ name: 'X-A: b', value: 'c' }] } },
  { why: 'a unix socket upstream', field: 'spec.routes[0].upstream.address', mutate: (s) => { route0(s).upstream.address = 'unix:/var/run/docker.sock' } },
  { why: 'the link-local metadata address', field: 'spec.routes[0].upstream.address', mutate: (s) => { route0(s).upstream.address = '169.254.169.254' } },
  { why: 'a cloud metadata host name', field: 'spec.routes[0].upstream.address', mutate: (s) => { route0(s).upstream.address = 'metadata.google.internal' } },
  { why: 'the metadata address written as a decimal number', field: 'spec.routes[0].upstream.address', mutate: (s) => { route0(s).upstream.address = '2852039166' } },
  { why: 'the unspecified IPv6 address', field: 'spec.routes[0].upstream.address', mutate: (s) => { route0(s).upstream.address = '::' } },
  { why: 'a directive after the upstream address', field: 'spec.routes[0].upstream.address', mutate: (s) => { route0(s).upstream.address = '127.0.0.1;' } },
  { why: 'port 0', field: 'spec.routes[0].upstream.port', mutate: (s) => { route0(s).upstream.port = 0 } },
  { why: 'port 70000', field: 'spec.routes[0].upstream.port', mutate: (s) => { route0(s).upstream.port = 70000 } },
  { why: 'a TLS Secret in another namespace', field: 'spec.tls.secretRef', mutate: (s) => { s.tls = { secretRef: { name: 'admin-tls', namespace: 'kube-system' } } } },
  { why: 'a basic-auth Secret name that climbs out', field: 'spec.access.basicAuth.secretRef.name', mutate: (s) => { s.access = { basicAuth: { secretRef: { name: '../kube-system/admin' } } } } },
  { why: 'a directive in an allowed CIDR', field: 'spec.access.allowCIDRs[0]', mutate: (s) => { s.access = { allowCIDRs: ['0.0.0.0/0; allow all'] } } },
  { why: 'a quote breakout in the realm', field: 'spec.access.basicAuth.realm', mutate: (s) => { s.access = { basicAuth: { secretRef: { name: 'auth' }, realm: 'x"; auth_basic off; "' } } } },
  { why: 'a Host in another namespace', field: 'spec.hostRef', mutate: (s) => { s.hostRef = { name: 'edge', namespace: 'kube-system' } } },
];

const ca = createTestCa();
const goodCert = ca.issue(['tls.test']);
const otherCert = ca.issue(['tls.test']);
const wrongNameCert = ca.issue(['other.test']);

const tlsSecret = (h: Harness, name: string, crt: string, key: string, type = 'kubernetes.io/tls'): SecretObject =>
  ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: h.ns.name }, type, data: { 'tls.crt': b64(crt), 'tls.key': b64(key) } }) as SecretObject;

async function workspaceWithEndpoint(h: Harness, name: string, endpointHost: string): Promise<void> {
  const ws = await h.workspaces.create({
    apiVersion: 'outrigger.dev/v1alpha1', kind: 'Workspace', metadata: { name, namespace: h.ns.name },
    spec: { owner: 'mallory', runtime: { docker: { hostRef: { name: 'edge' }, image: 'busybox' } } },
  } as unknown as Workspace);
  // Whoever can write a Workspace's status decides where its endpoints point.
  await h.rest.request('PUT', h.workspaces.objectPath({ namespace: h.ns.name, name }, 'status'), {
    body: {
      ...ws,
      status: {
        phase: 'Running',
        endpoints: [{ name: 'editor', protocol: 'TCP', host: endpointHost, port: 8080 }],
        conditions: [{ type: 'Ready', status: 'True', reason: 'Available', message: 'running', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }],
      },
    },
  });
}

const reconcilerCases: ReconcilerCase[] = [
  {
    why: 'the metadata address as an IPv4-mapped IPv6 address', reason: 'InvalidSpec', field: 'spec.routes[0].upstream.address', says: /169\.254\.169\.254/,
    mutate: (s) => { route0(s).upstream.address = '::ffff:a9fe:a9fe' },
  },
  {
    why: 'a request-smuggling hop-by-hop header', reason: 'InvalidSpec', field: 'spec.routes[0].requestHeaders[0].name', says: /managed by the proxy/,
    mutate: (s) => { route0(s).requestHeaders = [{ name: 'Transfer-Encoding', value: 'chunked' }] },
  },
  {
    why: 'a Workspace whose status points at the metadata address', reason: 'UpstreamRejected', field: 'spec.routes[0].upstream.workspaceRef', says: /link-local|metadata/,
    prepare: (h, name) => workspaceWithEndpoint(h, `${name}-ws`, '169.254.169.254'),
    mutate: (s, name) => { route0(s).upstream = { workspaceRef: { name: `${name}-ws`, port: 'editor' } } },
  },
  {
    why: 'a Workspace whose status smuggles a directive into the address', reason: 'UpstreamRejected', field: 'spec.routes[0].upstream.workspaceRef', says: /contains ";"/,
    prepare: (h, name) => workspaceWithEndpoint(h, `${name}-ws`, '127.0.0.1;return 200 pwned'),
    mutate: (s, name) => { route0(s).upstream = { workspaceRef: { name: `${name}-ws`, port: 'editor' } } },
  },
  {
    why: 'a plain-text password in the htpasswd Secret', reason: 'InvalidSpec', field: 'spec.access.basicAuth.secretRef', says: /plain-text passwords are refused/,
    prepare: (h, name) => h.secrets.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-auth`, namespace: h.ns.name }, data: { auth: b64('admin:hunter2-plaintext\n') } } as SecretObject).then(() => {}),
    mutate: (s, name) => { s.access = { basicAuth: { secretRef: { name: `${name}-auth` } } } },
  },
  {
    why: 'configuration smuggled into the htpasswd Secret', reason: 'InvalidSpec', field: 'spec.access.basicAuth.secretRef', says: /line 2/,
    prepare: (h, name) => h.secrets.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-auth`, namespace: h.ns.name }, data: { auth: b64('admin:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n}\nserver { listen 81; }\n') } } as SecretObject).then(() => {}),
    mutate: (s, name) => { s.access = { basicAuth: { secretRef: { name: `${name}-auth` } } } },
  },
  {
    why: 'a TLS key that does not match the certificate', reason: 'CertificateInvalid', field: 'spec.tls.secretRef', says: /does not match/,
    prepare: (h, name) => h.secrets.create(tlsSecret(h, `${name}-tls`, goodCert.certificate, otherCert.privateKey)).then(() => {}),
    mutate: (s, name) => { s.serverNames = ['tls.test']; s.tls = { secretRef: { name: `${name}-tls` } } },
  },
  {
    why: 'a certificate that does not cover the server name', reason: 'CertificateInvalid', field: 'spec.tls.secretRef', says: /does not cover tls\.test/,
    prepare: (h, name) => h.secrets.create(tlsSecret(h, `${name}-tls`, wrongNameCert.certificate, wrongNameCert.privateKey)).then(() => {}),
    mutate: (s, name) => { s.serverNames = ['tls.test']; s.tls = { secretRef: { name: `${name}-tls` } } },
  },
  {
    why: 'a private key hidden in tls.crt', reason: 'CertificateInvalid', field: 'spec.tls.secretRef', says: /only CERTIFICATE blocks/,
    prepare: (h, name) => h.secrets.create(tlsSecret(h, `${name}-tls`, goodCert.certificate + goodCert.privateKey, goodCert.privateKey)).then(() => {}),
    mutate: (s, name) => { s.serverNames = ['tls.test']; s.tls = { secretRef: { name: `${name}-tls` } } },
  },
  {
    why: 'a TLS Secret that is not of type kubernetes.io/tls', reason: 'InvalidSpec', field: 'spec.tls.secretRef', says: /kubernetes\.io\/tls/,
    prepare: (h, name) => h.secrets.create(tlsSecret(h, `${name}-tls`, goodCert.certificate, goodCert.privateKey, 'Opaque')).then(() => {}),
    mutate: (s, name) => { s.serverNames = ['tls.test']; s.tls = { secretRef: { name: `${name}-tls` } } },
  },
];

describe('malicious ProxyRoute inputs are rejected before anything reaches a file', { skip }, () => {
  let h: Harness;
  let host: TestHost;

  const baseSpec = (name: string): Spec => ({ hostRef: { name: 'edge' }, serverNames: [`${name}.test`], routes: [{ path: '/', upstream: { address: '127.0.0.1', port: host.upstreams[0]!.port } }] });
  const manifest = (name: string, spec: Spec) => ({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'ProxyRoute', metadata: { name, namespace: h.ns.name }, spec });
  /** Everything Outrigger wrote on the host, as text: no case may leave a trace in it. */
  const managedText = (): string => {
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (entry.isFile()) out.push(p, readFileSync(p, 'utf8'));
      }
    };
    if (existsSync(host.nginx.managedDir)) walk(host.nginx.managedDir);
    return out.join('\n');
  };

  before(async () => {
    h = await startHarness({ hosts: 1, prefix: 'proute-val' });
    host = h.hosts[0]!;
    await createHost(h, 'edge', host);
    // A valid route first: the host works, so a rejection below is about the input.
    await h.routes.create(manifest('valid', baseSpec('valid')) as unknown as ProxyRoute);
    await waitForCondition(h.cp.kubeConfig, { kind: 'ProxyRoute', namespace: h.ns.name, name: 'valid' }, 'Ready', 'True', { timeoutMs: 60_000 });
  });
  after(async () => { await h?.stop(); });

  it(`has at least 20 cases (${schemaCases.length} for the schema, ${reconcilerCases.length} for the reconciler)`, () => {
    assert.ok(schemaCases.length + reconcilerCases.length >= 20);
  });

  for (const [i, c] of schemaCases.entries()) {
    it(`the API refuses ${c.why}`, async () => {
      const name = `s${i}`;
      const spec = baseSpec(name);
      c.mutate(spec);
      const r = await h.cp.kubectl(['create', '-n', h.ns.name, '-f', '-'], { input: JSON.stringify(manifest(name, spec)) });
      assert.notEqual(r.code, 0, `kubectl create was accepted: ${r.stdout}`);
      assert.ok(r.stderr.includes(c.field), `the error names ${c.field}: ${r.stderr}`);
      await assert.rejects(h.routes.get({ namespace: h.ns.name, name }), /404/);
      assert.ok(!managedText().includes(`${h.ns.name}_${name}`), 'nothing on the host mentions it');
    });
  }

  for (const [i, c] of reconcilerCases.entries()) {
    it(`the reconciler refuses ${c.why} (the schema lets it through)`, async () => {
      const name = `r${i}`;
      await c.prepare?.(h, name);
      const spec = baseSpec(name);
      c.mutate(spec, name);
      await h.routes.create(manifest(name, spec) as unknown as ProxyRoute); // accepted by kube-apiserver
      const route = await waitFor(async () => {
        const obj = await h.routes.get({ namespace: h.ns.name, name });
        const ready = readyOf(obj);
        return ready?.status === 'False' && ready.reason !== 'Applying' ? obj : undefined;
      }, { description: `ProxyRoute ${name} to be refused`, timeoutMs: 30_000 });
      const ready = readyOf(route)!;
      assert.equal(ready.reason, c.reason, ready.message);
      assert.ok(ready.message?.includes(c.field), `the message names ${c.field}: ${ready.message}`);
      assert.match(ready.message ?? '', c.says);
      assert.equal(route.status?.conditions?.find((x) => x.type === 'Stalled')?.status, 'True', 'stalled until the input changes');
      assert.equal(route.status?.appliedConfigHash, undefined);
      assert.ok(!existsSync(routeDir(h, host, name)), 'no file of the route on the host');
      assert.ok(!managedText().includes(`${h.ns.name}_${name}`), 'nothing on the host mentions it');
    });
  }

  it('no rejected secret value appears in the controller logs, events or status', async () => {
    const events = await h.rest.request<{ items: unknown[] }>('GET', `/apis/events.k8s.io/v1/namespaces/${h.ns.name}/events`);
    const statuses = (await h.routes.list(h.ns.name)).items.map((o) => o.status);
    const logs = h.logs();
    assert.ok(logs.includes('route status') && events.items.length > 0, 'there is something to search');
    const keyLines = [goodCert, otherCert, wrongNameCert].flatMap((c) => c.privateKey.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----')));
    for (const [where, text] of Object.entries({ logs, events: JSON.stringify(events.items), status: JSON.stringify(statuses) })) {
      assert.ok(!text.includes('hunter2'), `the plain-text password is in ${where}`);
      assert.ok(!text.includes('W6ph5Mm5Pz8GgiULbPgzG37mj9g'), `the password hash is in ${where}`);
      for (const line of keyLines) assert.ok(!text.includes(line), `private key material is in ${where}`);
    }
  });

  it('the valid route kept serving throughout', async () => {
    const r = await host.request('http://valid.test/');
    assert.equal(r.status, 200);
    assert.equal(readyOf(await h.routes.get({ namespace: h.ns.name, name: 'valid' }))?.status, 'True');
    const text = managedText();
    for (const bad of ['hunter2', 'pwned', '169.254.169.254', 'a9fe', 'listen 81', 'Transfer-Encoding']) assert.ok(!text.includes(bad), `${bad} reached the host`);
  });
});
