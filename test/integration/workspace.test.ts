// The Workspace reconciler end to end, in process, against the real kube-apiserver and the real
// dockerd with the locally built workspace image: apply gives a running container with the right
// labels, limits, home volume and ports (and SSH logs in with the authorized key); a spec edit
// re-creates it and the home survives; Stopped and Running keep the home; a container removed or
// stopped by hand is put back; deletion follows the deletion policy; a missing image or an
// unreachable engine gives Ready=False with a reason and bounded retries; an idle workspace stops,
// stays stopped and wakes on the annotation; bootstrap runs once per home; Proxmox says it is not
// implemented; the CSV command's manifests are accepted by the API server and the class label
// selects a whole class. (workspace-process.test.ts runs the controller as a process: SIGKILL and log greps.)
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { KubeRest, Manager, ResourceClient, createLogger, isNotFound, type KubeObject } from '../../controller/index.ts';
import { hostRef, secretRef, workspaceRef } from '../../reconcilers/common/kinds.ts';
import { createPlatform } from '../../reconcilers/platform.ts';
import { homeVolumeName, Labels } from '../../reconcilers/docker/index.ts';
import { registerWorkspaceReconciler, WAKE_ANNOTATION, type WorkspaceController } from '../../reconcilers/workspace/index.ts';
import { runWorkspacesFromCsv } from '../../cli/workspaces-from-csv.ts';
import { controlPlaneSkipReason, createTestNamespace, useControlPlane, type ControlPlane, type TestNamespace } from '../fixtures/controlplane.ts';
import { dockerSkipReason, setUpDockerTest, type DockerTestEnv } from '../fixtures/docker.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { ed25519KeyPair } from '../fixtures/ssh-keys.ts';

const { Client: SshClient, utils: sshUtils } = ssh2;

const dockerSkip = await dockerSkipReason();
const skip = controlPlaneSkipReason() ?? dockerSkip;
if (skip) process.stderr.write(`workspace: skipping: ${skip}\n`);

const SECRET_TOKEN = `tok-${Math.random().toString(36).slice(2)}-${Date.now()}`;
const SECRET_FILE = `file-secret-${Math.random().toString(36).slice(2)}`;

type Obj = KubeObject & { spec?: any; status?: any; data?: Record<string, string>; type?: string };

describe('Workspace reconciler on Docker', { skip }, () => {
  let cp: ControlPlane;
  let env: DockerTestEnv;
  let ns: TestNamespace;
  let manager: Manager;
  let wc: WorkspaceController;
  let rest: KubeRest;
  let workspaces: ResourceClient<Obj>;
  const logLines: string[] = [];
  const key = ed25519KeyPair();

  before(async () => {
    cp = await useControlPlane();
    env = await setUpDockerTest('workspace');
    ns = await createTestNamespace(cp.kubeConfig, 'workspace');
    rest = new KubeRest(cp.kubeConfig);
    workspaces = new ResourceClient<Obj>(rest, workspaceRef);
    const secrets = new ResourceClient<Obj>(rest, secretRef);
    const hosts = new ResourceClient<Obj>(rest, hostRef);
    await secrets.create({ metadata: { name: 'creds', namespace: ns.name }, type: 'Opaque', data: { token: b64(SECRET_TOKEN), file: b64(SECRET_FILE) } });
    await hosts.create({ metadata: { name: 'local', namespace: ns.name }, spec: { docker: { unix: { path: env.socketPath } } } });
    await hosts.create({ metadata: { name: 'nowhere', namespace: ns.name }, spec: { docker: { unix: { path: '/run/outrigger-test-no-such-engine.sock' } } } });

    const sink = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
    manager = new Manager({ kubeConfig: cp.kubeConfig, logger: createLogger({ level: 'debug', destination: sink }), httpAddress: null });
    const platform = createPlatform(manager, { namespace: ns.name });
    wc = registerWorkspaceReconciler(platform, { instance: env.instance, workers: 4, engineResyncMs: 5_000, stopTimeoutSeconds: 2 });
    await manager.start();
  });

  after(async () => {
    await manager?.stop();
    rest?.close();
    await env?.cleanup();
    await ns?.delete();
    await cp?.stop();
  });

  function workspace(name: string, spec: Record<string, unknown> = {}, runtime: Record<string, unknown> = {}): Obj {
    return {
      metadata: { name, namespace: ns.name },
      spec: {
        owner: 'alice@example.com',
        runtime: { docker: { hostRef: { name: 'local' }, image: env.image, pullPolicy: 'Never', publishAddress: '127.0.0.1', ...runtime } },
        user: { name: 'alice', uid: 1000 },
        ...spec,
      },
    };
  }

  const ref = (name: string) => ({ kind: 'Workspace', namespace: ns.name, name });
  const get = (name: string) => workspaces.get({ namespace: ns.name, name });
  const patchSpec = (name: string, spec: Record<string, unknown>) => workspaces.mergePatch({ namespace: ns.name, name }, { spec });

  async function ready(name: string, timeoutMs = 60_000): Promise<Obj> {
    return (await waitForCondition(cp.kubeConfig, ref(name), 'Ready', 'True', { requireCurrentGeneration: true, timeoutMs })) as Obj;
  }

  async function containersOf(uid: string) {
    return env.docker.listContainers({ all: true, filters: { label: [`${Labels.ownerUid}=${uid}`] } });
  }

  async function onlyContainer(uid: string) {
    const list = await containersOf(uid);
    assert.equal(list.length, 1, `exactly one container for ${uid}, found ${list.map((c) => `${c.Names[0]} ${c.State}`).join(', ')}`);
    return env.docker.getContainer(list[0]!.Id).inspect();
  }

  async function volumeExists(name: string): Promise<boolean> {
    try {
      await env.docker.getVolume(name).inspect();
      return true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return false;
      throw err;
    }
  }

  async function execOut(id: string, cmd: string[], user = '1000'): Promise<string> {
    const exec = await env.docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, User: user });
    const stream = await exec.start({});
    const chunks: Buffer[] = [];
    const out = new Writable({ write(c, _e, d) { chunks.push(c); d(); } });
    env.docker.modem.demuxStream(stream, out, out);
    await new Promise((r) => stream.on('end', r));
    return Buffer.concat(chunks).toString('utf8');
  }

  /** Waits for the one container of the workspace to run, returning its id. */
  async function runningContainer(uid: string, description: string, notId?: string): Promise<string> {
    return waitFor(async () => {
      const list = await containersOf(uid);
      const running = list.filter((c) => c.State === 'running' && c.Id !== notId);
      return list.length === 1 && running.length === 1 ? running[0]!.Id : undefined;
    }, { description, timeoutMs: 30_000, intervalMs: 200 });
  }

  it('apply gives a running container with its labels, limits, home volume and ports; SSH logs in with the authorized key', async () => {
    await workspaces.create(workspace('alice', {
      resources: { cpu: '500m', memory: '256Mi' },
      ssh: { authorizedKeys: [key.public] },
      ports: [{ name: 'web', port: 8000 }],
      env: [{ name: 'GREETING', value: 'hello' }, { name: 'API_TOKEN', secretKeyRef: { name: 'creds', key: 'token' } }],
      files: [{ path: '/etc/outrigger-test/token', secretKeyRef: { name: 'creds', key: 'file' }, mode: 0o400 }],
    }));
    const ws = await ready('alice');
    const uid = ws.metadata.uid!;
    const info = await onlyContainer(uid);

    assert.equal(info.State.Status, 'running');
    const labels = info.Config.Labels;
    assert.equal(labels[Labels.managedBy], env.instance);
    assert.equal(labels[Labels.ownerUid], uid);
    assert.equal(labels[Labels.ownerName], 'alice');
    assert.equal(labels[Labels.ownerNamespace], ns.name);
    assert.equal(labels['outrigger.dev/owner'], 'alice@example.com');
    assert.equal(info.HostConfig.NanoCpus, 500_000_000);
    assert.equal(info.HostConfig.Memory, 256 * 1024 * 1024);
    const home = info.Mounts.find((m) => m.Destination === '/home/alice');
    assert.equal(home?.Type, 'volume');
    assert.equal(home?.Name, homeVolumeName({ kind: 'Workspace', namespace: ns.name, name: 'alice', uid }));
    assert.ok(info.Config.Env.includes('GREETING=hello'));
    assert.ok(info.Config.Env.includes('OUTRIGGER_USER=alice'));

    // Endpoints name the published ports as Docker chose them.
    const bound = (port: string) => Number(info.NetworkSettings.Ports[port]?.[0]?.HostPort);
    assert.equal(ws.status.phase, 'Running');
    assert.equal(ws.status.docker.containerId, info.Id);
    const ssh = ws.status.endpoints.find((e: { name: string }) => e.name === 'ssh');
    const web = ws.status.endpoints.find((e: { name: string }) => e.name === 'web');
    assert.deepEqual(ssh, { name: 'ssh', protocol: 'TCP', host: '127.0.0.1', port: bound('22/tcp'), url: `ssh://alice@127.0.0.1:${bound('22/tcp')}` });
    assert.deepEqual(web, { name: 'web', protocol: 'TCP', host: '127.0.0.1', port: bound('8000/tcp') });
    assert.equal(info.NetworkSettings.Ports['22/tcp']?.[0]?.HostIp, '127.0.0.1');

    // SSH as the workspace user with the key from the spec; the host key is the container's own.
    const hostKey = (await execOut(info.Id, ['cat', '/etc/ssh/ssh_host_ed25519_key.pub'], '0')).trim();
    const expected = sshUtils.parseKey(hostKey);
    assert.ok(!(expected instanceof Error));
    const out = await sshRun({ port: ssh.port, privateKey: key.private, hostKey: (expected as ssh2.ParsedKey).getPublicSSH() }, 'id -u; cat /etc/outrigger-test/token');
    assert.equal(out.trim(), `1000\n${SECRET_FILE}`);
  });

  it('a spec edit re-creates the container and a file written in the home survives', async () => {
    const ws = await get('alice');
    const uid = ws.metadata.uid!;
    const before = await onlyContainer(uid);
    await execOut(before.Id, ['sh', '-c', 'echo keep-me > /home/alice/notes.txt']);
    await patchSpec('alice', { resources: { cpu: '500m', memory: '320Mi' } });
    const updated = await ready('alice');
    const after = await onlyContainer(uid);
    assert.notEqual(after.Id, before.Id, 'a new container');
    assert.equal(after.HostConfig.Memory, 320 * 1024 * 1024);
    assert.equal(updated.status.docker.containerId, after.Id);
    assert.equal((await execOut(after.Id, ['cat', '/home/alice/notes.txt'])).trim(), 'keep-me');
    // The secret file is placed again in the new container.
    assert.equal((await execOut(after.Id, ['cat', '/etc/outrigger-test/token'])).trim(), SECRET_FILE);
  });

  it('Stopped stops the container and keeps the home; Running starts it again', async () => {
    const uid = (await get('alice')).metadata.uid!;
    await patchSpec('alice', { state: 'Stopped' });
    const stopped = await ready('alice');
    assert.equal(stopped.status.phase, 'Stopped');
    assert.equal(stopped.status.endpoints, undefined);
    const info = await onlyContainer(uid);
    assert.notEqual(info.State.Status, 'running');

    await patchSpec('alice', { state: 'Running' });
    const running = await ready('alice');
    assert.equal(running.status.phase, 'Running');
    const again = await onlyContainer(uid);
    assert.equal(again.Id, info.Id, 'the same container, started again');
    assert.equal((await execOut(again.Id, ['cat', '/home/alice/notes.txt'])).trim(), 'keep-me');
  });

  it('a container removed by hand comes back with its home; one stopped by hand is started again; one changed by hand is re-created', async () => {
    const uid = (await get('alice')).metadata.uid!;
    const original = await onlyContainer(uid);
    await env.docker.getContainer(original.Id).remove({ force: true });
    const replacement = await runningContainer(uid, 'a replacement container', original.Id);
    assert.equal((await execOut(replacement, ['cat', '/home/alice/notes.txt'])).trim(), 'keep-me');
    await waitFor(async () => (await get('alice')).status?.docker?.containerId === replacement, { description: 'status to name the replacement', timeoutMs: 15_000 });

    await env.docker.getContainer(replacement).stop({ t: 1 });
    await runningContainer(uid, 'the stopped container to run again');
    const ws = await ready('alice');
    assert.equal(ws.status.docker.containerId, replacement);

    // `docker update` raises the memory limit behind Outrigger's back: the spec's limit comes back.
    await env.docker.getContainer(replacement).update({ Memory: 512 * 1024 * 1024, MemorySwap: -1 });
    const recreated = await runningContainer(uid, 'a container with the spec\'s limits again', replacement);
    assert.equal((await env.docker.getContainer(recreated).inspect()).HostConfig.Memory, 320 * 1024 * 1024);
    assert.equal((await execOut(recreated, ['cat', '/home/alice/notes.txt'])).trim(), 'keep-me');
  });

  it('bootstrap runs once per home, reported as a condition and an event', async () => {
    const script = '#!/bin/sh\nset -eu\necho ran >> "$HOME/bootstrap-count"\necho "bootstrapped as $(id -u)"\n';
    await workspaces.create(workspace('boot', { bootstrap: { script } }));
    const ws = await waitForCondition(cp.kubeConfig, ref('boot'), 'Bootstrapped', 'True', { timeoutMs: 60_000 }) as Obj;
    assert.equal(ws.status.bootstrap.state, 'Succeeded');
    const uid = ws.metadata.uid!;
    const first = await onlyContainer(uid);
    assert.equal((await execOut(first.Id, ['cat', '/home/alice/bootstrap-count'])).trim(), 'ran');
    assert.match(await execOut(first.Id, ['cat', '/home/alice/.outrigger/bootstrap.log']), /bootstrapped as 1000/);
    await waitFor(async () => (await eventsOf('boot')).some((e) => e.reason === 'Bootstrapped'), { description: 'a Bootstrapped event' });

    // A re-created container on the same home does not run it again.
    await patchSpec('boot', { resources: { memory: '200Mi' } });
    await ready('boot');
    const second = await onlyContainer(uid);
    assert.notEqual(second.Id, first.Id);
    await waitForCondition(cp.kubeConfig, ref('boot'), 'Bootstrapped', 'True', { requireCurrentGeneration: true });
    assert.equal((await execOut(second.Id, ['cat', '/home/alice/bootstrap-count'])).trim(), 'ran', 'ran once per home');
  });

  it('a failing bootstrap says what failed (exit code, last lines, no secret) and stalls until the spec changes', async () => {
    const script = 'echo "installing tools"\necho "token is $API_TOKEN"\necho "tool not found" >&2\nexit 3\n';
    await workspaces.create(workspace('badboot', { bootstrap: { script }, env: [{ name: 'API_TOKEN', secretKeyRef: { name: 'creds', key: 'token' } }] }));
    const ws = await waitForCondition(cp.kubeConfig, ref('badboot'), 'Bootstrapped', 'False', { timeoutMs: 60_000 }) as Obj;
    const cond = ws.status.conditions.find((c: { type: string }) => c.type === 'Bootstrapped');
    assert.equal(cond.reason, 'BootstrapFailed');
    assert.match(cond.message, /exit code 3/);
    assert.match(cond.message, /installing tools/);
    assert.match(cond.message, /tool not found/);
    assert.match(cond.message, /token is \[redacted\]/);
    assert.ok(!JSON.stringify(ws.status).includes(SECRET_TOKEN), 'no secret in status');
    const readyCond = ws.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    assert.equal(readyCond.status, 'False');
    assert.equal(readyCond.reason, 'BootstrapFailed');
    assert.equal(ws.status.conditions.find((c: { type: string }) => c.type === 'Stalled').status, 'True');
    assert.equal(ws.status.phase, 'Failed');
    const events = await waitFor(async () => {
      const list = await eventsOf('badboot');
      return list.some((e) => e.reason === 'BootstrapFailed') ? list : undefined;
    }, { description: 'a BootstrapFailed event' });
    assert.ok(!JSON.stringify(events).includes(SECRET_TOKEN), 'no secret in events');

    // Fixed script, changed spec: it runs again and succeeds.
    await patchSpec('badboot', { bootstrap: { script: 'echo fixed\n' } });
    await waitForCondition(cp.kubeConfig, ref('badboot'), 'Bootstrapped', 'True', { requireCurrentGeneration: true, timeoutMs: 60_000 });
    await ready('badboot');
  });

  it('a missing image gives Ready=False with a reason, bounded retries and nothing half-made', async () => {
    await workspaces.create(workspace('noimage', {}, { image: 'outrigger-test/no-such-image:1' }));
    const ws = await waitForCondition(cp.kubeConfig, ref('noimage'), 'Ready', 'False', { timeoutMs: 30_000 }) as Obj;
    const cond = ws.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    assert.equal(cond.reason, 'ImageNotFound');
    assert.match(cond.message, /outrigger-test\/no-such-image:1/);
    const uid = ws.metadata.uid!;
    // Retries back off: a handful in ten seconds, not a hot loop.
    const before = wc.controller.counts.error;
    await new Promise((r) => setTimeout(r, 10_000));
    const retries = wc.controller.counts.error - before;
    assert.ok(retries >= 1 && retries <= 8, `retries in 10 s: ${retries}`);
    assert.equal((await containersOf(uid)).length, 0, 'no container');
    assert.equal(await volumeExists(homeVolumeName({ kind: 'Workspace', namespace: ns.name, name: 'noimage', uid })), false, 'no volume');
    const warnings = (await eventsOf('noimage')).filter((e) => e.reason === 'ImageNotFound');
    assert.equal(warnings.length, 1, 'one Warning event, not one per retry');

    await patchSpec('noimage', { runtime: { docker: { hostRef: { name: 'local' }, image: env.image, pullPolicy: 'Never', publishAddress: '127.0.0.1' } } });
    await ready('noimage');
  });

  it('an unreachable engine gives Ready=False with reason Unreachable', async () => {
    await workspaces.create(workspace('offline', { deletionPolicy: 'Orphan' }, { hostRef: { name: 'nowhere' } }));
    const ws = await waitForCondition(cp.kubeConfig, ref('offline'), 'Ready', 'False', { timeoutMs: 30_000 }) as Obj;
    const cond = ws.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    assert.equal(cond.reason, 'Unreachable');
    assert.match(cond.message, /no-such-engine/);
  });

  it('an idle workspace stops after its idleTimeout while an SSH session keeps one running; it stays stopped and wakes on the annotation', async () => {
    await workspaces.create(workspace('idle', { idleTimeout: '12s', ssh: { authorizedKeys: [key.public] } }));
    const ws = await ready('idle');
    const uid = ws.metadata.uid!;
    const info = await onlyContainer(uid);
    const port = Number(info.NetworkSettings.Ports['22/tcp']?.[0]?.HostPort);
    const hostKey = sshUtils.parseKey((await execOut(info.Id, ['cat', '/etc/ssh/ssh_host_ed25519_key.pub'], '0')).trim()) as ssh2.ParsedKey;

    // While an SSH connection is open the workspace is in use: it outlives two idle timeouts.
    const conn = await sshConnect({ port, privateKey: key.private, hostKey: hostKey.getPublicSSH() });
    try {
      const until = Date.now() + 26_000;
      while (Date.now() < until) {
        assert.equal((await env.docker.getContainer(info.Id).inspect()).State.Status, 'running', 'kept running while connected');
        await new Promise((r) => setTimeout(r, 1_000));
      }
    } finally {
      conn.end();
    }

    const stopped = await waitForCondition(cp.kubeConfig, ref('idle'), 'Idle', 'True', { timeoutMs: 60_000 }) as Obj;
    assert.equal(stopped.status.phase, 'Stopped');
    assert.ok(stopped.status.lastActivity, 'status.lastActivity is set');
    assert.equal(stopped.status.conditions.find((c: { type: string }) => c.type === 'Ready').reason, 'IdleStopped');
    assert.notEqual((await onlyContainer(uid)).State.Status, 'running');

    // Drift correction leaves it stopped: engine lists (every 5 s) and reconciles come and go.
    const lists = wc.watchers.resyncCount;
    await waitFor(() => wc.watchers.resyncCount >= lists + 2, { description: 'two engine lists', timeoutMs: 20_000 });
    assert.notEqual((await onlyContainer(uid)).State.Status, 'running', 'not restarted by drift correction');

    await workspaces.mergePatch({ namespace: ns.name, name: 'idle' }, { metadata: { annotations: { [WAKE_ANNOTATION]: new Date().toISOString() } } });
    await runningContainer(uid, 'the woken container to run');
    const woken = await waitForCondition(cp.kubeConfig, ref('idle'), 'Idle', 'False', { timeoutMs: 30_000 }) as Obj;
    assert.equal(woken.status.phase, 'Running');
  });

  it('a Proxmox workspace reports that the runtime is not implemented, and deletes cleanly', async () => {
    await workspaces.create({
      metadata: { name: 'vm', namespace: ns.name },
      spec: { owner: 'bob', runtime: { proxmox: { clusterRef: { name: 'pve' }, template: 'debian-12' } } },
    });
    const ws = await waitForCondition(cp.kubeConfig, ref('vm'), 'Ready', 'False', { timeoutMs: 30_000 }) as Obj;
    const cond = ws.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    assert.equal(cond.reason, 'NotImplemented');
    assert.match(cond.message, /Proxmox runtime is not implemented/);
    assert.equal(ws.status.conditions.find((c: { type: string }) => c.type === 'Stalled').status, 'True');
    await workspaces.delete({ namespace: ns.name, name: 'vm' });
    await waitFor(async () => get('vm').then(() => false, (err) => isNotFound(err)), { description: 'the Proxmox workspace to be gone' });
  });

  it('deletion removes the container, the home and the finalizer; Orphan leaves everything', async () => {
    const ws = await get('alice');
    const uid = ws.metadata.uid!;
    const volume = homeVolumeName({ kind: 'Workspace', namespace: ns.name, name: 'alice', uid });
    assert.ok(ws.metadata.finalizers?.includes('outrigger.dev/cleanup'));
    await workspaces.delete({ namespace: ns.name, name: 'alice' });
    await waitFor(async () => get('alice').then(() => false, (err) => isNotFound(err)), { description: 'alice to be gone', timeoutMs: 30_000 });
    assert.equal((await containersOf(uid)).length, 0, 'no container left');
    assert.equal(await volumeExists(volume), false, 'the home is removed (deletionPolicy Delete, the default)');

    await workspaces.create(workspace('keeper', { deletionPolicy: 'Orphan' }));
    const keeper = await ready('keeper');
    const keeperUid = keeper.metadata.uid!;
    await workspaces.delete({ namespace: ns.name, name: 'keeper' });
    await waitFor(async () => get('keeper').then(() => false, (err) => isNotFound(err)), { description: 'keeper to be gone', timeoutMs: 30_000 });
    const left = await containersOf(keeperUid);
    assert.equal(left.length, 1);
    assert.equal(left[0]!.State, 'running', 'Orphan leaves the container running');
    assert.equal(await volumeExists(homeVolumeName({ kind: 'Workspace', namespace: ns.name, name: 'keeper', uid: keeperUid })), true);
  });

  it('workspaces-from-csv writes manifests the API server accepts, and the class label selects the whole class', async () => {
    const classNs = await createTestNamespace(cp.kubeConfig, 'workspace-class');
    try {
      const csv = `name,ssh_key,memory,label.team\nann,${key.public},256Mi,red\nben,,512Mi,blue\ncho_k,,,red\n`;
      let yaml = '';
      const code = runWorkspacesFromCsv(['--file', 'cs101.csv', '--host', 'local', '--image', env.image, '--class', 'cs101', '--namespace', classNs.name], {
        stdout: (t) => (yaml += t),
        stderr: () => {},
        readFile: () => csv,
      });
      assert.equal(code, 0);
      // No controller watches this namespace: the objects only have to be accepted and found.
      const applied = await cp.kubectl(['apply', '-f', '-'], { input: yaml });
      assert.equal(applied.code, 0, applied.stderr);
      const names = async (selector: string) =>
        (await cp.kubectl(['get', 'workspaces', '-n', classNs.name, '-l', selector, '-o', 'name'])).stdout.trim().split('\n').filter(Boolean).sort();
      assert.deepEqual(await names('outrigger.dev/class=cs101'), ['workspace.outrigger.dev/cs101-ann', 'workspace.outrigger.dev/cs101-ben', 'workspace.outrigger.dev/cs101-cho-k']);
      assert.deepEqual(await names('outrigger.dev/class=cs101,team=red'), ['workspace.outrigger.dev/cs101-ann', 'workspace.outrigger.dev/cs101-cho-k']);
      assert.deepEqual(await names('outrigger.dev/user=cho_k'), ['workspace.outrigger.dev/cs101-cho-k']);
      const annotated = await cp.kubectl(['annotate', 'workspaces', '-n', classNs.name, '-l', 'outrigger.dev/class=cs101', `${WAKE_ANNOTATION}=${new Date().toISOString()}`, '--overwrite']);
      assert.equal(annotated.code, 0, annotated.stderr);
      const deleted = await cp.kubectl(['delete', 'workspaces', '-n', classNs.name, '-l', 'outrigger.dev/class=cs101']);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.deepEqual(await names('outrigger.dev/class=cs101'), []);
    } finally {
      await classNs.delete();
    }
  });

  it('left no secret value in the controller log', () => {
    const log = logLines.join('');
    assert.ok(log.length > 0);
    for (const secret of [SECRET_TOKEN, SECRET_FILE, b64(SECRET_TOKEN), b64(SECRET_FILE)]) assert.ok(!log.includes(secret), 'a secret value in the log');
  });

  async function eventsOf(name: string): Promise<Array<{ reason: string; note: string; type: string }>> {
    const events = new ResourceClient<Obj>(rest, { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true });
    const list = await events.list(ns.name);
    return (list.items as unknown as Array<{ reason: string; note: string; type: string; regarding: { name: string } }>).filter((e) => e.regarding.name === name);
  }
});

function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}

interface SshTarget {
  port: number;
  privateKey: string;
  /** The server's public key blob: anything else is refused. */
  hostKey: Buffer;
}

function sshConnect(t: SshTarget): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const conn = new SshClient();
    conn.on('ready', () => resolve(conn)).on('error', reject);
    conn.connect({
      host: '127.0.0.1',
      port: t.port,
      username: 'alice',
      privateKey: t.privateKey,
      readyTimeout: 15_000,
      hostVerifier: (key: Buffer) => key.equals(t.hostKey),
    });
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
