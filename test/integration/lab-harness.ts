// What the Lab tests share: the controller (the Lab reconciler with Hosts and in-use protection,
// in this process) against a given API server, a local-engine Host, Docker helpers that look at
// what a Lab made (containers by owner uid and machine label, networks, images) and run commands
// inside machines. Not a test file itself.
import { Writable } from 'node:stream';
import { randomInt } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type Dockerode from 'dockerode';
import { KubeRest, Manager, ResourceClient, createLogger, type KubeObject } from '../../controller/index.ts';
import { hostRef, labRef, secretRef } from '../../reconcilers/common/kinds.ts';
import { Labels } from '../../reconcilers/docker/index.ts';
import { addHostController } from '../../reconcilers/host/index.ts';
import { protectPlatformReferents } from '../../reconcilers/index.ts';
import { registerLabReconciler, type LabController, type LabControllerOptions } from '../../reconcilers/lab/index.ts';
import { createPlatform } from '../../reconcilers/platform.ts';
import type { DockerTestEnv } from '../fixtures/docker.ts';

export type Obj = KubeObject & { spec?: any; status?: any; data?: Record<string, string>; type?: string };

export const b64 = (s: string): string => Buffer.from(s).toString('base64');
export const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

/** A /24 of 10.0.0.0/8 per call, random per run, so parallel runs on one engine rarely meet. */
export function testSubnets(count: number): string[] {
  const base = randomInt(20, 200);
  const third = randomInt(0, 200);
  return Array.from({ length: count }, (_, i) => `10.${base}.${third + i}.0/24`);
}

export interface LabHarness {
  manager: Manager;
  labs: LabController;
  rest: KubeRest;
  clients: { labs: ResourceClient<Obj>; hosts: ResourceClient<Obj>; secrets: ResourceClient<Obj> };
  log: string[];
  stop(): Promise<void>;
}

export async function startLabController(kubeConfig: KubeConfig, namespace: string, env: DockerTestEnv, opts: LabControllerOptions = {}): Promise<LabHarness> {
  const log: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { log.push(String(chunk)); done(); } });
  const manager = new Manager({ kubeConfig, logger: createLogger({ level: 'debug', destination: sink }), httpAddress: null, gracefulShutdownMs: 5_000 });
  const platform = createPlatform(manager, { namespace });
  addHostController(platform, { probeIntervalMs: 5_000, retryInitialMs: 300 });
  const labs = registerLabReconciler(platform, { instance: env.instance, workers: 4, stopTimeoutSeconds: 1, engineResyncMs: 5_000, pollBusyMs: 500, ...opts });
  protectPlatformReferents(platform);
  await manager.start();
  const rest = new KubeRest(kubeConfig);
  return {
    manager,
    labs,
    rest,
    clients: { labs: new ResourceClient<Obj>(rest, labRef), hosts: new ResourceClient<Obj>(rest, hostRef), secrets: new ResourceClient<Obj>(rest, secretRef) },
    log,
    async stop() {
      await manager.stop();
      rest.close();
    },
  };
}

/** The Lab's machine containers, by machine name. */
export async function labContainers(docker: Dockerode, labUid: string): Promise<Map<string, Dockerode.ContainerInfo[]>> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${Labels.ownerUid}=${labUid}`, `${Labels.role}=lab-machine`] } });
  const out = new Map<string, Dockerode.ContainerInfo[]>();
  for (const c of list) {
    const m = c.Labels[Labels.labMachine] ?? '';
    out.set(m, [...(out.get(m) ?? []), c]);
  }
  return out;
}

export async function labNetworks(docker: Dockerode, labUid: string): Promise<Dockerode.NetworkInspectInfo[]> {
  return docker.listNetworks({ filters: { label: [`${Labels.ownerUid}=${labUid}`] } });
}

export async function labImages(docker: Dockerode, labUid: string): Promise<Dockerode.ImageInfo[]> {
  return docker.listImages({ filters: { label: [`${Labels.ownerUid}=${labUid}`] } });
}

/** Runs argv in a container; returns exit code and combined output. */
export async function execIn(docker: Dockerode, id: string, cmd: string[], user = '0'): Promise<{ code: number; out: string }> {
  const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, User: user });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  const out = new Writable({ write(c, _e, d) { chunks.push(c); d(); } });
  docker.modem.demuxStream(stream, out, out);
  await new Promise((r) => stream.on('end', r));
  for (let i = 0; i < 50; i++) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null) return { code: info.ExitCode, out: Buffer.concat(chunks).toString('utf8') };
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`exec ${cmd.join(' ')} reported no exit code`);
}

/** The only container of a machine (fails when there are none or several). */
export async function onlyContainer(docker: Dockerode, labUid: string, machine: string): Promise<Dockerode.ContainerInfo> {
  const list = (await labContainers(docker, labUid)).get(machine) ?? [];
  if (list.length !== 1) throw new Error(`expected exactly one container for machine ${machine}, found ${list.length}: ${list.map((c) => `${c.Names[0]} ${c.State}`).join(', ')}`);
  return list[0]!;
}

export function localHost(namespace: string, name: string, socketPath: string): Obj {
  return { metadata: { name, namespace }, spec: { docker: { unix: { path: socketPath } } } };
}
