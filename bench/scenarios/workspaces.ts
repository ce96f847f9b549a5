// Workspaces at scale on one local Docker engine, side by side in one run:
//   baseline   the same N containers (same create request: labels, env, limits, home volume)
//              created and started directly through dockerode, at the best of a few concurrencies;
//   outrigger  N Workspaces created at once in a private kube-apiserver, reconciled by the
//              Workspace controller in this process, timed from the first create until every one
//              is Ready (seen through a watch of our own).
// Rounds pair a baseline run with an outrigger run (alternating which goes first); before each
// timed run the machine is let settle (removing 200 containers keeps the kernel busy for a while).
// The ratio reported is the median of the rounds' ratios: on a shared two-core machine single runs
// vary by +-15%. The controller runs with as many workers (32) as the baseline's best concurrency,
// as an operator bringing up a class would set OUTRIGGER_WORKSPACE_WORKERS. Then: Kubernetes
// writes per Workspace (manager.rest.counts), and over a steady-state window the Kubernetes writes
// (target 0) and the Docker API calls per engine resync (target: one list per Host). It starts
// what it needs: a private control plane, dockerd if no engine answers, the test image.
import { randomUUID } from 'node:crypto';
import type Dockerode from 'dockerode';
import type { BenchScenario } from '../run.ts';
import { median, pooled, settle } from '../measure.ts';
import { Informer, KubeRest, Manager, ResourceClient, createLogger, resourceSource, type KubeObject } from '../../controller/index.ts';
import { workspaceSpecSchema } from '../../crds/index.ts';
import { hostRef, workspaceRef } from '../../reconcilers/common/kinds.ts';
import { createPlatform } from '../../reconcilers/platform.ts';
import { buildTarget, registerWorkspaceReconciler } from '../../reconcilers/workspace/index.ts';
import { createRequest } from '../../reconcilers/workspace/create.ts';
import { startControlPlane, type ControlPlane } from '../../test/fixtures/controlplane.ts';
import { dockerClient, removeInstanceObjects, testInstance } from '../../test/fixtures/docker.ts';
import { setup as setUpDocker } from '../../test/fixtures/global/docker.ts';

const COUNT = Number(process.env.WORKSPACE_BENCH_COUNT ?? 200);
const WORKERS = Number(process.env.WORKSPACE_BENCH_WORKERS ?? 32);
const ROUNDS = Number(process.env.WORKSPACE_BENCH_ROUNDS ?? 5);
const BASELINE_CONCURRENCIES = (process.env.WORKSPACE_BENCH_BASELINE_CONCURRENCY ?? '8,16,32').split(',').map(Number);
/** The controller's default engine resync: the controller as shipped, during the burst too. */
const RESYNC_MS = 30_000;
/** Long enough for two resyncs. */
const STEADY_WINDOW_MS = Number(process.env.WORKSPACE_BENCH_STEADY_MS ?? 65_000);

type Obj = KubeObject & { spec?: any; status?: any };

function manifest(i: number, image: string, namespace: string): Obj {
  return {
    metadata: { name: `ws-${String(i).padStart(3, '0')}`, namespace },
    spec: { owner: `user${i}`, runtime: { docker: { hostRef: { name: 'local' }, image, pullPolicy: 'Never' } }, resources: { cpu: '250m', memory: '64Mi' } },
  };
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The exact create requests the reconciler sends for these Workspaces (fresh uids), labelled home
 * volume included (workspace/create.ts): as much work, and cleaned up by label.
 */
function baselineRequests(image: string, instance: string): Dockerode.ContainerCreateOptions[] {
  return Array.from({ length: COUNT }, (_, i) => {
    const m = manifest(i, image, 'bench-baseline');
    const built = buildTarget({ metadata: { ...m.metadata, uid: randomUUID() }, spec: workspaceSpecSchema.parse(m.spec) }, { value: () => Buffer.alloc(0) });
    return createRequest(built.spec, instance);
  });
}

async function runBaseline(docker: Dockerode, image: string, concurrency: number): Promise<number> {
  const instance = testInstance(`bench-baseline-${concurrency}`);
  const requests = baselineRequests(image, instance);
  await settle();
  const started = performance.now();
  try {
    await pooled(requests, concurrency, async (req) => {
      const c = await docker.createContainer(req);
      await c.start();
    });
    return performance.now() - started;
  } finally {
    await removeInstanceObjects(docker, instance);
  }
}

const isReady = (o: Obj) =>
  (o.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') && o.status?.observedGeneration === o.metadata.generation;

interface OutriggerRun {
  allReadyMs: number;
  appliedMs: number;
  writesPerWorkspace: number;
  reconcilesPerWorkspace: number;
  dockerCallsPerWorkspace: number;
  steady?: Record<string, number | string>;
}

/** One outrigger run in a fresh namespace with a fresh manager; the steady window when asked. */
async function runOutrigger(cp: ControlPlane, docker: Dockerode, image: string, round: number, steady: boolean): Promise<OutriggerRun> {
  const namespace = `bench-${round}`;
  const instance = testInstance(`bench-workspaces-${round}`);
  const rest = new KubeRest(cp.kubeConfig);
  await new ResourceClient<Obj>(rest, { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: namespace } });
  await new ResourceClient<Obj>(rest, hostRef).create({ metadata: { name: 'local', namespace }, spec: { docker: { unix: { path: process.env.OUTRIGGER_TEST_DOCKER_SOCKET } } } });
  const manager = new Manager({ kubeConfig: cp.kubeConfig, logger: createLogger({ level: 'warn' }), httpAddress: null });
  const platform = createPlatform(manager, { namespace });
  const wc = registerWorkspaceReconciler(platform, { instance, workers: WORKERS, engineResyncMs: RESYNC_MS });
  // Our own view of readiness: a watch from a separate client, as kubectl wait would have.
  const watching = new Informer<Obj>({ name: 'bench-workspaces', source: resourceSource(new ResourceClient<Obj>(rest, workspaceRef), { namespace }), logger: createLogger({ level: 'warn' }) });
  try {
    await manager.start();
    const readyAt = new Map<string, number>();
    const note = (o: Obj) => { if (isReady(o) && !readyAt.has(o.metadata.name!)) readyAt.set(o.metadata.name!, performance.now()); };
    watching.addHandler({ onAdd: note, onUpdate: (_a, b) => note(b) });
    watching.start();
    await watching.waitForSync();
    await waitUntil(() => manager.allSynced(), 30_000, 'the manager\'s informers');
    await settle();

    const writes0 = manager.rest.counts.write;
    const calls0 = platform.engines.calls.total;
    const workspaces = new ResourceClient<Obj>(rest, workspaceRef);
    const started = performance.now();
    await pooled(Array.from({ length: COUNT }, (_, i) => i), 32, async (i) => { await workspaces.create(manifest(i, image, namespace)); });
    const appliedMs = performance.now() - started;
    await waitUntil(() => readyAt.size >= COUNT, 10 * 60_000, `${COUNT} Workspaces Ready`);
    const allReadyMs = Math.max(...readyAt.values()) - started;

    // Let whatever the engine's events queued, and the Events, finish before counting writes.
    let lastWrites = -1;
    await waitUntil(() => {
      const quiet = manager.rest.counts.write === lastWrites && wc.controller.queue.length === 0;
      lastWrites = manager.rest.counts.write;
      return quiet;
    }, 60_000, 'the controller to settle');
    await new Promise((r) => setTimeout(r, 3_000));
    await manager.events.flush();
    const c = wc.controller.counts;
    const run: OutriggerRun = {
      allReadyMs,
      appliedMs,
      writesPerWorkspace: (manager.rest.counts.write - writes0) / COUNT,
      reconcilesPerWorkspace: (c.success + c.requeueAfter + c.error + c.requeue) / COUNT,
      dockerCallsPerWorkspace: (platform.engines.calls.total - calls0) / COUNT,
    };
    if (steady) {
      // Nothing changes now: count what the controller still does.
      const writes = manager.rest.counts.write;
      const gets = manager.rest.counts.get;
      const calls = platform.engines.calls.snapshot();
      const resyncs0 = wc.watchers.resyncCount;
      const reconciles0 = c.success + c.requeueAfter;
      await new Promise((r) => setTimeout(r, STEADY_WINDOW_MS));
      const steadyCalls = platform.engines.calls.since(calls);
      const resyncs = wc.watchers.resyncCount - resyncs0;
      run.steady = {
        'steady window (s)': STEADY_WINDOW_MS / 1000,
        'steady: kubernetes writes (target 0)': manager.rest.counts.write - writes,
        'steady: kubernetes reads (reconcile polls)': manager.rest.counts.get - gets,
        'steady: reconciles': c.success + c.requeueAfter - reconciles0,
        'steady: engine resyncs (one list each)': resyncs,
        'steady: docker API calls': steadyCalls.total,
        'steady: docker API calls by operation': JSON.stringify(steadyCalls.byOperation),
        'steady: docker calls per resync (target <= 1 per Host)': resyncs > 0 ? (steadyCalls.total / resyncs).toFixed(2) : 'no resync in the window',
      };
    }
    return run;
  } finally {
    await watching.stop();
    await manager.stop();
    rest.close();
    await removeInstanceObjects(docker, instance);
  }
}


const scenario: BenchScenario = {
  description: `${COUNT} Workspaces applied at once on the local Docker engine until all Ready, vs the same ${COUNT} containers created and started directly through dockerode (${ROUNDS} rounds)`,
  async run() {
    const dockerFixture = await setUpDocker();
    Object.assign(process.env, dockerFixture.env ?? {});
    const docker = dockerClient();
    const image = process.env.OUTRIGGER_TEST_WORKSPACE_IMAGE!;
    let cp: ControlPlane | undefined;
    const report: Record<string, number | string> = { workspaces: COUNT, 'controller workers': WORKERS };
    try {
      cp = await startControlPlane();
      let best: number | undefined;
      const ratios: number[] = [];
      let last: OutriggerRun | undefined;
      for (let round = 1; round <= ROUNDS; round++) {
        // Even rounds run outrigger first, so a drift in the machine's speed does not favour one side.
        const outriggerFirst = round % 2 === 0;
        if (outriggerFirst) last = await runOutrigger(cp, docker, image, round, round === ROUNDS);
        const concurrencies = best === undefined ? BASELINE_CONCURRENCIES : [best];
        const baseline: Record<number, number> = {};
        for (const c of concurrencies) baseline[c] = await runBaseline(docker, image, c);
        const [c, ms] = Object.entries(baseline).sort((a, b) => a[1] - b[1])[0]!;
        best ??= Number(c);
        for (const [k, v] of Object.entries(baseline)) report[`round ${round}: baseline dockerode, concurrency ${k} (ms)`] = Math.round(v);
        if (!outriggerFirst) last = await runOutrigger(cp, docker, image, round, round === ROUNDS);
        if (!last) throw new Error('no outrigger run');
        report[`round ${round}: outrigger all Ready (ms)`] = Math.round(last.allReadyMs);
        report[`round ${round}: ratio`] = (last.allReadyMs / ms).toFixed(3);
        report[`round ${round}: kubernetes writes per Workspace`] = last.writesPerWorkspace.toFixed(2);
        ratios.push(last.allReadyMs / ms);
      }
      report['baseline best concurrency'] = best!;
      report['outrigger: create requests sent in (ms)'] = Math.round(last!.appliedMs);
      report['ratio outrigger / baseline, median of rounds (target <= 1.15)'] = median(ratios).toFixed(3);
      report['kubernetes writes per Workspace (target <= 3)'] = last!.writesPerWorkspace.toFixed(2);
      report['reconciles per Workspace'] = last!.reconcilesPerWorkspace.toFixed(2);
      report['docker API calls per Workspace created'] = last!.dockerCallsPerWorkspace.toFixed(2);
      Object.assign(report, last!.steady);
      return report;
    } finally {
      await cp?.stop();
      await dockerFixture.teardown();
    }
  },
};

export default scenario;
