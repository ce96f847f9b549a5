// Workspaces on Podman: a Host whose spec.docker.unix points at a rootful `podman system service`
// (Debian's podman, started by test/fixtures/podman.ts with the workspace image copied from
// Docker) runs Workspaces as Docker does. Through the real kube-apiserver and the in-process
// controller: create with a labelled home volume, SSH reachable on the published port with the
// authorized key, bootstrap once per home, Stopped and Running, a container removed or stopped by
// hand put back (through Podman's events: the engine list runs only every 5 minutes here), a spec
// edit re-creating it on the same home, a controller restart adopting it, exactly one container per
// Workspace throughout, a missing image making nothing, deletion removing container and home. Then
// the provider against both engines: ulimits reach the container's processes, and on Podman the
// limits left out fall back to its defaults (which fail here, with a message saying what to set).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import ssh2 from 'ssh2';
import { KubeRest, Manager, ResourceClient, createLogger, isNotFound, type KubeObject } from '../../controller/index.ts';
import { OutriggerError } from '../../controller/errors.ts';
import { hostRef, secretRef, workspaceRef } from '../../reconcilers/common/kinds.ts';
import { createPlatform } from '../../reconcilers/platform.ts';
import { hostRegistration } from '../../reconcilers/host/index.ts';
import { Engine, Labels, WorkspaceContainers, homeVolumeName, type ContainerSpec, type Ulimit } from '../../reconcilers/docker/index.ts';
import { registerWorkspaceReconciler, type WorkspaceController } from '../../reconcilers/workspace/index.ts';
import { createWorkspaceContainer } from '../../reconcilers/workspace/create.ts';
import { controlPlaneSkipReason, createTestNamespace, useControlPlane, type ControlPlane, type TestNamespace } from '../fixtures/controlplane.ts';
import { WORKSPACE_IMAGE_ENV, dockerClient, dockerSocket, ensureWorkspaceImage, removeInstanceObjects, testInstance, testOwner } from '../fixtures/docker.ts';
import { podmanSkipReason, startPodman, type PodmanEngine } from '../fixtures/podman.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';

const { Client: SshClient, utils: sshUtils } = ssh2;

const podmanSkip = await podmanSkipReason();
const skip = controlPlaneSkipReason() ?? podmanSkip;
if (skip) process.stderr.write(`workspace-podman: skipping: ${skip}\n`);

const SECRET_FILE = `podman-secret-${Math.random().toString(36).slice(2)}`;

type Obj = KubeObject & { spec?: any; status?: any; data?: Record<string, string>; type?: string };

describe('Workspaces on a Podman engine', { skip }, () => {
  let cp: ControlPlane;
  let podman: PodmanEngine;
  let image: string;
  let ns: TestNamespace;
  let rest: KubeRest;
  let workspaces: ResourceClient<Obj>;
  let manager: Manager | undefined;
  let wc: WorkspaceController;
  const instance = testInstance('podman');
  const key = sshUtils.generateKeyPairSync('ed25519');
  const logLines: string[] = [];

  async function startController(): Promise<void> {
    const sink = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
    manager = new Manager({ kubeConfig: cp.kubeConfig, logger: createLogger({ level: 'debug', destination: sink }), httpAddress: null });
    const platform = createPlatform(manager, { namespace: ns.name });
    hostRegistration.register(platform);
    // The engine list runs every 5 minutes only: what is repaired within the test's waits was
    // noticed through Podman's events stream.
    wc = registerWorkspaceReconciler(platform, { instance, workers: 4, engineResyncMs: 300_000, stopTimeoutSeconds: 2 });
    await manager.start();
  }

  before(async () => {
    cp = await useControlPlane();
    image = process.env[WORKSPACE_IMAGE_ENV] || (await ensureWorkspaceImage()).tag;
    podman = await startPodman({ images: [image] });
    ns = await createTestNamespace(cp.kubeConfig, 'podman');
    rest = new KubeRest(cp.kubeConfig);
    workspaces = new ResourceClient<Obj>(rest, workspaceRef);
    await new ResourceClient<Obj>(rest, secretRef).create({ metadata: { name: 'creds', namespace: ns.name }, type: 'Opaque', data: { file: Buffer.from(SECRET_FILE).toString('base64') } });
    await new ResourceClient<Obj>(rest, hostRef).create({ metadata: { name: 'podman', namespace: ns.name }, spec: { docker: { unix: { path: podman.socketPath } } } });
    await startController();
  });

  after(async () => {
    await manager?.stop();
    rest?.close();
    await ns?.delete();
    await podman?.stop();
    await cp?.stop();
  });

  function workspace(name: string, spec: Record<string, unknown> = {}): Obj {
    return {
      metadata: { name, namespace: ns.name },
      spec: {
        owner: 'alice@example.com',
        runtime: { docker: { hostRef: { name: 'podman' }, image, pullPolicy: 'Never', publishAddress: '127.0.0.1' } },
        user: { name: 'alice', uid: 1000 },
        ...spec,
      },
    };
  }

  const ref = (name: string) => ({ kind: 'Workspace', namespace: ns.name, name });
  const get = (name: string) => workspaces.get({ namespace: ns.name, name });
  const patchSpec = (name: string, spec: Record<string, unknown>) => workspaces.mergePatch({ namespace: ns.name, name }, { spec });
  const ready = async (name: string, timeoutMs = 90_000) =>
    (await waitForCondition(cp.kubeConfig, ref(name), 'Ready', 'True', { requireCurrentGeneration: true, timeoutMs })) as Obj;

  const containersOf = (uid: string) => podman.docker.listContainers({ all: true, filters: { label: [`${Labels.ownerUid}=${uid}`] } });

  async function onlyContainer(uid: string) {
    const list = await containersOf(uid);
    assert.equal(list.length, 1, `exactly one container for ${uid}, found ${list.map((c) => `${c.Names[0]} ${c.State}`).join(', ')}`);
    return podman.docker.getContainer(list[0]!.Id).inspect();
  }

  async function runningContainer(uid: string, description: string, notId?: string): Promise<string> {
    return waitFor(async () => {
      const list = await containersOf(uid);
      const running = list.filter((c) => c.State === 'running' && c.Id !== notId);
      return list.length === 1 && running.length === 1 ? running[0]!.Id : undefined;
    }, { description, timeoutMs: 30_000, intervalMs: 200 });
  }

  async function sh(id: string, script: string, user = '1000'): Promise<string> {
    const r = await podman.podman(['exec', '--user', user, id, 'sh', '-c', script]);
    assert.equal(r.code, 0, `${script}: ${r.stderr}`);
    return r.stdout;
  }

  async function volumeLabels(name: string): Promise<Record<string, string> | undefined> {
    try {
      return (await podman.docker.getVolume(name).inspect()).Labels ?? {};
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  it('the Host on the Podman socket is Ready and reports Podman\'s version as its engine\'s', async () => {
    const host = (await waitForCondition(cp.kubeConfig, { kind: 'Host', namespace: ns.name, name: 'podman' }, 'Ready', 'True', { timeoutMs: 30_000 })) as Obj;
    assert.equal(host.status.reachable, true);
    assert.equal(host.status.facts?.dockerVersion, podman.version);
  });

  it('apply gives one running container with a labelled home volume; SSH answers on the published port with the authorized key', async () => {
    await workspaces.create(workspace('alice', {
      resources: { cpu: '500m', memory: '256Mi' },
      ssh: { authorizedKeys: [key.public] },
      files: [{ path: '/etc/outrigger-test/token', secretKeyRef: { name: 'creds', key: 'file' }, mode: 0o400 }],
    }));
    const ws = await ready('alice');
    const uid = ws.metadata.uid!;
    const info = await onlyContainer(uid);
    assert.equal(info.State.Status, 'running');
    assert.equal(info.Config.Labels[Labels.managedBy], instance);
    assert.equal(info.HostConfig.NanoCpus, 500_000_000);
    assert.equal(info.HostConfig.Memory, 256 * 1024 * 1024);
    const volume = homeVolumeName({ kind: 'Workspace', namespace: ns.name, name: 'alice', uid });
    const home = info.Mounts.find((m) => m.Destination === '/home/alice');
    assert.deepEqual([home?.Type, home?.Name], ['volume', volume]);
    const labels = await volumeLabels(volume);
    assert.deepEqual([labels?.[Labels.ownerUid], labels?.[Labels.role], labels?.[Labels.managedBy]], [uid, 'home', instance], 'the home carries its owner\'s labels on Podman too');

    const published = Number(info.NetworkSettings.Ports['22/tcp']?.[0]?.HostPort);
    const ssh = ws.status.endpoints.find((e: { name: string }) => e.name === 'ssh');
    assert.deepEqual(ssh, { name: 'ssh', protocol: 'TCP', host: '127.0.0.1', port: published, url: `ssh://alice@127.0.0.1:${published}` });
    const hostKey = sshUtils.parseKey((await sh(info.Id, 'cat /etc/ssh/ssh_host_ed25519_key.pub', '0')).trim()) as ssh2.ParsedKey;
    const out = await sshRun({ port: ssh.port, privateKey: key.private, hostKey: hostKey.getPublicSSH() }, 'id -u; cat /etc/outrigger-test/token');
    assert.equal(out.trim(), `1000\n${SECRET_FILE}`);
  });

  it('bootstrap runs once per home, also after the container is re-created', async () => {
    await workspaces.create(workspace('boot', { bootstrap: { script: '#!/bin/sh\nset -eu\necho ran >> "$HOME/bootstrap-count"\necho "bootstrapped as $(id -u)"\n' } }));
    const ws = await waitForCondition(cp.kubeConfig, ref('boot'), 'Bootstrapped', 'True', { timeoutMs: 90_000 }) as Obj;
    const uid = ws.metadata.uid!;
    const first = await onlyContainer(uid);
    assert.equal((await sh(first.Id, 'cat ~/bootstrap-count')).trim(), 'ran');
    assert.match(await sh(first.Id, 'cat ~/.outrigger/bootstrap.log'), /bootstrapped as 1000/);
    await patchSpec('boot', { resources: { memory: '200Mi' } });
    await ready('boot');
    const second = await onlyContainer(uid);
    assert.notEqual(second.Id, first.Id, 'a spec edit re-creates the container');
    assert.equal(second.HostConfig.Memory, 200 * 1024 * 1024);
    await waitForCondition(cp.kubeConfig, ref('boot'), 'Bootstrapped', 'True', { requireCurrentGeneration: true });
    assert.equal((await sh(second.Id, 'cat ~/bootstrap-count')).trim(), 'ran', 'ran once per home');
  });

  it('Stopped stops the container and keeps the home; Running starts the same container with its files placed again', async () => {
    const uid = (await get('alice')).metadata.uid!;
    const before = await onlyContainer(uid);
    await sh(before.Id, 'echo keep-me > ~/notes.txt');
    await patchSpec('alice', { state: 'Stopped' });
    const stopped = await ready('alice');
    assert.equal(stopped.status.phase, 'Stopped');
    assert.notEqual((await onlyContainer(uid)).State.Status, 'running');
    await patchSpec('alice', { state: 'Running' });
    const running = await ready('alice');
    assert.equal(running.status.phase, 'Running');
    const again = await onlyContainer(uid);
    assert.equal(again.Id, before.Id, 'the same container, started again');
    assert.equal((await sh(again.Id, 'cat ~/notes.txt')).trim(), 'keep-me');
    assert.equal((await sh(again.Id, 'cat /etc/outrigger-test/token')).trim(), SECRET_FILE, 'the tmpfs emptied on stop and the file was placed again');
  });

  it('a container removed by hand comes back on its home, one stopped by hand runs again: noticed through Podman\'s events', async () => {
    const uid = (await get('alice')).metadata.uid!;
    const original = await onlyContainer(uid);
    const removed = await podman.podman(['rm', '--force', '--time', '0', original.Id]);
    assert.equal(removed.code, 0, removed.stderr);
    const replacement = await runningContainer(uid, 'a replacement container', original.Id);
    assert.equal((await sh(replacement, 'cat ~/notes.txt')).trim(), 'keep-me');
    await waitFor(async () => (await get('alice')).status?.docker?.containerId === replacement, { description: 'status to name the replacement', timeoutMs: 15_000 });

    const startedBefore = (await podman.docker.getContainer(replacement).inspect()).State.StartedAt;
    const stoppedByHand = await podman.podman(['stop', '--time', '1', replacement]);
    // The controller can start it again before the command's own clean-up step, which then
    // complains that the container runs: the stop itself happened.
    assert.ok(stoppedByHand.code === 0 || /is running or paused, refusing to clean up/.test(stoppedByHand.stderr), stoppedByHand.stderr);
    await waitFor(async () => {
      const state = (await podman.docker.getContainer(replacement).inspect()).State;
      return state.Status === 'running' && state.StartedAt !== startedBefore;
    }, { description: 'the container stopped by hand to run again', timeoutMs: 30_000, intervalMs: 200 });
    assert.equal((await onlyContainer(uid)).Id, replacement);
    assert.ok(wc.watchers.resyncCount <= 1, `only the first engine list ran (${wc.watchers.resyncCount}): the events stream told`);
  });

  it('a restarted controller adopts the containers it finds (Podman\'s full image names and default pids limit are no drift) and makes no second one', async () => {
    const uid = (await get('alice')).metadata.uid!;
    const before = await onlyContainer(uid);
    assert.match(before.Config.Image, /^localhost\//, 'Podman reports the image under its full name');
    await manager!.stop();
    await startController();
    // The new controller inspects every container it finds once, against its spec.
    const reconciled = () => wc.controller.counts.success + wc.controller.counts.requeueAfter;
    await waitFor(() => reconciled() >= 2, { description: 'the new controller to reconcile both Workspaces', timeoutMs: 30_000 });
    await ready('alice');
    const after = await onlyContainer(uid);
    assert.equal(after.Id, before.Id, 'adopted, not re-created');
    assert.equal(after.State.Status, 'running');
  });

  it('a missing image gives Ready=False, reason ImageNotFound, and leaves no container and no home behind', async () => {
    const missing = workspace('noimage');
    missing.spec.runtime.docker.image = 'outrigger-test/no-such-image:1';
    await workspaces.create(missing);
    const ws = await waitForCondition(cp.kubeConfig, ref('noimage'), 'Ready', 'False', { timeoutMs: 30_000 }) as Obj;
    const cond = ws.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    assert.equal(cond.reason, 'ImageNotFound');
    assert.match(cond.message, /outrigger-test\/no-such-image:1/);
    const uid = ws.metadata.uid!;
    assert.equal((await containersOf(uid)).length, 0, 'no container');
    assert.equal(await volumeLabels(homeVolumeName({ kind: 'Workspace', namespace: ns.name, name: 'noimage', uid })), undefined, 'no home volume');
  });

  it('deletion removes the container and the home volume, then the finalizer', async () => {
    const ws = await get('alice');
    const uid = ws.metadata.uid!;
    const volume = homeVolumeName({ kind: 'Workspace', namespace: ns.name, name: 'alice', uid });
    await workspaces.delete({ namespace: ns.name, name: 'alice' });
    await waitFor(async () => get('alice').then(() => false, (err) => isNotFound(err)), { description: 'alice to be gone', timeoutMs: 30_000 });
    assert.equal((await containersOf(uid)).length, 0, 'no container left');
    assert.equal(await volumeLabels(volume), undefined, 'the home volume is removed');
  });

  it('left no secret value in the controller log', () => {
    const log = logLines.join('');
    assert.ok(log.length > 0);
    assert.ok(!log.includes(SECRET_FILE), 'a secret value in the log');
  });

  describe('the provider on Podman (and Docker, for ulimits)', () => {
    const engines: Array<{ name: string; engine: () => Engine; flavor: string }> = [];
    let podmanEngine: Engine;
    let dockerEngine: Engine;
    before(() => {
      podmanEngine = new Engine({ type: 'unix', socketPath: podman.socketPath });
      dockerEngine = new Engine({ type: 'unix', socketPath: dockerSocket() });
      engines.push({ name: 'Podman', engine: () => podmanEngine, flavor: 'podman' }, { name: 'Docker', engine: () => dockerEngine, flavor: 'docker' });
    });
    after(async () => {
      podmanEngine?.close();
      dockerEngine?.close();
      await removeInstanceObjects(dockerClient(), instance);
    });

    function spec(name: string, ulimits: Ulimit[]): ContainerSpec {
      const owner = testOwner(name, ns.name);
      return { owner, image, pullPolicy: 'Never', env: { OUTRIGGER_SSH: 'off' }, ulimits, home: { volume: homeVolumeName(owner), mountPath: '/home/dev' } };
    }

    it('each engine says what it is', async () => {
      for (const e of engines) assert.equal(await e.engine().flavor(), e.flavor, e.name);
    });

    it('the spec\'s ulimits are what the container\'s processes get, on Docker and on Podman', async () => {
      const limits: Ulimit[] = [{ name: 'nofile', soft: 1024, hard: 2048 }, { name: 'nproc', soft: 512, hard: 1024 }];
      for (const e of engines) {
        const ws = new WorkspaceContainers(e.engine(), { instance });
        const c = await ws.create({ spec: spec(`ulimits-${e.flavor}`, limits), running: true, files: [] });
        // The container's own processes (pid 1 and what it starts, sshd and its sessions). Podman
        // gives exec'd processes the hard open-files limit as their soft one, mostly.
        const r = await ws.exec(c.id, ['grep', '-E', '^Max (open files|processes)', '/proc/1/limits']);
        assert.equal(r.exitCode, 0, r.stderr);
        const limitsSeen = r.stdout.trim().split('\n').map((line) => line.split(/\s{2,}/).slice(0, 3).join(' '));
        assert.deepEqual(limitsSeen.sort(), ['Max open files 1024 2048', 'Max processes 512 1024'], e.name);
      }
    });

    it('two creates racing for one Workspace on Podman make one container (Podman refuses the second name with a 500, not a 409)', async () => {
      const raced = spec('race', []);
      delete raced.ulimits;
      const target = { spec: raced, running: true, files: [] };
      const [a, b] = await Promise.all([1, 2].map(() => createWorkspaceContainer(new WorkspaceContainers(podmanEngine, { instance }), target, Date.now)));
      assert.equal(a!.id, b!.id);
      const all = await podman.docker.listContainers({ all: true, filters: { label: [`${Labels.ownerUid}=${raced.owner.uid}`] } });
      assert.equal(all.length, 1);
      const labels = await volumeLabels(raced.home.volume);
      assert.equal(labels?.[Labels.ownerUid], raced.owner.uid, 'the home made first, with its labels');
    });

    it('on Podman, limits left out fall back to its defaults instead of containers.conf\'s: start fails here, saying to set nofile and nproc', async () => {
      const ws = new WorkspaceContainers(podmanEngine, { instance });
      await assert.rejects(ws.create({ spec: spec('only-nofile', [{ name: 'nofile', soft: 1024, hard: 1024 }]), running: true, files: [] }), (err: unknown) => {
        assert.ok(err instanceof OutriggerError, String(err));
        assert.match(err.message, /error setting rlimit/);
        assert.match(err.message, /set spec\.docker\.ulimits on the Host \(nofile and nproc, both\)/);
        return true;
      });
    });
  });
});

interface SshTarget {
  port: number;
  privateKey: string;
  hostKey: Buffer;
}

function sshConnect(t: SshTarget): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const conn = new SshClient();
    conn.on('ready', () => resolve(conn)).on('error', reject);
    conn.connect({ host: '127.0.0.1', port: t.port, username: 'alice', privateKey: t.privateKey, readyTimeout: 15_000, hostVerifier: (k: Buffer) => k.equals(t.hostKey) });
  });
}

async function sshRun(t: SshTarget, command: string): Promise<string> {
  // sshd may still be starting right after the container does.
  const conn = await waitFor(() => sshConnect(t), { description: `SSH on port ${t.port}`, timeoutMs: 20_000, intervalMs: 300 });
  try {
    return await new Promise<string>((resolve, reject) => {
      conn.exec(command, (err, stream) => {
        if (err) return reject(err);
        let out = '';
        stream.on('data', (d: Buffer) => (out += d.toString('utf8')));
        stream.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
        stream.on('close', () => resolve(out));
      });
    });
  } finally {
    conn.end();
  }
}
