// Workspaces on Podman against Workspaces on Docker, side by side in one run: the same N
// Workspaces (same image, limits and home) applied at once on a Host whose engine is the local
// dockerd and on one whose engine is a rootful Podman (test/fixtures/podman.ts), timed from the
// first create until every one is Ready; and, as the baseline for the Podman side, the same
// containers made directly through Podman's Docker API (labelled volume, create, start: the calls
// the controller makes there). Rounds alternate which engine goes first; ratios are medians of the
// rounds. It starts what it needs: a private control plane, dockerd if no engine answers, Podman.
import { randomUUID } from 'node:crypto';
import type Dockerode from 'dockerode';
import type { BenchScenario } from '../run.ts';
import { median, pooled, settle } from '../measure.ts';
import { Informer, KubeRest, Manager, ResourceClient, createLogger, resourceSource, type KubeObject } from '../../controller/index.ts';
import { workspaceSpecSchema } from '../../crds/index.ts';
import { hostRef, workspaceRef } from '../../reconcilers/common/kinds.ts';
import { createPlatform } from '../../reconcilers/platform.ts';
import { Labels, ownerLabels, renderCreateOptions } from '../../reconcilers/docker/index.ts';
import { buildTarget, registerWorkspaceReconciler } from '../../reconcilers/workspace/index.ts';
import { startControlPlane, type ControlPlane } from '../../test/fixtures/controlplane.ts';
import { dockerClient, removeInstanceObjects, testInstance } from '../../test/fixtures/docker.ts';
import { setup as setUpDocker } from '../../test/fixtures/global/docker.ts';
import { startPodman, type PodmanEngine } from '../../test/fixtures/podman.ts';

const SIZES = (process.env.PODMAN_BENCH_SIZES ?? '1,10').split(',').map(Number);
const ROUNDS = Number(process.env.PODMAN_BENCH_ROUNDS ?? 3);
const WORKERS = 8;
const BASELINE_CONCURRENCY = 8;

type Obj = KubeObject & { spec?: any; status?: any };
type Side = 'docker' | 'podman';

function manifest(i: number, image: string, namespace: string, host: Side): Obj {
  return {
    metadata: { name: `ws-${String(i).padStart(3, '0')}`, namespace },
    spec: { owner: `user${i}`, runtime: { docker: { hostRef: { name: host }, image, pullPolicy: 'Never' } }, resources: { cpu: '250m', memory: '64Mi' } },
  };
}

const isReady = (o: Obj) =>
  (o.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') && o.status?.observedGeneration === o.metadata.generation;

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Removes an instance's containers and volumes from one engine. */
async function cleanUp(docker: Dockerode, instance: string): Promise<void> {
  await removeInstanceObjects(docker, instance);
}

/** N Workspaces on one Host until all Ready, with a fresh controller and namespace. */
async function runOutrigger(cp: ControlPlane, side: Side, socket: string, docker: Dockerode, image: string, count: number, tag: string): Promise<number> {
  const namespace = `bench-${side}-${tag}`;
  const instance = testInstance(`bench-${side}-${tag}`);
  const rest = new KubeRest(cp.kubeConfig);
  await new ResourceClient<Obj>(rest, { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: namespace } });
  await new ResourceClient<Obj>(rest, hostRef).create({ metadata: { name: side, namespace }, spec: { docker: { unix: { path: socket } } } });
  const manager = new Manager({ kubeConfig: cp.kubeConfig, logger: createLogger({ level: 'warn' }), httpAddress: null });
  registerWorkspaceReconciler(createPlatform(manager, { namespace }), { instance, workers: WORKERS });
  const watching = new Informer<Obj>({ name: `bench-${side}`, source: resourceSource(new ResourceClient<Obj>(rest, workspaceRef), { namespace }), logger: createLogger({ level: 'warn' }) });
  try {
    await manager.start();
    const readyAt = new Map<string, number>();
    const note = (o: Obj) => { if (isReady(o) && !readyAt.has(o.metadata.name!)) readyAt.set(o.metadata.name!, performance.now()); };
    watching.addHandler({ onAdd: note, onUpdate: (_a, b) => note(b) });
    watching.start();
    await watching.waitForSync();
    await waitUntil(() => manager.allSynced(), 30_000, 'the manager\'s informers');
    await settle();
    const workspaces = new ResourceClient<Obj>(rest, workspaceRef);
    const started = performance.now();
    await pooled(Array.from({ length: count }, (_, i) => i), 16, async (i) => { await workspaces.create(manifest(i, image, namespace, side)); });
    await waitUntil(() => readyAt.size >= count, 10 * 60_000, `${count} Workspaces Ready on ${side}`);
    return Math.max(...readyAt.values()) - started;
  } finally {
    await watching.stop();
    await manager.stop();
    rest.close();
    await cleanUp(docker, instance);
  }
}

/** The same containers straight through Podman's Docker API: labelled volume, create, start. */
async function runPodmanBaseline(docker: Dockerode, image: string, count: number, tag: string): Promise<number> {
  const instance = testInstance(`bench-podman-direct-${tag}`);
  const specs = Array.from({ length: count }, (_, i) => {
    const m = manifest(i, image, 'bench-direct', 'podman');
    return buildTarget({ metadata: { ...m.metadata, uid: randomUUID() }, spec: workspaceSpecSchema.parse(m.spec) }, { value: () => Buffer.alloc(0) }).spec;
  });
  await settle();
  const started = performance.now();
  try {
    await pooled(specs, BASELINE_CONCURRENCY, async (spec) => {
      await docker.createVolume({ Name: spec.home.volume, Labels: ownerLabels(spec.owner, instance, 'home') } as Dockerode.VolumeCreateOptions);
      const c = await docker.createContainer(renderCreateOptions(spec, instance));
      await c.start();
    });
    return performance.now() - started;
  } finally {
    await cleanUp(docker, instance);
  }
}

const scenario: BenchScenario = {
  description: `Workspaces (${SIZES.join(' and ')} at once) to Ready on a Podman Host vs a Docker Host, and vs the same containers made directly on Podman (${ROUNDS} rounds)`,
  async run() {
    const dockerFixture = await setUpDocker();
    Object.assign(process.env, dockerFixture.env ?? {});
    const docker = dockerClient();
    const image = process.env.OUTRIGGER_TEST_WORKSPACE_IMAGE!;
    let cp: ControlPlane | undefined;
    let podman: PodmanEngine | undefined;
    const report: Record<string, number | string> = {};
    try {
      cp = await startControlPlane();
      podman = await startPodman({ images: [image] });
      report['podman version'] = podman.version;
      for (const count of SIZES) {
        const podmanOverDocker: number[] = [];
        const podmanOverDirect: number[] = [];
        for (let round = 1; round <= ROUNDS; round++) {
          const tag = `${count}-${round}`;
          const times: Partial<Record<Side | 'direct', number>> = {};
          const order: Side[] = round % 2 === 0 ? ['podman', 'docker'] : ['docker', 'podman'];
          for (const side of order) {
            times[side] = side === 'docker'
              ? await runOutrigger(cp, 'docker', process.env.OUTRIGGER_TEST_DOCKER_SOCKET!, docker, image, count, tag)
              : await runOutrigger(cp, 'podman', podman.socketPath, podman.docker, image, count, tag);
          }
          times.direct = await runPodmanBaseline(podman.docker, image, count, tag);
          for (const [k, v] of Object.entries(times)) report[`${count} at once, round ${round}: ${k === 'direct' ? 'direct on podman' : `outrigger on ${k}`} (ms)`] = Math.round(v);
          podmanOverDocker.push(times.podman! / times.docker!);
          podmanOverDirect.push(times.podman! / times.direct);
        }
        report[`${count} at once: ratio podman / docker, median`] = median(podmanOverDocker).toFixed(3);
        report[`${count} at once: ratio outrigger on podman / direct on podman, median`] = median(podmanOverDirect).toFixed(3);
      }
      // What is left labelled by this run on Podman (target 0).
      report['leftover podman containers'] = (await podman.docker.listContainers({ all: true, filters: { label: [Labels.managedBy] } })).length;
      return report;
    } finally {
      await podman?.stop();
      await cp?.stop();
      await dockerFixture.teardown();
    }
  },
};

export default scenario;
