// ProxyRoutes without a finalizer: a host's configuration is whatever the routes naming it say, so a
// route deleted while no controller runs is gone from the API at once and is removed from its host
// when a controller starts, even from a host no route names any more. Real kube-apiserver, real
// nginx and sshd on test hosts in network namespaces.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { controlPlaneSkipReason } from '../fixtures/controlplane.ts';
import { nginxReloads } from '../fixtures/host-observations.ts';
import { hostsSkipReason, type TestHost } from '../fixtures/hosts.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { createHost, httpRoute, routeFilesOnHost, startHarness, type Harness } from './proxyroute-harness.ts';

const skip = controlPlaneSkipReason() ?? hostsSkipReason();

describe('ProxyRoutes deleted while no controller runs', { skip }, () => {
  let h: Harness;
  let a: TestHost;
  let b: TestHost;
  let idle: TestHost;
  const ref = (name: string) => ({ kind: 'ProxyRoute', namespace: h.ns.name, name });
  const status = async (host: TestHost, name: string) => (await host.request(`http://${name}.test/`)).status;

  before(async () => {
    h = await startHarness({ hosts: 3, prefix: 'proute-life' });
    [a, b, idle] = h.hosts as [TestHost, TestHost, TestHost];
    await createHost(h, 'edge-a', a);
    await createHost(h, 'edge-b', b);
    await createHost(h, 'edge-idle', idle);
  });
  after(async () => { await h?.stop(); });

  it('are gone from the API at once, and removed from their hosts (only they) when a controller starts', async () => {
    const routes: Array<[string, string, TestHost]> = [['stays', 'edge-a', a], ['gone-a', 'edge-a', a], ['gone-b1', 'edge-b', b], ['gone-b2', 'edge-b', b]];
    for (const [name, hostName, host] of routes) await h.routes.create(httpRoute(h, name, hostName, host.upstreams[0]!.port));
    for (const [name, , host] of routes) {
      await waitForCondition(h.cp.kubeConfig, ref(name), 'Ready', 'True', { timeoutMs: 60_000 });
      assert.equal(await status(host, name), 200);
    }

    await h.stopController();
    const gone = ['gone-a', 'gone-b1', 'gone-b2'];
    // No finalizer: nothing waits for a controller that is not there.
    for (const name of gone) await h.routes.delete({ namespace: h.ns.name, name });
    for (const name of gone) await assert.rejects(h.routes.get({ namespace: h.ns.name, name }), /404|not found/i);
    assert.equal(await status(b, 'gone-b1'), 200, 'still served while no controller runs');
    const reloadsOnIdle = nginxReloads(idle);

    // edge-b has no route left, so no reconcile would ever visit it: the startup check does.
    await h.startController();
    for (const [name, host] of [['gone-a', a], ['gone-b1', b], ['gone-b2', b]] as const) {
      await waitFor(async () => (await status(host, name)) === 404, { description: `${name} to stop being served`, timeoutMs: 30_000 });
      await waitFor(() => routeFilesOnHost(h, host, name).length === 0, { description: `the files of ${name} to be removed`, timeoutMs: 10_000 });
    }
    assert.equal(await status(a, 'stays'), 200, 'a route that still exists keeps being served');
    assert.ok(routeFilesOnHost(h, a, 'stays').length > 0);
    assert.ok(h.logs().includes('removed routes whose ProxyRoute no longer exists'), 'the controller said what it removed');

    // A Host where Outrigger never applied anything is checked but left exactly as it was.
    await waitFor(() => (h.proxyRoutes.hostNginx.get(`${h.ns.name}/edge-idle`)?.status().applies ?? 0) > 0, { description: 'the idle host to be checked', timeoutMs: 30_000 });
    assert.deepEqual(readdirSync(idle.nginx.managedDir), [], 'nothing written on a host no route ever used');
    assert.equal(nginxReloads(idle), reloadsOnIdle, 'and no reload there');
  });
});
