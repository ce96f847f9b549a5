// ProxyRoutes end to end: objects in a real kube-apiserver, the real controller in this process, real
// nginx and sshd on test hosts in network namespaces. Every request comes from the root namespace
// across the veth, as a user's would.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { ProxyRoute } from '../../crds/index.ts';
import type { SecretObject } from '../../reconcilers/common/secrets.ts';
import { controlPlaneSkipReason } from '../fixtures/controlplane.ts';
import { requestLoop, servedSerial } from '../fixtures/host-observations.ts';
import { createTestCa, hostsSkipReason, type TestCa, type TestHost, type IssuedCertificate } from '../fixtures/hosts.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { b64, createHost, httpRoute, readyOf, routeDir, routeFilesOnHost, startHarness, type Harness } from './proxyroute-harness.ts';

const skip = controlPlaneSkipReason() ?? hostsSkipReason();

function tlsSecret(h: Harness, name: string, cert: IssuedCertificate): SecretObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: h.ns.name }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(cert.certificate), 'tls.key': b64(cert.privateKey) } } as SecretObject;
}

/** Serial numbers compared as hex without case or leading zeros. */
const serial = (s: string): string => s.toLowerCase().replace(/^0+/, '');

describe('ProxyRoute reconciler on real nginx hosts', { skip }, () => {
  let h: Harness;
  let host: TestHost;
  let ca: TestCa;
  const issued: IssuedCertificate[] = [];
  const ref = (name: string) => ({ kind: 'ProxyRoute', namespace: h.ns.name, name });

  before(async () => {
    h = await startHarness({ hosts: 1, prefix: 'proute' });
    host = h.hosts[0]!;
    ca = createTestCa();
    await createHost(h, 'edge', host);
    await waitForCondition(h.cp.kubeConfig, { kind: 'Host', namespace: h.ns.name, name: 'edge' }, 'Ready', 'True');
  });
  after(async () => { await h?.stop(); });

  it('serves an HTTP route; status shows the applied hash, the reload and Ready (kubectl wait works)', async () => {
    await h.routes.create(httpRoute(h, 'app', 'edge', host.upstreams[0]!.port, { routes: [{ path: '/', upstream: { address: '127.0.0.1', port: host.upstreams[0]!.port }, requestHeaders: [{ name: 'X-Team', value: 'team a' }] }] }));
    const waited = await h.cp.kubectl(['wait', '-n', h.ns.name, '--for=condition=Ready', 'proxyroute/app', '--timeout=60s']);
    assert.equal(waited.code, 0, waited.stderr);
    const r = await host.request('http://app.test/hello?x=1');
    assert.equal(r.status, 200);
    const echoed = JSON.parse(r.body);
    assert.equal(echoed.identity, host.upstreams[0]!.identity);
    assert.equal(echoed.url, '/hello?x=1');
    assert.equal(echoed.headers['x-team'], 'team a');
    const route = await h.routes.get({ namespace: h.ns.name, name: 'app' });
    assert.match(route.status?.appliedConfigHash ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(route.status?.lastReload?.result, 'Succeeded');
    assert.ok(Date.parse(route.status?.lastReload?.time ?? '') > Date.now() - 120_000, 'lastReload.time is recent');
    assert.equal(route.status?.observedGeneration, route.metadata.generation);
    assert.deepEqual(route.status?.upstreams, [{ path: '/', address: '127.0.0.1', port: host.upstreams[0]!.port }]);
    assert.match(readyOf(route)?.message ?? '', /Served by nginx on Host/);
    assert.deepEqual(route.metadata.finalizers ?? [], [], 'no finalizer: deleting a route or its namespace never waits for a host');
  });

  it('an edit is live once the route reports Ready for the new generation', async () => {
    await h.routes.mergePatch({ namespace: h.ns.name, name: 'app' }, { spec: { routes: [{ path: '/', upstream: { address: '127.0.0.1', port: host.upstreams[1]!.port } }] } });
    await waitForCondition(h.cp.kubeConfig, ref('app'), 'Ready', 'True', { requireCurrentGeneration: true, timeoutMs: 60_000 });
    for (let i = 0; i < 5; i++) assert.equal(JSON.parse((await host.request('http://app.test/')).body).identity, host.upstreams[1]!.identity);
  });

  it('serves HTTPS with a certificate from a kubernetes.io/tls Secret; keys are 0600 on the host; status shows the expiry', async () => {
    const cert = ca.issue(['secure.test']);
    issued.push(cert);
    await h.secrets.create(tlsSecret(h, 'secure-tls', cert));
    await h.routes.create(httpRoute(h, 'secure', 'edge', host.upstreams[0]!.port, { tls: { secretRef: { name: 'secure-tls' }, hsts: { maxAgeSeconds: 600 } } }));
    const route = await waitForCondition(h.cp.kubeConfig, ref('secure'), 'Ready', 'True', { timeoutMs: 60_000 }) as ProxyRoute;
    const r = await host.request('https://secure.test/tls', { ca: ca.caPem });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).identity, host.upstreams[0]!.identity);
    assert.equal(r.headers['strict-transport-security'], 'max-age=600');
    const plain = await host.request('http://secure.test/x');
    assert.ok([301, 308].includes(plain.status), `HTTP redirects to HTTPS (got ${plain.status})`);
    assert.equal(plain.headers.location, 'https://secure.test/x');
    assert.equal(serial(await servedSerial(host, 'secure.test', ca)), serial(cert.serialNumber));

    const leaf = new X509Certificate(cert.certificate);
    assert.equal(Date.parse(route.status?.certificate?.notAfter ?? ''), Math.floor(leaf.validToDate.getTime() / 1000) * 1000);
    assert.deepEqual(route.status?.certificate?.dnsNames, ['secure.test']);
    const files = routeFilesOnHost(h, host, 'secure');
    const secretFiles = files.filter((f) => f.startsWith('tls.'));
    assert.equal(secretFiles.length, 2, `certificate and key on the host: ${files.join(', ')}`);
    for (const f of secretFiles) assert.equal(statSync(join(routeDir(h, host, 'secure'), f)).mode & 0o777, 0o600, `${f} is 0600`);
  });

  it('a renewed certificate Secret is served within 60 s', async () => {
    const renewed = ca.issue(['secure.test']);
    issued.push(renewed);
    const started = Date.now();
    await h.secrets.replace(tlsSecret(h, 'secure-tls', renewed));
    await waitFor(async () => serial(await servedSerial(host, 'secure.test', ca)) === serial(renewed.serialNumber), { description: 'nginx to serve the renewed certificate', timeoutMs: 60_000, intervalMs: 200 });
    const tookMs = Date.now() - started;
    console.log(`# renewed certificate served after ${tookMs} ms`);
    assert.ok(tookMs <= 60_000);
    const route = await waitFor(async () => {
      const r = await h.routes.get({ namespace: h.ns.name, name: 'secure' });
      return serial(r.status?.certificate?.serialNumber ?? '') === serial(renewed.serialNumber) ? r : undefined;
    }, { description: 'status to show the renewed certificate', timeoutMs: 30_000 });
    assert.equal(readyOf(route)?.status, 'True');
  });

  it('a route that fails nginx -t is quarantined while 49 others keep answering (no failed request during the change)', async () => {
    const names = Array.from({ length: 49 }, (_, i) => `q${i}`);
    await Promise.all(names.map((n, i) => h.routes.create(httpRoute(h, n, 'edge', host.upstreams[i % 2]!.port))));
    for (const n of names) await waitForCondition(h.cp.kubeConfig, ref(n), 'Ready', 'True', { timeoutMs: 60_000 });
    const reloadsBefore = h.proxyRoutes.hostNginx.get(`${h.ns.name}/edge`)!.status().reloads;

    const loop = requestLoop(host, names.map((n) => `${n}.test`));
    await waitFor(() => loop.stats.ok >= 100, { description: 'the request loop to get going' });
    // Valid for every validation layer, but longer than the host's server_names_hash_bucket_size:
    // only nginx -t finds out. A second route is edited in the same window and must go through.
    const longName = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.test`;
    await h.routes.create({ ...httpRoute(h, 'broken', 'edge', host.upstreams[0]!.port), spec: { ...httpRoute(h, 'broken', 'edge', host.upstreams[0]!.port).spec, serverNames: [longName] } });
    await h.routes.mergePatch({ namespace: h.ns.name, name: 'q0' }, { spec: { routes: [{ path: '/', upstream: { address: '127.0.0.1', port: host.upstreams[0]!.port }, requestHeaders: [{ name: 'X-Edited', value: 'yes' }] }] } });
    const broken = await waitFor(async () => {
      const r = await h.routes.get({ namespace: h.ns.name, name: 'broken' });
      return readyOf(r)?.reason === 'Quarantined' ? r : undefined;
    }, { description: 'the broken route to be quarantined', timeoutMs: 60_000 });
    await waitForCondition(h.cp.kubeConfig, ref('q0'), 'Ready', 'True', { requireCurrentGeneration: true, timeoutMs: 60_000 });
    const okAtChange = loop.stats.ok;
    await waitFor(() => loop.stats.ok >= okAtChange + 100, { description: 'more requests after the change' });
    await loop.stop();

    const ready = readyOf(broken)!;
    assert.equal(ready.reason, 'Quarantined', ready.message);
    assert.match(ready.message ?? '', /nginx -t failed: .*server_names_hash/);
    assert.equal(broken.status?.lastReload?.result, 'Failed');
    assert.equal(broken.status?.appliedConfigHash, undefined, 'nothing of it is live');
    assert.deepEqual(loop.stats.failures, [], 'no request to the other routes failed during the change');
    assert.ok(loop.stats.ok > 200, `requests answered: ${loop.stats.ok}`);
    assert.equal(JSON.parse((await host.request('http://q0.test/')).body).headers['x-edited'], 'yes');
    const reloads = h.proxyRoutes.hostNginx.get(`${h.ns.name}/edge`)!.status().reloads - reloadsBefore;
    assert.ok(reloads <= 2, `reloads for the change: ${reloads}`);
    await h.routes.delete({ namespace: h.ns.name, name: 'broken' });
  });

  it('a configuration file edited by hand on the host is restored', async () => {
    const dir = routeDir(h, host, 'app');
    const serverFile = readdirSync(dir).find((f) => f.startsWith('server.'))!;
    const path = join(dir, serverFile);
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, original.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:9'));
    await waitFor(() => readFileSync(path, 'utf8') === original, { description: 'the hand edit to be overwritten', timeoutMs: 30_000, intervalMs: 200 });
    await waitFor(async () => JSON.parse((await host.request('http://app.test/')).body).identity === host.upstreams[1]!.identity, { description: 'the restored configuration to be live', timeoutMs: 10_000 });
  });

  it('deleting a route removes its files from the host and reloads nginx', async () => {
    assert.ok(routeFilesOnHost(h, host, 'secure').length > 0);
    const reloadsBefore = h.proxyRoutes.hostNginx.get(`${h.ns.name}/edge`)!.status().reloads;
    await h.routes.delete({ namespace: h.ns.name, name: 'secure' });
    await waitFor(() => routeFilesOnHost(h, host, 'secure').length === 0, { description: 'the route\'s files to be removed', timeoutMs: 30_000 });
    await waitFor(() => h.proxyRoutes.hostNginx.get(`${h.ns.name}/edge`)!.status().reloads > reloadsBefore, { description: 'nginx to be reloaded', timeoutMs: 10_000 });
    const r = await host.request('http://secure.test/');
    assert.equal(r.status, 404, 'the default server answers: the route is gone');
  });

  it('a route that still carries the finalizer of an older version is taken off the host and released', async () => {
    await h.routes.create({ ...httpRoute(h, 'legacy', 'edge', host.upstreams[0]!.port), metadata: { name: 'legacy', namespace: h.ns.name, finalizers: ['outrigger.dev/cleanup'] } });
    await waitForCondition(h.cp.kubeConfig, ref('legacy'), 'Ready', 'True', { timeoutMs: 60_000 });
    assert.equal((await host.request('http://legacy.test/')).status, 200);
    await h.routes.delete({ namespace: h.ns.name, name: 'legacy' });
    await waitFor(async () => h.routes.get({ namespace: h.ns.name, name: 'legacy' }).then(() => false, (err) => String(err).includes('404')), { description: 'the finalizer to be released', timeoutMs: 30_000 });
    assert.deepEqual(routeFilesOnHost(h, host, 'legacy'), [], 'the files went before the finalizer did');
    assert.equal((await host.request('http://legacy.test/')).status, 404);
  });

  it('no secret value appears in the controller logs, events or status', async () => {
    const logs = h.logs();
    assert.ok(logs.split('\n').length > 100 && logs.includes('route status'), 'the controller logged (so the search below means something)');
    const events = await h.rest.request<{ items: Array<Record<string, unknown>> }>('GET', `/apis/events.k8s.io/v1/namespaces/${h.ns.name}/events`);
    assert.ok(events.items.length > 0, 'the controller recorded events');
    const statuses = [
      ...(await h.routes.list(h.ns.name)).items.map((o) => o.status),
      ...(await h.hostObjects.list(h.ns.name)).items.map((o) => o.status),
    ];
    const haystack = { logs, events: JSON.stringify(events.items), status: JSON.stringify(statuses) };
    const needles: Array<[string, string]> = [];
    const keyLines = (pem: string) => pem.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'));
    for (const cert of issued) for (const line of keyLines(cert.privateKey)) needles.push(['TLS private key', line]);
    for (const line of keyLines(host.clientPrivateKey)) needles.push(['SSH private key', line]);
    assert.ok(needles.length > 20);
    for (const [where, text] of Object.entries(haystack)) {
      for (const [what, needle] of needles) assert.ok(!text.includes(needle), `${what} material found in ${where}`);
      // Also the base64 of the Secret data as the API stores it.
      for (const cert of issued) assert.ok(!text.includes(b64(cert.privateKey).slice(0, 60)), `base64 TLS key found in ${where}`);
    }
  });
});
