// 500 ProxyRoutes on one host, applied at once through the real controller (Host and ProxyRoute
// reconcilers, the batching nginx applier, SSH into a network-namespace host running nginx), on
// both API servers the controller runs against: kube-apiserver, and the embedded API of `npm
// start` in the same process. Baseline, side by side in the same run on an identical host: the
// same 500 rendered files written over one SSH connection, one index, one `nginx -s reload`, timed
// until nginx serves them. Two figures per API server, each the median of the rounds' ratios:
//   (a) served: until nginx serves every route / the baseline                     target <= 1.2
//   (b) Ready:  until every route reports Ready (what `kubectl wait` sees) /
//               (the baseline + the API floor)                                   target <= 1.2
// The API floor is what the controller's unavoidable Kubernetes writes cost alone: one status write
// per route (the status a served route gets), as many in flight as the controller has workers,
// measured in the same round on the same API server. Rounds alternate which side goes first and
// let the machine go quiet before each timed run. Also printed: nginx reloads and SSH connections
// (targets: <= 3 and 1), and how the reloads were sent (a HUP to the master or the command).
// Knobs: PROXYROUTE_BENCH_ROUNDS (default 5); BENCH_TIMELINE=1 prints progress every 250 ms;
// BENCH_PROXYROUTE_OPTIONS (JSON) overrides the controller's options, e.g. '{"workers":8}'.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { BenchScenario } from '../run.ts';
import { median, pooled, settle } from '../measure.ts';
import { KubeRest, Manager, ResourceClient, createLogger } from '../../controller/index.ts';
import { startEmbeddedServer } from '../../embedded/start.ts';
import type { Host, ProxyRoute } from '../../crds/index.ts';
import { createPlatform } from '../../reconcilers/platform.ts';
import { hostRef, proxyRouteRef, secretRef } from '../../reconcilers/common/kinds.ts';
import { addHostController } from '../../reconcilers/host/index.ts';
import { addProxyRouteController, routeStatus } from '../../reconcilers/proxyroute/index.ts';
import { renderRoute, type NginxRouteInput } from '../../reconcilers/nginx/index.ts';
import { renderIndex, renderResolver } from '../../reconcilers/nginx/render.ts';
import { statePath } from '../../reconcilers/nginx/state.ts';
import { SshPool } from '../../reconcilers/ssh/index.ts';
import { startControlPlane, createTestNamespace } from '../../test/fixtures/controlplane.ts';
import { hostFixtureUnavailableReason, startTestHosts, type TestHost } from '../../test/fixtures/hosts.ts';
import { nginxReloads, sshLogins } from '../../test/fixtures/host-observations.ts';
import { waitFor } from '../../test/fixtures/wait.ts';

const ROUTES = 500;
const ROUNDS = Number(process.env.PROXYROUTE_BENCH_ROUNDS ?? 5);
const CREATE_CONCURRENCY = 16;
/** The ProxyRoute controller's default number of workers. */
const CONTROLLER_WORKERS = 4;

const serverName = (i: number) => `r${i}.bench.test`;

function routeInput(namespace: string, i: number, port: number): NginxRouteInput {
  return { namespace, name: `r${i}`, serverNames: [serverName(i)], routes: [{ path: '/', pathType: 'Prefix', upstream: { address: '127.0.0.1', port, protocol: 'HTTP' }, websocket: false }] };
}

/** Routes probed to call a run served: the first, the middle and the last. */
const PROBED = [0, Math.floor(ROUTES / 2), ROUTES - 1];

/**
 * The time (performance.now()) at which nginx on h serves every probed route, asking one route at
 * a time every 10 ms: the same probe ends the baseline's run and the controller's "served" time.
 */
async function whenServed(h: TestHost, stop?: AbortSignal): Promise<number> {
  const deadline = Date.now() + 60_000;
  while (!stop?.aborted) {
    let all = true;
    for (const i of PROBED) {
      const r = await h.request(`http://${serverName(i)}/`, { timeoutMs: 2_000 }).catch(() => undefined);
      if (r?.status !== 200) { all = false; break; }
    }
    if (all) return performance.now();
    if (Date.now() > deadline) throw new Error('nginx did not serve the routes within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Number.NaN;
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
    const servedAt = await whenServed(h);
    return { ms: servedAt - started, connections: pool.counters().connectionsOpened, reloads: nginxReloads(h) - reloadsBefore };
  } finally {
    pool.close();
  }
}

/** Empties a host's managed directory (Outrigger's state included) and reloads: the next run starts clean. */
async function resetHost(h: TestHost): Promise<void> {
  const dir = h.nginx.managedDir;
  await h.exec(['rm', '-rf', '--', join(dir, 'current'), join(dir, 'generations'), join(dir, 'routes'), statePath(dir)]);
  await h.exec([...h.nginx.reloadCommand, '-c', h.nginx.configFile]);
  await waitFor(async () => (await h.request(`http://${serverName(0)}/`)).status === 404, { description: 'the routes to be gone', timeoutMs: 10_000 });
}

/**
 * What the Kubernetes API alone costs for what the controller must write per route (one status
 * write, the very status a served route gets), with as many requests in flight as the controller
 * has workers: the part of the controller's time no SSH or nginx work can remove.
 */
async function apiWritesFloor(kc: KubeConfig, h: TestHost, round: number): Promise<number> {
  const rest = new KubeRest(kc);
  const client = new ResourceClient<ProxyRoute>(rest, proxyRouteRef);
  const ns = await createTestNamespace(kc, `bench-floor-${round}`);
  const names = Array.from({ length: ROUTES }, (_, i) => `f${i}`);
  const created: ProxyRoute[] = [];
  await pooled(names, CREATE_CONCURRENCY, async (name) => {
    created.push(await client.create({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'ProxyRoute', metadata: { name, namespace: ns.name }, spec: { hostRef: { name: 'edge' }, serverNames: [`${name}.floor.test`], routes: [{ path: '/', upstream: { address: '127.0.0.1', port: h.upstreams[0]!.port } }] } } as unknown as ProxyRoute));
  });
  const served = (route: ProxyRoute): ProxyRoute['status'] => {
    const hash = `sha256:${'0'.repeat(64)}`;
    const now = new Date();
    return routeStatus(undefined, {
      kind: 'settled', desiredHash: hash, tls: false, upstreams: [{ path: '/', address: '127.0.0.1', port: h.upstreams[0]!.port }],
      result: { key: `${ns.name}_${route.metadata.name}`, state: 'Applied', desiredHash: hash, liveHash: hash, liveSince: now, warnings: [], generation: 'g', at: now },
    }, { host: `${ns.name}/edge`, generation: route.metadata.generation, now });
  };
  await settle();
  const started = performance.now();
  await pooled(created, CONTROLLER_WORKERS, async (route) => {
    const key = { namespace: ns.name, name: route.metadata.name ?? '' };
    await client.rest.request('PUT', client.objectPath(key, 'status'), { body: { ...route, status: served(route) } });
  });
  const ms = performance.now() - started;
  await ns.delete();
  rest.close();
  return ms;
}

interface ControllerRun {
  convergeMs: number;
  /** nginx reloads (the host's own log) and SSH logins (sshd's log), for the targets. */
  reloadCount: number;
  connectionCount: number;
  reloadedVia: string;
  /** Until nginx on the host serves the routes (the baseline's end point). */
  servedMs: number;
  reloads: string;
  applies: string;
  connections: string;
  sshWork: string;
  reconciles: string;
  apiWrites: number;
  createMs: number;
}

/** One controller run in a fresh namespace: the Host and 500 routes exist before the controller starts ("applied at once"). */
async function runController(kc: KubeConfig, h: TestHost, round: number): Promise<ControllerRun> {
  await resetHost(h);
  const ns = await createTestNamespace(kc, `bench-proute-${round}`);
  const manager = new Manager({ kubeConfig: kc, logger: createLogger({ level: 'warn' }), httpAddress: null });
  try {
    await manager.client(secretRef).create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'edge-ssh', namespace: ns.name }, type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': Buffer.from(h.clientPrivateKey).toString('base64') } } as never);
    await manager.client<Host>(hostRef).create({
      apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', metadata: { name: 'edge', namespace: ns.name },
      spec: {
        address: h.address,
        ssh: { port: h.sshPort, user: h.username, privateKeySecretRef: { name: 'edge-ssh', key: 'ssh-privatekey' }, hostKey: h.hostPublicKey },
        nginx: { configDir: h.nginx.managedDir, mainConfigFile: h.nginx.configFile, errorLogFile: h.nginx.errorLog, testCommand: h.nginx.testCommand, reloadCommand: h.nginx.reloadCommand },
      },
    } as unknown as Host);
    const routesClient = manager.client<ProxyRoute>(proxyRouteRef);
    const createStarted = performance.now();
    await pooled(Array.from({ length: ROUTES }, (_, i) => i), CREATE_CONCURRENCY, async (i) => {
      await routesClient.create({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'ProxyRoute', metadata: { name: `r${i}`, namespace: ns.name }, spec: { hostRef: { name: 'edge' }, serverNames: [serverName(i)], routes: [{ path: '/', upstream: { address: '127.0.0.1', port: h.upstreams[0]!.port } }] } } as unknown as ProxyRoute);
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
    const loginsBefore = sshLogins(h);
    const reloadsBefore = nginxReloads(h);
    const writesBefore = manager.rest.counts.write;
    await settle();

    const started = performance.now();
    const timeline: string[] = [];
    const sampler = setInterval(() => {
      const st = hostNginx.get(`${ns.name}/edge`)?.status();
      timeline.push(`${(performance.now() - started).toFixed(0)}ms ready=${ready.size} applies=${st?.applies ?? 0} routes=${st?.routes ?? 0} writes=${manager.rest.counts.write - writesBefore} last=${JSON.stringify(st?.lastApply ?? {})}`);
    }, 250);
    const stopProbe = new AbortController();
    const served = whenServed(h, stopProbe.signal);
    await manager.start();
    let timer: NodeJS.Timeout | undefined;
    let convergeMs: number;
    try {
      await Promise.race([converged, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`only ${ready.size}/${ROUTES} routes Ready after 300 s`)), 300_000); })]);
      convergeMs = performance.now() - started;
    } catch (err) {
      stopProbe.abort();
      throw err;
    } finally {
      clearTimeout(timer);
      clearInterval(sampler);
    }
    // Ready means served, so the probe answers within one more round of requests.
    const servedMs = (await served) - started;
    if (process.env.BENCH_TIMELINE) console.log(`round ${round}:\n${timeline.join('\n')}`);
    const apiWrites = manager.rest.counts.write - writesBefore;
    const status = hostNginx.get(`${ns.name}/edge`)!.status();
    const counters = platform.sshPool.counters();
    const reconciles = controller.counts;
    return {
      convergeMs,
      reloadCount: nginxReloads(h) - reloadsBefore,
      connectionCount: sshLogins(h) - loginsBefore,
      reloadedVia: status.lastApply?.reloadedVia ?? '-',
      servedMs,
      reloads: `${status.reloads} / ${nginxReloads(h) - reloadsBefore}`,
      applies: `${status.applies} (${status.lastApply?.tests ?? 0} in the last)`,
      connections: `${counters.connectionsOpened} / ${sshLogins(h) - loginsBefore}`,
      sshWork: `${counters.commandsRun} / ${counters.sftpOperations}`,
      reconciles: `${reconciles.success} / ${reconciles.requeueAfter} / ${reconciles.error}`,
      apiWrites,
      createMs,
    };
  } finally {
    await manager.stop();
    await ns.delete();
  }
}

async function runBaseline(h: TestHost, round: number): Promise<{ ms: number; connections: number; reloads: number }> {
  await resetHost(h);
  await settle();
  return baseline(h, `bench-proute-${round}`);
}

export default {
  description: `${ROUTES} ProxyRoutes on one host through the real controller vs the same rendered files over one SSH connection and one reload (${ROUNDS} rounds)`,
  async run() {
    const unavailable = hostFixtureUnavailableReason();
    if (unavailable) throw new Error(`test hosts are needed: ${unavailable}`);
    const cp = await startControlPlane();
    const stateDir = mkdtempSync(join(tmpdir(), 'outrigger-bench-embedded-'));
    const embedded = await startEmbeddedServer({ stateDir, port: 0 });
    const standaloneConfig = new KubeConfig();
    standaloneConfig.loadFromFile(embedded.kubeconfigPath);
    const fixture = await startTestHosts(2);
    const [baseHost, ctrlHost] = fixture.hosts as [TestHost, TestHost];
    const report: Record<string, number | string> = { routes: ROUTES };
    const servers = [
      { name: 'kube-apiserver', kc: cp.kubeConfig },
      { name: 'embedded', kc: standaloneConfig },
    ];
    try {
      const figures = new Map(servers.map((s) => [s.name, { served: [] as number[], ready: [] as number[], runs: [] as ControllerRun[] }]));
      let base: Awaited<ReturnType<typeof runBaseline>> | undefined;
      for (let round = 1; round <= ROUNDS; round++) {
        // Even rounds run the controllers first, so a drift in the machine's speed favours neither side.
        const order = round % 2 === 0 ? ['controllers', 'baseline'] : ['baseline', 'controllers'];
        const runs = new Map<string, ControllerRun>();
        for (const step of order) {
          if (step === 'baseline') base = await runBaseline(baseHost, round);
          else for (const s of servers) runs.set(s.name, await runController(s.kc, ctrlHost, round));
        }
        const parts: string[] = [];
        for (const s of servers) {
          await settle();
          const floor = await apiWritesFloor(s.kc, ctrlHost, round);
          const run = runs.get(s.name)!;
          const f = figures.get(s.name)!;
          f.served.push(run.servedMs / base!.ms);
          f.ready.push(run.convergeMs / (base!.ms + floor));
          f.runs.push(run);
          parts.push(`${s.name} ${run.servedMs.toFixed(0)} / ${run.convergeMs.toFixed(0)} / ${floor.toFixed(0)}`);
        }
        report[`round ${round}: baseline ${base!.ms.toFixed(0)} ms; served / all Ready / status floor (ms)`] = parts.join('; ');
      }
      for (const s of servers) {
        const f = figures.get(s.name)!;
        const last = f.runs.at(-1)!;
        report[`${s.name} (a) served / baseline, median (target <= 1.2)`] = Number(median(f.served).toFixed(2));
        report[`${s.name} (b) all Ready / (baseline + status floor), median (target <= 1.2)`] = Number(median(f.ready).toFixed(2));
        report[`${s.name}: nginx reloads, most in a round (target <= 3)`] = Math.max(...f.runs.map((r) => r.reloadCount));
        report[`${s.name}: SSH connections, most in a round (target 1)`] = Math.max(...f.runs.map((r) => r.connectionCount));
        report[`${s.name} (last round): reloads (applier / nginx log), sent by`] = `${last.reloads}, ${last.reloadedVia}`;
        report[`${s.name} (last round): applies (nginx -t runs in them)`] = last.applies;
        report[`${s.name} (last round): SSH connections (pool / sshd log)`] = last.connections;
        report[`${s.name} (last round): SSH commands / SFTP operations`] = last.sshWork;
        report[`${s.name} (last round): reconciles (success / requeueAfter / error)`] = last.reconciles;
        report[`${s.name} (last round): API writes`] = last.apiWrites;
        report[`${s.name} (last round): creating the 500 objects beforehand (ms, not counted)`] = Number(last.createMs.toFixed(0));
      }
      report['baseline: SSH connections / reloads'] = `${base!.connections} / ${base!.reloads}`;
      return report;
    } finally {
      await fixture.teardown();
      await embedded.close();
      rmSync(stateDir, { recursive: true, force: true });
      await cp.stop();
    }
  },
} satisfies BenchScenario;
