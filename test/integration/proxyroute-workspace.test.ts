// A ProxyRoute whose upstream is a Workspace's published port, end to end: the Workspace runs as a
// container on the local Docker engine and publishes its web port on the address a test host
// reaches (the root side of that host's veth); nginx inside the test host proxies to it. The
// Workspace and ProxyRoute controllers share one manager, as in the real process.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Host, Workspace } from '../../crds/index.ts';
import { Labels } from '../../reconcilers/docker/index.ts';
import { registerWorkspaceReconciler } from '../../reconcilers/workspace/index.ts';
import { controlPlaneSkipReason } from '../fixtures/controlplane.ts';
import { dockerSkipReason, setUpDockerTest, type DockerTestEnv } from '../fixtures/docker.ts';
import { hostsSkipReason, type TestHost } from '../fixtures/hosts.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { createHost, startHarness, type Harness } from './proxyroute-harness.ts';

const skip = controlPlaneSkipReason() || hostsSkipReason() || (await dockerSkipReason());
if (skip) process.stderr.write(`proxyroute-workspace: skipping: ${skip}\n`);

const MARKER = `site-${Math.random().toString(36).slice(2)}`;
// Runs once per home as the workspace user: a page and busybox's httpd, detached from the exec.
const SERVE = `#!/bin/sh
set -eu
mkdir -p "$HOME/www"
echo "served by workspace $MARKER" > "$HOME/www/index.html"
busybox httpd -p 8080 -h "$HOME/www" </dev/null >/dev/null 2>&1
`;

describe('ProxyRoute to a Workspace on Docker', { skip }, () => {
  let env: DockerTestEnv;
  let h: Harness;
  let host: TestHost;
  const ref = (kind: string, name: string) => ({ kind, namespace: h.ns.name, name });

  before(async () => {
    env = await setUpDockerTest('proute-ws');
    h = await startHarness({
      hosts: 1,
      prefix: 'proute-ws',
      register: (platform) => { registerWorkspaceReconciler(platform, { instance: env.instance, workers: 2, stopTimeoutSeconds: 2 }); },
    });
    host = h.hosts[0]!;
    await createHost(h, 'edge', host);
    await h.hostObjects.create({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', metadata: { name: 'local', namespace: h.ns.name }, spec: { docker: { unix: { path: env.socketPath } } } } as unknown as Host);
  });

  after(async () => {
    await h?.stop();
    await env?.cleanup();
  });

  it('serves the Workspace\'s published port through nginx on another host; deleting both leaves nothing behind', async () => {
    await h.workspaces.create({
      apiVersion: 'outrigger.dev/v1alpha1',
      kind: 'Workspace',
      metadata: { name: 'site', namespace: h.ns.name },
      spec: {
        owner: 'alice@example.com',
        user: { name: 'alice', uid: 1000 },
        runtime: { docker: { hostRef: { name: 'local' }, image: env.image, pullPolicy: 'Never', publishAddress: host.peerAddress } },
        env: [{ name: 'MARKER', value: MARKER }],
        bootstrap: { script: SERVE },
        ports: [{ name: 'web', port: 8080 }],
      },
    } as unknown as Workspace);
    const ws = await waitForCondition(h.cp.kubeConfig, ref('Workspace', 'site'), 'Bootstrapped', 'True', { timeoutMs: 90_000 }) as Workspace;
    const web = ws.status?.endpoints?.find((e) => e.name === 'web');
    assert.equal(web?.host, host.peerAddress, 'published on the address the test host reaches');

    await h.routes.create({
      apiVersion: 'outrigger.dev/v1alpha1',
      kind: 'ProxyRoute',
      metadata: { name: 'site', namespace: h.ns.name },
      spec: { hostRef: { name: 'edge' }, serverNames: ['site.test'], routes: [{ path: '/', upstream: { workspaceRef: { name: 'site', port: 'web' } } }] },
    } as never);
    const route = await waitForCondition(h.cp.kubeConfig, ref('ProxyRoute', 'site'), 'Ready', 'True', { timeoutMs: 60_000 });
    assert.deepEqual((route as { status?: { upstreams?: unknown } }).status?.upstreams, [{ path: '/', address: host.peerAddress, port: web!.port }]);
    const r = await host.request('http://site.test/');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body.trim(), `served by workspace ${MARKER}`);

    await h.routes.delete({ namespace: h.ns.name, name: 'site' });
    await h.workspaces.delete({ namespace: h.ns.name, name: 'site' });
    const gone = (get: () => Promise<unknown>) => get().then(() => false, (err) => String(err).includes('404'));
    await waitFor(() => gone(() => h.routes.get({ namespace: h.ns.name, name: 'site' })), { description: 'the ProxyRoute to be gone', timeoutMs: 60_000 });
    await waitFor(() => gone(() => h.workspaces.get({ namespace: h.ns.name, name: 'site' })), { description: 'the Workspace to be gone', timeoutMs: 60_000 });
    // No finalizer on routes: the host drops the route in its next apply, not before the object goes.
    await waitFor(async () => (await host.request('http://site.test/')).status === 404, { description: 'nginx to stop serving the route', timeoutMs: 30_000 });
    const left = await env.docker.listContainers({ all: true, filters: { label: [`${Labels.managedBy}=${env.instance}`] } });
    assert.deepEqual(left.map((c) => c.Names[0]), [], 'no container left');
  });
});
