// The Host reconciler, and host-level failures as Hosts and ProxyRoutes report them: facts from a
// real machine (a network namespace with sshd and nginx), an unreachable address, a host key that
// is not the pinned one, and sshd going away and coming back.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { controlPlaneSkipReason } from '../fixtures/controlplane.ts';
import { hostsSkipReason, type TestHost } from '../fixtures/hosts.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { createHost, httpRoute, readyOf, routeFilesOnHost, startHarness, type Harness } from './proxyroute-harness.ts';

const skip = controlPlaneSkipReason() ?? hostsSkipReason();

describe('Host reconciler and host failures', { skip }, () => {
  let h: Harness;
  let a: TestHost;
  let b: TestHost;

  before(async () => {
    h = await startHarness({ hosts: 2, prefix: 'hosts' });
    [a, b] = h.hosts as [TestHost, TestHost];
  });
  after(async () => { await h?.stop(); });

  const untilReady = async <T extends Parameters<typeof readyOf>[0]>(what: string, get: () => Promise<T>, status: 'True' | 'False', reasons: string[], timeoutMs = 30_000): Promise<T> =>
    waitFor(async () => {
      const obj = await get();
      const ready = readyOf(obj);
      return ready?.status === status && (reasons.length === 0 || reasons.includes(ready.reason ?? '')) ? obj : undefined;
    }, { description: `${what} to be Ready=${status}${reasons.length ? ` (${reasons.join(' or ')})` : ''}`, timeoutMs });
  const hostReady = (name: string, status: 'True' | 'False', reasons: string[], timeoutMs?: number) =>
    untilReady(`Host ${name}`, () => h.hostObjects.get({ namespace: h.ns.name, name }), status, reasons, timeoutMs);
  const routeReady = (name: string, status: 'True' | 'False', reasons: string[], timeoutMs?: number) =>
    untilReady(`ProxyRoute ${name}`, () => h.routes.get({ namespace: h.ns.name, name }), status, reasons, timeoutMs);

  it('a reachable host becomes Ready with its facts; kubectl wait --for=condition=Ready host/x returns', async () => {
    await createHost(h, 'alpha', a);
    const waited = await h.cp.kubectl(['wait', '-n', h.ns.name, '--for=condition=Ready', 'host/alpha', '--timeout=60s']);
    assert.equal(waited.code, 0, waited.stderr);
    const host = await h.hostObjects.get({ namespace: h.ns.name, name: 'alpha' });
    const s = host.status!;
    assert.equal(s.reachable, true);
    assert.equal(s.observedGeneration, host.metadata.generation);
    assert.match(s.facts?.os ?? '', /Debian|Linux/);
    assert.match(s.facts?.nginxVersion ?? '', /^\d+\.\d+\.\d+/);
    assert.match(s.facts?.kernel ?? '', /^\d+\.\d+/);
    assert.ok(s.facts?.architecture);
    assert.ok((s.facts?.cpus ?? 0) >= 1);
    assert.ok((s.facts?.memoryBytes ?? 0) > 64 * 1024 * 1024);
    assert.match(s.hostKeyFingerprint ?? '', /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.ok(s.lastProbeTime);
    assert.match(readyOf(host)?.message ?? '', /nginx \d/);
  });

  it('an unreachable host is Ready=False with the reason and reachable=false', async () => {
    await createHost(h, 'nowhere', a, { address: '127.0.0.1', port: 1 });
    const host = await hostReady('nowhere', 'False', ['Unreachable']);
    assert.equal(host.status?.reachable, false);
    assert.match(readyOf(host)?.message ?? '', /127\.0\.0\.1:1/);
    const events = await h.rest.request<{ items: Array<{ reason?: string; regarding?: { name?: string } }> }>('GET', `/apis/events.k8s.io/v1/namespaces/${h.ns.name}/events`);
    assert.ok(events.items.some((e) => e.reason === 'Unreachable' && e.regarding?.name === 'nowhere'), 'a Warning event says why');
  });

  it('a host key that is not the pinned one is refused: Host and route say HostKeyMismatch, nothing is written; fixing the key recovers', async () => {
    // Host beta is machine b, but pinned to machine a's key.
    await createHost(h, 'beta', b, { hostKey: a.hostPublicKey });
    await h.routes.create(httpRoute(h, 'pinned', 'beta', b.upstreams[0]!.port));
    const host = await hostReady('beta', 'False', ['HostKeyMismatch']);
    const route = await routeReady('pinned', 'False', ['HostKeyMismatch']);
    const message = readyOf(route)?.message ?? '';
    assert.match(message, /host key/i);
    assert.match(message, /SHA256:/, 'the message names the fingerprints');
    assert.equal(host.status?.reachable, false);
    assert.deepEqual(readdirSync(b.nginx.managedDir), [], 'nothing was written on the host');

    await h.hostObjects.mergePatch({ namespace: h.ns.name, name: 'beta' }, { spec: { ssh: { hostKey: b.hostPublicKey } } });
    await waitForCondition(h.cp.kubeConfig, { kind: 'Host', namespace: h.ns.name, name: 'beta' }, 'Ready', 'True', { requireCurrentGeneration: true, timeoutMs: 30_000 });
    await routeReady('pinned', 'True', [], 30_000);
    assert.equal((await b.request('http://pinned.test/')).status, 200);
  });

  it('sshd stopped: Host and route report it while nginx keeps serving; sshd started: both recover', async () => {
    await b.stopSshd();
    try {
      const down = ['Unreachable', 'SshConnectionLost', 'SshTimeout'];
      await hostReady('beta', 'False', down);
      const route = await routeReady('pinned', 'False', down);
      assert.match(readyOf(route)?.message ?? '', /keeps serving/);
      assert.equal(route.status?.appliedConfigHash !== undefined, true, 'the live hash is kept');
      assert.equal((await b.request('http://pinned.test/')).status, 200, 'nginx keeps serving while SSH is down');
      // An edit made while the host is down is applied once it is back.
      await h.routes.mergePatch({ namespace: h.ns.name, name: 'pinned' }, { spec: { routes: [{ path: '/', upstream: { address: '127.0.0.1', port: b.upstreams[1]!.port } }] } });
    } finally {
      await b.startSshd();
    }
    await hostReady('beta', 'True', [], 30_000);
    await waitForCondition(h.cp.kubeConfig, { kind: 'ProxyRoute', namespace: h.ns.name, name: 'pinned' }, 'Ready', 'True', { requireCurrentGeneration: true, timeoutMs: 30_000 });
    assert.equal(JSON.parse((await b.request('http://pinned.test/')).body).identity, b.upstreams[1]!.identity);
    assert.ok(routeFilesOnHost(h, b, 'pinned').length > 0);
    assert.equal(h.platform.sshPool.counters().connectionsOpened <= 6, true, `SSH connections opened: ${h.platform.sshPool.counters().connectionsOpened}`);
  });
});

