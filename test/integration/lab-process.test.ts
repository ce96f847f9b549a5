// The Lab controller as the real process (`outrigger controller`) against the real kube-apiserver
// and dockerd: SIGKILLed in the middle of creating a 5-machine Lab (machines made, steps running)
// and started again, it ends with exactly one container per machine and every step run once; a
// Lab deleted while the controller is down after such a kill is cleaned up entirely once it is
// back; and no secret (the Lab's SSH key, a generated password) reaches its log, Events or status.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { KubeRest, ResourceClient, isNotFound } from '../../controller/index.ts';
import { hostRef, labRef, secretRef } from '../../reconcilers/common/kinds.ts';
import { INSTANCE_ENV } from '../../reconcilers/lab/index.ts';
import { controlPlaneSkipReason, createTestNamespace, useControlPlane, type ControlPlane, type TestNamespace } from '../fixtures/controlplane.ts';
import { dockerSkipReason, setUpDockerTest, type DockerTestEnv } from '../fixtures/docker.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { b64, execIn, labContainers, labNetworks, localHost, unb64, type Obj } from './lab-harness.ts';

const skip = controlPlaneSkipReason() ?? (await dockerSkipReason());
if (skip) process.stderr.write(`lab-process: skipping: ${skip}\n`);

const BIN = fileURLToPath(new URL('../../bin/outrigger.ts', import.meta.url));

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
}

describe('Lab controller process', { skip }, () => {
  let cp: ControlPlane;
  let env: DockerTestEnv;
  let ns: TestNamespace;
  let rest: KubeRest;
  let labs: ResourceClient<Obj>;
  const running = new Set<ChildProcess>();
  const output: string[] = [];
  const key = ssh2.utils.generateKeyPairSync('ed25519');

  before(async () => {
    cp = await useControlPlane();
    env = await setUpDockerTest('lab-process');
    ns = await createTestNamespace(cp.kubeConfig, 'lab-proc');
    rest = new KubeRest(cp.kubeConfig);
    labs = new ResourceClient<Obj>(rest, labRef);
    await new ResourceClient<Obj>(rest, hostRef).create(localHost(ns.name, 'local', env.socketPath));
    await new ResourceClient<Obj>(rest, secretRef).create({ metadata: { name: 'lab-ssh', namespace: ns.name }, type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': b64(key.private) } });
  });

  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    rest?.close();
    await env?.cleanup();
    await ns?.delete();
    await cp?.stop();
  });

  function startController(): Running {
    const child = spawn(process.execPath, [BIN, 'controller', '--kubeconfig', cp.kubeconfigPath, '--namespace', ns.name, '--http-bind-address', '127.0.0.1:0', '--log-level', 'debug'], {
      env: { ...process.env, [INSTANCE_ENV]: env.instance },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    const collect = (d: Buffer) => output.push(d.toString('utf8'));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { running.delete(child); resolve(code); }));
    return { child, exited };
  }

  /** A chain m1 <- m2 <- ... <- m5, each with a step that takes a moment and counts its runs. */
  function chainLab(name: string): Obj {
    const machines = Array.from({ length: 5 }, (_, i) => ({
      name: `m${i + 1}`,
      docker: { hostRef: { name: 'local' }, image: env.image },
      networks: [{ name: 'lan' }],
      ...(i > 0 ? { dependsOn: [`m${i}`] } : {}),
      cloudInit: { users: [{ name: 'guest' }] },
      provision: [{ name: 'work', script: '#!/bin/sh\necho run >> "$HOME/work-runs"\nsleep 1\n' }],
    }));
    return { metadata: { name, namespace: ns.name }, spec: { networks: [{ name: 'lan' }], machines, ssh: { privateKeySecretRef: { name: 'lab-ssh' } } } };
  }

  async function killWhenMidway(uid: () => string | undefined, controller: Running): Promise<number> {
    const made = await waitFor(async () => {
      const id = uid();
      if (!id) return undefined;
      const n = (await labContainers(env.docker, id)).size;
      return n >= 2 && n < 5 ? n : undefined;
    }, { description: 'the Lab half made', timeoutMs: 90_000, intervalMs: 50 }).catch((err: Error) => {
      throw new Error(`${err.message}; the controller's output ends:\n${output.join('').split('\n').slice(-40).join('\n')}`);
    });
    controller.child.kill('SIGKILL');
    await controller.exited;
    return made;
  }

  it('SIGKILLed while a 5-machine Lab is half made and restarted, it ends with exactly one container per machine, each step run once', async () => {
    const first = startController();
    const created = await labs.create(chainLab('drill'));
    const uid = created.metadata.uid!;
    const midway = await killWhenMidway(() => uid, first);
    assert.ok(midway >= 2 && midway < 5);

    const second = startController();
    try {
      const done = await waitForCondition(cp.kubeConfig, { kind: 'Lab', namespace: ns.name, name: 'drill' }, 'Ready', 'True', { timeoutMs: 180_000 });
      assert.equal((done as Obj).status.readyMachines, '5/5');
      const containers = await labContainers(env.docker, uid);
      assert.deepEqual([...containers.keys()].sort(), ['m1', 'm2', 'm3', 'm4', 'm5']);
      for (const [m, list] of containers) {
        assert.equal(list.length, 1, `exactly one container for ${m}`);
        assert.equal((await execIn(env.docker, list[0]!.Id, ['cat', '/home/outrigger/work-runs'])).out, 'run\n', `${m}'s step ran once`);
      }
      assert.equal((await labNetworks(env.docker, uid)).length, 1, 'exactly one network');
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });

  it('a Lab deleted while the controller is down after a SIGKILL mid-creation is removed entirely once it is back', async () => {
    const first = startController();
    const created = await labs.create(chainLab('gone'));
    const uid = created.metadata.uid!;
    await killWhenMidway(() => uid, first);
    await labs.delete({ namespace: ns.name, name: 'gone' });
    const second = startController();
    try {
      await waitFor(() => labs.get({ namespace: ns.name, name: 'gone' }).then(() => false, (err) => isNotFound(err)), { description: 'the Lab gone', timeoutMs: 90_000 });
      assert.equal((await labContainers(env.docker, uid)).size, 0, 'no container left');
      assert.equal((await labNetworks(env.docker, uid)).length, 0, 'no network left');
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });

  it('puts neither the SSH key nor a generated password in its log (debug level), in Events or in status', async () => {
    const access = await new ResourceClient<Obj>(rest, secretRef).get({ namespace: ns.name, name: 'drill-access' });
    const password = unb64(access.data?.['password.m1.guest']);
    assert.ok(password.length >= 20);
    const log = output.join('');
    assert.match(log, /"level":"debug"/);
    const status = JSON.stringify((await labs.list(ns.name)).items.map((l) => l.status));
    const events = JSON.stringify((await new ResourceClient<Obj>(rest, { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true }).list(ns.name)).items);
    const keyLines = key.private.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    for (const needle of [password, b64(password), ...keyLines]) {
      assert.ok(!log.includes(needle), 'a secret in the controller log');
      assert.ok(!events.includes(needle), 'a secret in an Event');
      assert.ok(!status.includes(needle), 'a secret in status');
    }
  });
});
