// The Docker provider against the real dockerd and the locally built workspace image: a workspace
// container gets its labels, limits, home volume and ports; SSH logs in with the key placed on the
// tmpfs; the home survives stop/start and re-creation; a missing image fails cleanly; an existing
// container is adopted rather than duplicated; deletion is idempotent.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import ssh2 from 'ssh2';
import {
  Engine,
  EngineWatcher,
  Labels,
  WorkspaceContainers,
  activityEpoch,
  containerName,
  endpointsOf,
  homeVolumeName,
  type ContainerSpec,
  type WorkspaceTarget,
} from '../../reconcilers/docker/index.ts';
import { OutriggerError } from '../../controller/errors.ts';
import { dockerSkipReason, setUpDockerTest, testOwner, type DockerTestEnv } from '../fixtures/docker.ts';
import { waitFor } from '../fixtures/wait.ts';
import { ed25519KeyPair } from '../fixtures/ssh-keys.ts';

const { Client: SshClient } = ssh2;

const skip = await dockerSkipReason();
if (skip) process.stderr.write(`docker-containers: skipping: ${skip}\n`);

const SECRET = `s3cret-${Math.random().toString(36).slice(2)}`;

describe('Docker workspace containers', { skip }, () => {
  let env: DockerTestEnv;
  let engine: Engine;
  let watcher: EngineWatcher;
  let ws: WorkspaceContainers;
  const key = ed25519KeyPair();

  before(async () => {
    env = await setUpDockerTest('containers');
    engine = new Engine({ type: 'unix', socketPath: env.socketPath });
    watcher = new EngineWatcher(engine, { instance: env.instance, resyncMs: 60_000 });
    watcher.start();
    await watcher.waitForSync(AbortSignal.timeout(10_000));
    ws = new WorkspaceContainers(engine, { instance: env.instance, cache: watcher.cache, stopTimeoutSeconds: 5 });
  });

  after(async () => {
    await watcher?.stop();
    engine?.close();
    await env?.cleanup();
  });

  function target(name: string, overrides: Partial<ContainerSpec> = {}): WorkspaceTarget {
    const owner = testOwner(name);
    const spec: ContainerSpec = {
      owner,
      image: env.image,
      pullPolicy: 'Never',
      env: { OUTRIGGER_USER: 'alice', OUTRIGGER_UID: '1000' },
      secretEnv: { API_TOKEN: { value: SECRET, version: '1' } },
      cpu: 0.5,
      memoryBytes: 128 * 1024 * 1024,
      pidsLimit: 256,
      home: { volume: homeVolumeName(owner), mountPath: '/home/alice' },
      ports: [{ name: 'ssh', containerPort: 22, protocol: 'tcp' }],
      publishAddress: '127.0.0.1',
      labels: { 'example.org/owner': 'alice' },
      ...overrides,
    };
    return {
      spec,
      running: true,
      files: [
        { path: '/run/outrigger/authorized_keys/alice', content: key.public, mode: 0o644, uid: 0, gid: 0 },
        { path: '/home/alice/.config/app/token', content: SECRET, mode: 0o400, uid: 1000, gid: 1000 },
      ],
    };
  }

  async function sh(id: string, script: string, user = 'alice'): Promise<string> {
    const r = await ws.exec(id, ['sh', '-c', script], { user });
    assert.equal(r.exitCode, 0, `${script} failed: ${r.stderr}`);
    return r.stdout;
  }

  function sshRun(port: number, command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const client = new SshClient();
      client
        .on('ready', () => {
          client.exec(command, (err, stream) => {
            if (err) return reject(err);
            let out = '';
            stream.on('data', (d: Buffer) => (out += d.toString()));
            stream.stderr.on('data', () => {});
            stream.on('close', () => {
              client.end();
              resolve(out);
            });
          });
        })
        .on('error', reject)
        .connect({ host: '127.0.0.1', port, username: 'alice', privateKey: key.private, readyTimeout: 10_000 });
    });
  }

  it('creates a running container with labels, limits, the home volume, the tmpfs and published ports', async () => {
    const t = target('create');
    const c = await ws.create(t);
    assert.equal(c.state, 'running');
    const info = await env.docker.getContainer(c.id).inspect();
    assert.equal(info.Name, `/${containerName(t.spec.owner)}`);
    assert.equal(info.Config.Labels[Labels.ownerUid], t.spec.owner.uid);
    assert.equal(info.Config.Labels[Labels.ownerName], 'create');
    assert.equal(info.Config.Labels[Labels.ownerNamespace], 'default');
    assert.match(info.Config.Labels[Labels.specHash]!, /^[0-9a-f]{16}$/);
    assert.equal(info.Config.Labels['example.org/owner'], 'alice');
    assert.equal(info.HostConfig.NanoCpus, 500_000_000);
    assert.equal(info.HostConfig.Memory, 128 * 1024 * 1024);
    assert.equal(info.HostConfig.PidsLimit, 256);
    const home = info.Mounts.find((m) => m.Destination === '/home/alice');
    assert.deepEqual([home?.Type, home?.Name], ['volume', t.spec.home.volume]);
    const volume = await env.docker.getVolume(t.spec.home.volume).inspect();
    assert.equal(volume.Labels[Labels.ownerUid], t.spec.owner.uid);
    assert.equal(volume.Labels[Labels.role], 'home');
    assert.equal((await sh(c.id, 'stat -f -c %T /run/outrigger')).trim(), 'tmpfs');

    const endpoints = endpointsOf(t.spec.ports, await ws.publishedPorts(c.id));
    assert.equal(endpoints.length, 1);
    assert.equal(endpoints[0]!.hostIp, '127.0.0.1');
    const banner = await new Promise<string>((resolve, reject) => {
      const s = connect(endpoints[0]!.hostPort, '127.0.0.1');
      s.once('data', (d) => {
        resolve(d.toString());
        s.destroy();
      });
      s.once('error', reject);
    });
    assert.match(banner, /^SSH-2\.0-OpenSSH/);
  });

  it('places the files: SSH logs in with the key from the tmpfs and the user reads the secret, which never touches a layer or the config', async () => {
    const t = target('ssh');
    const c = await ws.create(t);
    const [ssh] = endpointsOf(t.spec.ports, await ws.publishedPorts(c.id));
    const out = await waitFor(() => sshRun(ssh!.hostPort, 'id -un; cat ~/.config/app/token; echo; readlink ~/.config/app/token').catch(() => undefined), {
      description: 'an SSH login as alice',
      timeoutMs: 15_000,
      intervalMs: 250,
    });
    const [user, secret, link] = out.trim().split('\n');
    assert.equal(user, 'alice');
    assert.equal(secret, SECRET);
    assert.match(link!, /^\/run\/outrigger\/files\//);
    // The secret file's content is on the tmpfs only: the container's layer holds just the link.
    const changes = (await env.docker.getContainer(c.id).changes()) ?? [];
    assert.ok(!changes.some((ch: { Path: string }) => ch.Path.startsWith('/run/outrigger/files')), 'tmpfs content showed up in the layer');
    // Only the owner may read it.
    const denied = await ws.exec(c.id, ['cat', '/home/alice/.config/app/token'], { user: 'nobody' });
    assert.notEqual(denied.exitCode, 0);
  });

  it('keeps the home through stop and start, and places the files again after the restart', async () => {
    const t = target('stopstart');
    const c = await ws.create(t);
    await sh(c.id, 'echo kept > ~/notes.txt');
    await ws.update({ ...t, running: false });
    await waitFor(() => watcher.cache.get(c.id)?.state === 'exited', { description: 'the container to be stopped', timeoutMs: 15_000 });
    const stopped = await ws.observe({ ...t, running: false });
    assert.equal(stopped.upToDate, true, stopped.diff);
    const wantRunning = await ws.observe(t);
    assert.deepEqual([wantRunning.upToDate, wantRunning.running], [false, false]);

    await ws.update(t, wantRunning);
    assert.equal((await sh(c.id, 'cat ~/notes.txt')).trim(), 'kept');
    assert.equal((await sh(c.id, 'cat ~/.config/app/token')).trim(), SECRET);
    assert.equal((await ws.observe(t)).upToDate, true);
  });

  it('re-creates the container for a changed spec and a file written in the home survives', async () => {
    const t = target('recreate');
    const first = await ws.create(t);
    await sh(first.id, 'echo survives > ~/work.txt');
    const changed: WorkspaceTarget = { ...t, spec: { ...t.spec, memoryBytes: 192 * 1024 * 1024, env: { ...t.spec.env, EDITOR: 'vi' } } };
    const seen = await ws.observe(changed);
    assert.deepEqual([seen.exists, seen.upToDate, seen.needsRecreate], [true, false, true]);
    const second = await ws.update(changed, seen);
    assert.ok(second);
    assert.notEqual(second.id, first.id);
    assert.equal((await sh(second.id, 'cat ~/work.txt; echo $EDITOR')).trim(), 'survives\nvi');
    assert.equal((await env.docker.getContainer(second.id).inspect()).HostConfig.Memory, 192 * 1024 * 1024);
    const all = await env.docker.listContainers({ all: true, filters: { label: [`${Labels.ownerUid}=${t.spec.owner.uid}`] } });
    assert.deepEqual(all.map((x) => x.Id), [second.id]);
  });

  it('keeps the home through remove and re-create (the volume is never removed with the container)', async () => {
    const t = target('rmcreate');
    const first = await ws.create(t);
    await sh(first.id, 'echo persisted > ~/data.txt');
    await ws.delete(t, { removeHome: false });
    await assert.rejects(env.docker.getContainer(first.id).inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
    const second = await ws.create(t);
    assert.notEqual(second.id, first.id);
    assert.equal((await sh(second.id, 'cat ~/data.txt')).trim(), 'persisted');
  });

  it('adopts the existing container after a restart instead of creating a second one, even when two creates race', async () => {
    const t = target('adopt');
    const first = await ws.create(t);
    // A new client with an empty cache, as after a controller crash.
    const fresh = new WorkspaceContainers(engine, { instance: env.instance });
    const seen = await fresh.observe(t);
    assert.equal(seen.exists, true);
    assert.equal(seen.container?.id, first.id);
    const again = await fresh.create(t);
    assert.equal(again.id, first.id);

    const raced = target('race');
    const [a, b] = await Promise.all([
      new WorkspaceContainers(engine, { instance: env.instance }).createContainer(raced.spec),
      new WorkspaceContainers(engine, { instance: env.instance }).createContainer(raced.spec),
    ]);
    assert.equal(a.id, b.id);
    const all = await env.docker.listContainers({ all: true, filters: { label: [`${Labels.ownerUid}=${raced.spec.owner.uid}`] } });
    assert.equal(all.length, 1);
  });

  it('a missing image fails with ImageNotFound and leaves nothing behind', async () => {
    const t = target('noimage', { image: 'outrigger-test/does-not-exist:1' });
    await assert.rejects(ws.create(t), (err: unknown) => {
      assert.ok(err instanceof OutriggerError);
      assert.equal(err.code, 'ImageNotFound');
      assert.match(err.message, /outrigger-test\/does-not-exist:1 is not on the Docker engine unix:\/\/.*pullPolicy is Never/);
      return true;
    });
    assert.equal((await env.docker.listContainers({ all: true, filters: { label: [`${Labels.ownerUid}=${t.spec.owner.uid}`] } })).length, 0);
    await assert.rejects(env.docker.getVolume(t.spec.home.volume).inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  });

  it('a taken host port fails with PortInUse', async () => {
    const holder = await ws.create(target('holder', { ports: [{ name: 'ssh', containerPort: 22, protocol: 'tcp' }] }));
    const taken = (await ws.publishedPorts(holder.id))[0]!.hostPort;
    const t = target('clash', { ports: [{ name: 'ssh', containerPort: 22, protocol: 'tcp', hostPort: taken }] });
    await assert.rejects(ws.create(t), (err: unknown) => err instanceof OutriggerError && err.code === 'PortInUse');
  });

  it('observes a hand edit (docker update) as drift that needs re-creation', async () => {
    const t = target('drift');
    const c = await ws.create(t);
    assert.equal((await ws.observe(t)).upToDate, true);
    await env.docker.getContainer(c.id).update({ Memory: 256 * 1024 * 1024, MemorySwap: -1 });
    const seen = await waitFor(async () => {
      const o = await ws.observe(t);
      return o.needsRecreate ? o : undefined;
    }, { description: 'the update event to mark the container for a check', timeoutMs: 5000 });
    assert.match(seen.diff!, /changed by hand: memory limit 268435456 instead of 134217728/);
  });

  it('exec returns exit code and output, feeds stdin, and caps the output', async () => {
    const c = await ws.create(target('exec'));
    const r = await ws.exec(c.id, ['sh', '-c', 'cat; echo err >&2; exit 7'], { stdin: 'from stdin' });
    assert.deepEqual(r, { exitCode: 7, stdout: 'from stdin', stderr: 'err\n', truncated: false });
    const big = await ws.exec(c.id, ['sh', '-c', 'head -c 100000 /dev/zero'], { maxOutputBytes: 1000 });
    assert.deepEqual([big.stdout.length, big.truncated], [1000, true]);
  });

  it('the activity probe sees an SSH session, its keystrokes, and nothing once it is gone', async () => {
    const t = target('activity');
    const c = await ws.create(t);
    const probe = () => ws.activity(c.id, { uid: 1000, ports: [22] });
    const idle = await probe();
    assert.deepEqual([idle.connections, idle.terminals, idle.userProcesses, activityEpoch(idle)], [0, 0, 0, 0]);

    const [ssh] = endpointsOf(t.spec.ports, await ws.publishedPorts(c.id));
    const client = new SshClient();
    await new Promise<void>((resolve, reject) =>
      client.on('ready', resolve).on('error', reject).connect({ host: '127.0.0.1', port: ssh!.hostPort, username: 'alice', privateKey: key.private, readyTimeout: 10_000 }),
    );
    try {
      const shell = await new Promise<import('ssh2').ClientChannel>((resolve, reject) => client.shell({ term: 'xterm' }, (err, ch) => (err ? reject(err) : resolve(ch))));
      shell.on('data', () => {});
      const typed = Math.floor(Date.now() / 1000);
      shell.write('echo typing\n');
      const busy = await waitFor(async () => {
        const r = await probe();
        return r.terminals === 1 && r.lastInputEpoch >= typed - 1 ? r : undefined;
      }, { description: 'the probe to see the terminal and the keystroke', timeoutMs: 10_000, intervalMs: 200 });
      assert.equal(busy.connections, 1);
      assert.ok(busy.userProcesses >= 2, `user processes: ${busy.userProcesses}`); // sshd session + shell
      assert.ok(activityEpoch(busy) >= typed - 1);
      shell.end('exit\n');
    } finally {
      client.end();
    }
    const after = await waitFor(async () => {
      const r = await probe();
      return r.connections === 0 && r.terminals === 0 ? r : undefined;
    }, { description: 'the session to be gone', timeoutMs: 10_000, intervalMs: 200 });
    assert.equal(activityEpoch(after), 0);
  });

  it('deletes idempotently: container, then home on request; gone already is success', async () => {
    const t = target('delete');
    await ws.create(t);
    await ws.delete(t, { removeHome: true });
    await ws.delete(t, { removeHome: true });
    assert.equal((await env.docker.listContainers({ all: true, filters: { label: [`${Labels.ownerUid}=${t.spec.owner.uid}`] } })).length, 0);
    await assert.rejects(env.docker.getVolume(t.spec.home.volume).inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  });

  it('never puts a secret value into an error', async () => {
    const t = target('secret-error', { image: 'outrigger-test/does-not-exist:1' });
    const err = await ws.create(t).catch((e: unknown) => e as Error);
    assert.ok(err instanceof Error);
    assert.ok(!JSON.stringify({ m: err.message, c: String((err as { cause?: unknown }).cause) }).includes(SECRET));
  });
});
