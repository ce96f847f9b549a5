// Deletion in any order finishes and leaves nothing behind, on the real kube-apiserver and on the
// embedded API: a Host deleted before its Workspace and ProxyRoute waits (in-use protection) and
// goes once they are cleaned up; everything deleted at once finishes; a Workspace whose Host never
// existed deletes at once; on the embedded API (which runs namespace finalization, unlike a bare
// kube-apiserver) deleting the namespace finishes. The whole controller runs in this process with
// the platform's protection, against the real dockerd and a test host's sshd and nginx.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { KubeRest, Manager, ResourceClient, createLogger, isNotFound, type KubeObject } from '../../controller/index.ts';
import { hostRef, proxyRouteRef, secretRef, workspaceRef } from '../../reconcilers/common/kinds.ts';
import { IN_USE_FINALIZER } from '../../reconcilers/common/in-use.ts';
import { Labels } from '../../reconcilers/docker/index.ts';
import { addHostController } from '../../reconcilers/host/index.ts';
import { HostConnections } from '../../reconcilers/hosts.ts';
import { protectPlatformReferents } from '../../reconcilers/index.ts';
import { createPlatform, type Platform } from '../../reconcilers/platform.ts';
import { addProxyRouteController } from '../../reconcilers/proxyroute/index.ts';
import { SshPool } from '../../reconcilers/ssh/index.ts';
import { registerWorkspaceReconciler } from '../../reconcilers/workspace/index.ts';
import { controlPlaneSkipReason } from '../fixtures/controlplane.ts';
import { dockerSkipReason, setUpDockerTest, type DockerTestEnv } from '../fixtures/docker.ts';
import { hostsSkipReason, startTestHosts, type TestHost, type TestHosts } from '../fixtures/hosts.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { createNamespace, kubeApiserverTarget, startEmbeddedTarget, type ApiTarget } from './embedded-target.ts';
import { assertCataloguedReasons } from './reasons-check.ts';

const skip = controlPlaneSkipReason() || hostsSkipReason() || (await dockerSkipReason());
if (skip) process.stderr.write(`deletion-order: skipping: ${skip}\n`);

type Obj = KubeObject & { spec?: any; status?: any; data?: Record<string, string>; type?: string };
const b64 = (s: string) => Buffer.from(s).toString('base64');

for (const targetName of ['kube-apiserver', 'embedded'] as const) {
  describe(`deletion in any order (${targetName})`, { skip }, () => {
    let target: ApiTarget;
    let fixture: TestHosts;
    let testHost: TestHost;
    let env: DockerTestEnv;
    let rest: KubeRest;
    let manager: Manager | undefined;
    let namespace: string;
    const clients = () => ({
      hosts: new ResourceClient<Obj>(rest, hostRef),
      secrets: new ResourceClient<Obj>(rest, secretRef),
      workspaces: new ResourceClient<Obj>(rest, workspaceRef),
      routes: new ResourceClient<Obj>(rest, proxyRouteRef),
    });

    before(async () => {
      target = targetName === 'embedded' ? await startEmbeddedTarget() : await kubeApiserverTarget();
      fixture = await startTestHosts(1);
      testHost = fixture.hosts[0]!;
      env = await setUpDockerTest(`delorder-${targetName === 'embedded' ? 'e' : 'k'}`);
      rest = new KubeRest(target.kubeConfig);
    });

    after(async () => {
      await manager?.stop();
      rest?.close();
      await env?.cleanup();
      await fixture?.teardown();
      await target?.stop();
    });

    /** The controller for one namespace: Host, Workspace and ProxyRoute with in-use protection, as registerReconcilers wires them. */
    async function startController(ns: string): Promise<void> {
      await manager?.stop();
      manager = new Manager({ kubeConfig: target.kubeConfig, logger: createLogger({ level: 'warn' }), httpAddress: null, gracefulShutdownMs: 5_000 });
      const base = createPlatform(manager, { namespace: ns });
      // Quick SSH retries, as in the ProxyRoute harness.
      const sshPool = new SshPool({ backoff: { initialMs: 200, maxMs: 1_000, jitter: 0.1 }, connectTimeoutMs: 5_000 });
      base.sshPool.close();
      const platform: Platform = { ...base, sshPool, connections: new HostConnections({ secrets: base.secretReader, sshPool, engines: base.engines }) };
      manager.once('stopped', () => sshPool.close());
      addHostController(platform, { probeIntervalMs: 3_000, retryInitialMs: 300 });
      addProxyRouteController(platform, { driftIntervalMs: 2_000, retryInitialMs: 300, retryMaxMs: 1_500, quietMs: 50 });
      registerWorkspaceReconciler(platform, { instance: env.instance, workers: 2, stopTimeoutSeconds: 1 });
      protectPlatformReferents(platform);
      await manager.start();
    }

    /** A Host that runs both the Workspace's container (local engine) and the route (nginx over SSH). */
    async function world(ns: string, name: string): Promise<void> {
      const c = clients();
      await c.secrets.create({ metadata: { name: `${name}-ssh`, namespace: ns }, type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': b64(testHost.clientPrivateKey) } });
      await c.hosts.create({
        metadata: { name, namespace: ns },
        spec: {
          address: testHost.address,
          ssh: { port: testHost.sshPort, user: testHost.username, privateKeySecretRef: { name: `${name}-ssh`, key: 'ssh-privatekey' }, hostKey: testHost.hostPublicKey },
          nginx: {
            configDir: testHost.nginx.managedDir, mainConfigFile: testHost.nginx.configFile, errorLogFile: testHost.nginx.errorLog,
            testCommand: testHost.nginx.testCommand, reloadCommand: testHost.nginx.reloadCommand, workerGroup: testHost.nginx.workerGroup, statusPort: testHost.nginx.statusPort,
          },
          docker: { unix: { path: env.socketPath } },
        },
      });
      await c.workspaces.create({
        metadata: { name, namespace: ns },
        spec: { owner: 'alice@example.com', user: { name: 'alice', uid: 1000 }, runtime: { docker: { hostRef: { name }, image: env.image, pullPolicy: 'Never' } } },
      });
      await c.routes.create({
        metadata: { name, namespace: ns },
        spec: { hostRef: { name }, serverNames: [`${name}.test`], routes: [{ path: '/', upstream: { address: '127.0.0.1', port: 8080 } }] },
      });
      const ref = (kind: string) => ({ kind, namespace: ns, name });
      await waitForCondition(target.kubeConfig, ref('Workspace'), 'Ready', 'True', { timeoutMs: 90_000 });
      await waitForCondition(target.kubeConfig, ref('ProxyRoute'), 'Ready', 'True', { timeoutMs: 60_000 });
      await waitFor(async () => (await c.hosts.get({ namespace: ns, name })).metadata.finalizers?.includes(IN_USE_FINALIZER) ?? false, { description: 'the Host to be protected while in use', timeoutMs: 30_000 });
    }

    const gone = async (client: ResourceClient<Obj>, ns: string, name: string) => {
      try {
        await client.get({ namespace: ns, name });
        return false;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    };

    async function nothingLeft(ns: string, name: string): Promise<void> {
      const containers = await env.docker.listContainers({ all: true, filters: { label: [`${Labels.managedBy}=${env.instance}`] } });
      assert.deepEqual(containers.map((c) => c.Names[0]), [], 'no container left');
      const volumes = (await env.docker.listVolumes({ filters: { label: [`${Labels.managedBy}=${env.instance}`] } })).Volumes ?? [];
      assert.deepEqual(volumes.map((v) => v.Name), [], 'no home volume left');
      await waitFor(async () => (await testHost.request(`http://${name}.test/`)).status === 404, { description: 'nginx to stop serving the route', timeoutMs: 30_000 });
      const files = readdirSync(testHost.nginx.managedDir, { recursive: true }).map(String).filter((f) => f.includes(`${ns}_${name}`) || f.includes(`${ns}/${name}`));
      assert.deepEqual(files, [], 'no route file left on the host');
    }

    it('a Host deleted first waits for its Workspace and ProxyRoute, then goes by itself; nothing is left', async () => {
      namespace = await createNamespace(target, 'delorder');
      await startController(namespace);
      await world(namespace, 'edge');
      const c = clients();
      await c.hosts.delete({ namespace, name: 'edge' });
      const waiting = await waitForCondition(target.kubeConfig, { kind: 'Host', namespace, name: 'edge' }, 'Ready', 'False', { timeoutMs: 30_000 });
      const ready = (waiting.status?.conditions ?? []).find((x: { type: string }) => x.type === 'Ready');
      assert.equal(ready?.reason, 'InUse');
      assert.match(ready?.message ?? '', /ProxyRoute edge.*Workspace edge|Workspace edge.*ProxyRoute edge/);
      // The Workspace and route keep working while their Host waits.
      assert.equal((await testHost.request('http://edge.test/')).status !== 404, true, 'the route is still served');

      await c.workspaces.delete({ namespace, name: 'edge' });
      await c.routes.delete({ namespace, name: 'edge' });
      await waitFor(() => gone(c.workspaces, namespace, 'edge'), { description: 'the Workspace to be gone', timeoutMs: 60_000 });
      await waitFor(() => gone(c.hosts, namespace, 'edge'), { description: 'the Host to be gone once nothing uses it', timeoutMs: 60_000 });
      await waitFor(() => gone(c.secrets, namespace, 'edge-ssh').then((g) => !g), { description: 'the Secret to stay (not deleted)', timeoutMs: 1_000 });
      await nothingLeft(namespace, 'edge');
      await assertCataloguedReasons(rest, namespace);
    });

    it('everything deleted at once (Secret, Host, Workspace, ProxyRoute) finishes with nothing left', async () => {
      const c = clients();
      await world(namespace, 'all');
      await Promise.all([
        c.secrets.delete({ namespace, name: 'all-ssh' }),
        c.hosts.delete({ namespace, name: 'all' }),
        c.workspaces.delete({ namespace, name: 'all' }),
        c.routes.delete({ namespace, name: 'all' }),
      ]);
      for (const [client, name] of [[c.workspaces, 'all'], [c.routes, 'all'], [c.hosts, 'all'], [c.secrets, 'all-ssh']] as const) {
        await waitFor(() => gone(client, namespace, name), { description: `${client.ref.kind} ${name} to be gone`, timeoutMs: 90_000 });
      }
      await nothingLeft(namespace, 'all');
      await assertCataloguedReasons(rest, namespace);
    });

    it('a Workspace whose Host never existed is deleted at once', async () => {
      const c = clients();
      await c.workspaces.create({
        metadata: { name: 'orphan', namespace },
        spec: { owner: 'bob@example.com', user: { name: 'bob', uid: 1000 }, runtime: { docker: { hostRef: { name: 'never-made' }, image: env.image, pullPolicy: 'Never' } } },
      });
      const waiting = await waitForCondition(target.kubeConfig, { kind: 'Workspace', namespace, name: 'orphan' }, 'Ready', 'False', { timeoutMs: 30_000 });
      assert.equal((waiting.status?.conditions ?? []).find((x: { type: string }) => x.type === 'Ready')?.reason, 'ReferenceNotFound');
      await c.workspaces.delete({ namespace, name: 'orphan' });
      await waitFor(() => gone(c.workspaces, namespace, 'orphan'), { description: 'the Workspace to be gone', timeoutMs: 30_000 });
    });

    if (targetName === 'embedded') {
      it('deleting the namespace with Hosts, Secrets, Workspaces and ProxyRoutes in it finishes', async () => {
        const ns = await createNamespace(target, 'delorder-ns');
        await startController(ns);
        await world(ns, 'nsdel');
        const res = await target.request('DELETE', `/api/v1/namespaces/${ns}`);
        assert.ok(res.code < 300, res.text);
        await waitFor(async () => (await target.request('GET', `/api/v1/namespaces/${ns}`)).code === 404, { description: 'the namespace to be gone', timeoutMs: 120_000 });
        await nothingLeft(ns, 'nsdel');
      });
    }
  });
}
