// 500 ProxyRoutes on one host, applied at once through the real controller (kube-apiserver, Host and
// ProxyRoute reconcilers, the batching nginx applier, SSH into a network-namespace host running
// nginx): time until every route is Ready, nginx reloads, SSH connections. Baseline, side by side in
// the same run on an identical host: the same 500 rendered files written over one SSH connection,
// one index, one reload, timed until nginx serves them. The baseline runs before and after the
// controller so drift on the shared machine shows. A third figure, the API floor, is what the
// controller's unavoidable Kubernetes writes (a finalizer and one status per route) cost alone.
// Knobs for investigation: BENCH_TIMELINE=1 prints progress every 500 ms; BENCH_PROXYROUTE_OPTIONS
// (JSON) overrides the controller's options, e.g. '{"workers":8}'.
import { join, posix } from 'node:path';
import type { BenchScenario } from '../run.ts';
import { Manager, createLogger, type ResourceClient } from '../../controller/index.ts';
import type { Host, ProxyRoute } from '../../crds/index.ts';
import { createPlatform } from '../../reconcilers/platform.ts';
import { hostRef, proxyRouteRef, secretRef } from '../../reconcilers/common/kinds.ts';
import { addHostController } from '../../reconcilers/host/index.ts';
import { addProxyRouteController } from '../../reconcilers/proxyroute/index.ts';
import { renderRoute, type NginxRouteInput } from '../../reconcilers/nginx/index.ts';
import { renderIndex, renderResolver } from '../../reconcilers/nginx/render.ts';
import { SshPool } from '../../reconcilers/ssh/index.ts';
import { startControlPlane, createTestNamespace } from '../../test/fixtures/controlplane.ts';
import { hostFixtureUnavailableReason, startTestHosts, type TestHost } from '../../test/fixtures/hosts.ts';
import { nginxReloads, sshLogins } from '../../test/fixtures/host-observations.ts';
import { waitFor } from '../../test/fixtures/wait.ts';

const ROUTES = 500;
const CREATE_CONCURRENCY = 16;
/** The ProxyRoute controller's default number of workers. */
const CONTROLLER_WORKERS = 4;

const serverName = (i: number) => `r${i}.bench.test`;

function routeInput(namespace: string, i: number, port: number): NginxRouteInput {
  return { namespace, name: `r${i}`, serverNames: [serverName(i)], routes: [{ path: '/', pathType: 'Prefix', upstream: { address: '127.0.0.1', port, protocol: 'HTTP' }, websocket: false }] };
}

async function pooled<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

async function allServed(h: TestHost, indexes: number[]): Promise<void> {
  await waitFor(async () => {
    for (const i of indexes) {
      const r = await h.request(`http://${serverName(i)}/`, { timeoutMs: 2_000 });
      if (r.status !== 200) return false;
    }
    return true;
  }, { description: 'nginx to serve the routes', timeoutMs: 60_000, intervalMs: 10 });
}

/** Writes the rendered files of ROUTES routes, an index and the resolver over one connection; reloads once. */
async function baseline(h: TestHost, namespace: string): Promise<{ ms: number; connections: number; reloads: number }> {
  const dir = h.nginx.managedDir;
  const routes = Array.from({ length: ROUTES }, (_, i) => renderRoute(routeInput(namespace, i, h.upstreams[0]!.port), { configDir: dir }));
  const pool = new SshPool();
  const conn = pool.connection({ host: h.address, port: h.sshPort, username: h.username, privateKey: h.clientPrivateKey, hostKey: h.hostPublicKey });
  const reloadsBefore = nginxReloads(h);
  const generation = `baseline-${Date.now().toString(36)}`;
  const started = performance.now();
  try {
    await conn.connect();
    const files = routes.flatMap((r) => r.files);
    await pooled([...new Set(files.map((f) => posix.dirname(f.path)))], 16, (d) => conn.files.mkdirp(d, { mode: 0o755 }));
    await pooled(files, 32, (f) => conn.files.writeFileAtomic(f.path, f.content, { mode: 0o644 }));
    const genDir = posix.join(dir, 'generations', generation);
    await conn.files.mkdirp(genDir, { mode: 0o755 });
    await conn.files.writeFileAtomic(posix.join(genDir, 'resolver.inc'), renderResolver(['127.0.0.1']), { mode: 0o644 });
    await conn.files.writeFileAtomic(posix.join(genDir, 'outrigger.conf'), renderIndex({ generation, httpIncludes: [], serverIncludes: routes.map((r) => r.serverInclude), statusPort: h.nginx.statusPort }), { mode: 0o644 });
    await conn.files.symlinkAtomic(`generations/${generation}`, posix.join(dir, 'current'));
    await conn.run([...h.nginx.reloadCommand, '-c', h.nginx.configFile]);
    await allServed(h, [0, ROUTES - 1]);
    return { ms: performance.now() - started, connections: pool.counters().connectionsOpened, reloads: nginxReloads(h) - reloadsBefore };
  } finally {
    pool.close();
  }
}

/** Empties the baseline host's managed directory again and reloads, so the next baseline starts clean. */
async function resetBaseline(h: TestHost): Promise<void> {
  await h.exec(['rm', '-rf', '--', join(h.nginx.managedDir, 'current'), join(h.nginx.managedDir, 'generations'), join(h.nginx.managedDir, 'routes')]);
  await h.exec([...h.nginx.reloadCommand, '-c', h.nginx.configFile]);
  await waitFor(async () => (await h.request(`http://${serverName(0)}/`)).status === 404, { description: 'the baseline routes to be gone', timeoutMs: 10_000 });
}

/**
 * What the Kubernetes API alone costs for what the controller must write per route (a finalizer
 * patch, then one status write), with as many requests in flight as the controller has workers:
 * the part of the controller's time no SSH or nginx work can remove.
 */
async function apiWritesFloor(kc: import('@kubernetes/client-node').KubeConfig, client: ResourceClient<ProxyRoute>, h: TestHost): Promise<number> {
  const ns = await createTestNamespace(kc, 'bench-floor');
  const names = Array.from({ length: ROUTES }, (_, i) => `f${i}`);
  await pooled(names, CREATE_CONCURRENCY, async (name) => {
    await client.create({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'ProxyRoute', metadata: { name, namespace: ns.name }, spec: { hostRef: { name: 'edge' }, serverNames: [`${name}.floor.test`], routes: [{ path: '/', upstream: { address: '127.0.0.1', port: h.upstreams[0]!.port } }] } } as unknown as ProxyRoute);
  });
  const started = performance.now();
  await pooled(names, CONTROLLER_WORKERS, async (name) => {
    const key = { namespace: ns.name, name };
    const withFinalizer = await client.jsonPatch(key, [{ op: 'add', path: '/metadata/finalizers', value: ['outrigger.dev/cleanup'] }]);
    await client.rest.request('PUT', client.objectPath(key, 'status'), { body: { ...withFinalizer, status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True', reason: 'Available', message: 'floor', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), observedGeneration: 1 }] } } });
  });
  const ms = performance.now() - started;
  await ns.delete();
  return ms;
}

export default {
  description: `${ROUTES} ProxyRoutes on one host through the real controller vs the same rendered files over one SSH connection and one reload`,
  async run() {
    const unavailable = hostFixtureUnavailableReason();
    if (unavailable) throw new Error(`test hosts are needed: ${unavailable}`);
    const cp = await startControlPlane();
    const fixture = await startTestHosts(2);
    const [baseHost, ctrlHost] = fixture.hosts as [TestHost, TestHost];
    let manager: Manager | undefined;
    try {
      const ns = await createTestNamespace(cp.kubeConfig, 'bench-proute');
      const base1 = await baseline(baseHost, ns.name);
      await resetBaseline(baseHost);

      // The objects exist before the controller starts: "applied at once".
      const logger = createLogger({ level: 'warn' });
      manager = new Manager({ kubeConfig: cp.kubeConfig, logger, httpAddress: null });
      const secrets = manager.client(secretRef);
      await secrets.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'edge-ssh', namespace: ns.name }, type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': Buffer.from(ctrlHost.clientPrivateKey).toString('base64') } } as never);
      await manager.client<Host>(hostRef).create({
        apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', metadata: { name: 'edge', namespace: ns.name },
        spec: {
          address: ctrlHost.address,
          ssh: { port: ctrlHost.sshPort, user: ctrlHost.username, privateKeySecretRef: { name: 'edge-ssh', key: 'ssh-privatekey' }, hostKey: ctrlHost.hostPublicKey },
          nginx: { configDir: ctrlHost.nginx.managedDir, mainConfigFile: ctrlHost.nginx.configFile, errorLogFile: ctrlHost.nginx.errorLog, testCommand: ctrlHost.nginx.testCommand, reloadCommand: ctrlHost.nginx.reloadCommand },
        },
      } as unknown as Host);
      const routesClient = manager.client<ProxyRoute>(proxyRouteRef);
      const createStarted = performance.now();
      await pooled(Array.from({ length: ROUTES }, (_, i) => i), CREATE_CONCURRENCY, async (i) => {
        await routesClient.create({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'ProxyRoute', metadata: { name: `r${i}`, namespace: ns.name }, spec: { hostRef: { name: 'edge' }, serverNames: [serverName(i)], routes: [{ path: '/', upstream: { address: '127.0.0.1', port: ctrlHost.upstreams[0]!.port } }] } } as unknown as ProxyRoute);
      });
      const createMs = performance.now() - createStarted;

      const platform = createPlatform(manager, { namespace: ns.name });
      addHostController(platform);
      const { hostNginx, controller } = addProxyRouteController(platform, JSON.parse(process.env.BENCH_PROXYROUTE_OPTIONS ?? '{}'));
      const informer = manager.informer<ProxyRoute>(proxyRouteRef, { namespace: ns.name });
      const ready = new Set<string>();
      let allReady: () => void = () => {};
      const converged = new Promise<void>((resolve) => { allReady = resolve; });
      const track = (r: ProxyRoute) => {
        const isReady = r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === r.metadata.generation);
        if (isReady) ready.add(r.metadata.name ?? ''); else ready.delete(r.metadata.name ?? '');
        if (ready.size === ROUTES) allReady();
      };
      informer.addHandler({ onAdd: track, onUpdate: (_o, n) => track(n) });
      const loginsBefore = sshLogins(ctrlHost);
      const reloadsBefore = nginxReloads(ctrlHost);
      const writesBefore = manager.rest.counts.write;

      const started = performance.now();
      const timeline: string[] = [];
      const sampler = setInterval(() => {
        const st = hostNginx.get(`${ns.name}/edge`)?.status();
        timeline.push(`${(performance.now() - started).toFixed(0)}ms ready=${ready.size} applies=${st?.applies ?? 0} routes=${st?.routes ?? 0} writes=${manager!.rest.counts.write - writesBefore} last=${JSON.stringify(st?.lastApply ?? {})}`);
      }, 500);
      await manager.start();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([converged, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`only ${ready.size}/${ROUTES} routes Ready after 300 s`)), 300_000); })]);
      clearTimeout(timer);
      clearInterval(sampler);
      if (process.env.BENCH_TIMELINE) console.log(timeline.join('\n'));
      const convergeMs = performance.now() - started;
      const apiWrites = manager.rest.counts.write - writesBefore;
      await allServed(ctrlHost, [0, ROUTES - 1]);

      const status = hostNginx.get(`${ns.name}/edge`)!.status();
      const counters = platform.sshPool.counters();
      const reconciles = controller.counts;
      await resetBaseline(baseHost);
      const base2 = await baseline(baseHost, ns.name);
      const apiFloor = await apiWritesFloor(cp.kubeConfig, routesClient, ctrlHost);
      const baselineMs = (base1.ms + base2.ms) / 2;

      return {
        'routes': ROUTES,
        'baseline: write + reload + served (ms, run 1 / run 2)': `${base1.ms.toFixed(0)} / ${base2.ms.toFixed(0)}`,
        'baseline: SSH connections / reloads': `${base1.connections} / ${base1.reloads}`,
        'controller: time to all Ready (ms)': Number(convergeMs.toFixed(0)),
        'ratio controller / baseline (target <= 1.5)': Number((convergeMs / baselineMs).toFixed(2)),
        'controller: nginx reloads (applier / nginx log)': `${status.reloads} / ${nginxReloads(ctrlHost) - reloadsBefore}`,
        'controller: applies (nginx -t runs in them)': `${status.applies} (${status.lastApply?.tests ?? 0} in the last)`,
        'controller: SSH connections opened (pool / sshd log)': `${counters.connectionsOpened} / ${sshLogins(ctrlHost) - loginsBefore}`,
        'controller: SSH commands / SFTP operations': `${counters.commandsRun} / ${counters.sftpOperations}`,
        'controller: reconciles (success / requeueAfter / error)': `${reconciles.success} / ${reconciles.requeueAfter} / ${reconciles.error}`,
        'controller: API writes': apiWrites,
        'API floor: the same finalizer + status writes alone (ms)': Number(apiFloor.toFixed(0)),
        'ratio controller / (baseline + API floor)': Number((convergeMs / (baselineMs + apiFloor)).toFixed(2)),
        'creating the 500 objects beforehand (ms, not counted)': Number(createMs.toFixed(0)),
      };
    } finally {
      await manager?.stop();
      await fixture.teardown();
      await cp.stop();
    }
  },
} satisfies BenchScenario;
