// The Lab reconciler end to end on the real kube-apiserver and the real dockerd with the test
// image: machines become labelled containers made in dependency order, on their own networks with
// their planned addresses; first boot and provisioning run once each, as files, their outcome in
// status and events; the access Secret says how to get in; a second Lab's machines cannot reach
// the first Lab's, nor the host, while machines of one network reach each other; failures follow
// failurePolicy; Stopped keeps everything; deletion removes everything (Orphan leaves it).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { isNotFound } from '../../controller/index.ts';
import { Labels, INHIBIT_IPV4 } from '../../reconcilers/docker/index.ts';
import { accessSecretName } from '../../reconcilers/lab/index.ts';
import { controlPlaneSkipReason, createTestNamespace, useControlPlane, type ControlPlane, type TestNamespace } from '../fixtures/controlplane.ts';
import { dockerSkipReason, setUpDockerTest, type DockerTestEnv } from '../fixtures/docker.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { assertCataloguedReasons } from './reasons-check.ts';
import { b64, execIn, labContainers, labImages, labNetworks, localHost, onlyContainer, startLabController, testSubnets, unb64, type LabHarness, type Obj } from './lab-harness.ts';

const skip = controlPlaneSkipReason() ?? (await dockerSkipReason());
if (skip) process.stderr.write(`lab-docker: skipping: ${skip}\n`);

const { utils: sshUtils } = ssh2;

describe('Lab reconciler on Docker', { skip }, () => {
  let cp: ControlPlane;
  let env: DockerTestEnv;
  let ns: TestNamespace;
  let h: LabHarness;
  const key = sshUtils.generateKeyPairSync('ed25519');
  const studentKey = sshUtils.generateKeyPairSync('ed25519');
  const [lan, dmz, other, open] = testSubnets(4) as [string, string, string, string];
  const prefix = (cidr: string) => cidr.split('.').slice(0, 3).join('.');

  before(async () => {
    cp = await useControlPlane();
    env = await setUpDockerTest('lab');
    ns = await createTestNamespace(cp.kubeConfig, 'lab');
    h = await startLabController(cp.kubeConfig, ns.name, env, { stepWaitMs: 3_000, rollbackBaseMs: 1_500, rollbackMaxMs: 3_000 });
    await h.clients.hosts.create(localHost(ns.name, 'local', env.socketPath));
    await h.clients.secrets.create({ metadata: { name: 'lab-ssh', namespace: ns.name }, type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': b64(key.private) } });
  });

  after(async () => {
    await h?.stop();
    await env?.cleanup();
    await ns?.delete();
    await cp?.stop();
  });

  const ref = (name: string) => ({ kind: 'Lab', namespace: ns.name, name });
  const get = (name: string) => h.clients.labs.get({ namespace: ns.name, name });
  const ready = async (name: string, timeoutMs = 120_000) => (await waitForCondition(cp.kubeConfig, ref(name), 'Ready', 'True', { requireCurrentGeneration: true, timeoutMs })) as Obj;
  const machine = (name: string, extra: Record<string, unknown> = {}) => ({ name, docker: { hostRef: { name: 'local' }, image: env.image }, ...extra });
  const lab = (name: string, spec: Record<string, unknown>): Obj => ({ metadata: { name, namespace: ns.name }, spec });
  const events = async (name: string) => {
    const list = await h.rest.request<{ items: Array<{ reason?: string; note?: string; type?: string; regarding?: { name?: string } }> }>('GET', `/apis/events.k8s.io/v1/namespaces/${ns.name}/events`);
    return list.items.filter((e) => e.regarding?.name === name);
  };

  it('makes every machine as a labelled container in dependency order, on isolated networks with planned addresses, provisioned once', async () => {
    await h.clients.labs.create(lab('range', {
      networks: [
        { name: 'lan', cidr: lan },
        { name: 'dmz', cidr: dmz },
      ],
      machines: [
        machine('db', {
          networks: [{ name: 'lan', address: `${prefix(lan)}.10/24` }],
          cloudInit: {
            users: [{ name: 'student', sudo: true, sshAuthorizedKeys: [studentKey.public] }, { name: 'guest' }],
            packages: ['procps'],
            commands: ['echo "first boot says $((6*7))" > /etc/first-boot-ran', 'echo again >> /etc/first-boot-ran'],
          },
          provision: [
            { name: 'seed', script: '#!/bin/sh\nset -eu\necho run >> "$HOME/seed-runs"\nid -un\necho "seeded the database"\n', timeout: '30s' },
          ],
        }),
        machine('web', { dependsOn: ['db'], networks: [{ name: 'lan' }, { name: 'dmz' }] }),
        machine('tools', { networks: [{ name: 'dmz' }] }),
        machine('report', { dependsOn: ['web', 'tools'], networks: [{ name: 'dmz' }] }),
      ],
      ssh: { user: 'outrigger', privateKeySecretRef: { name: 'lab-ssh' } },
    }));
    const done = await ready('range');
    const uid = done.metadata.uid!;
    assert.equal(done.status.readyMachines, '4/4');
    assert.equal(done.status.phase, 'Ready');

    // One container per machine, labelled with the Lab's uid and the machine's name.
    const containers = await labContainers(env.docker, uid);
    assert.deepEqual([...containers.keys()].sort(), ['db', 'report', 'tools', 'web']);
    for (const [name, list] of containers) {
      assert.equal(list.length, 1, `one container for ${name}`);
      assert.equal(list[0]!.State, 'running');
      assert.equal(list[0]!.Labels[Labels.ownerKind], 'Lab');
      assert.equal(list[0]!.Labels[Labels.ownerName], 'range');
    }

    // Networks: internal, no address for the host on their bridges, the spec's cidrs.
    const networks = await labNetworks(env.docker, uid);
    assert.deepEqual(networks.map((n) => n.Labels?.[Labels.labNetwork]).sort(), ['dmz', 'lan']);
    for (const n of networks) {
      assert.equal(n.Internal, true);
      assert.equal(n.Options?.[INHIBIT_IPV4], 'true');
    }
    assert.deepEqual(networks.map((n) => n.IPAM?.Config?.[0]?.Subnet).sort(), [lan, dmz].sort());

    // Addresses: db's static one, web the next free one of lan (.2 is the first after the gateway).
    const byName = new Map((done.status.machines as Array<{ name: string; address?: string; addresses?: string[] }>).map((m) => [m.name, m]));
    assert.equal(byName.get('db')?.address, `${prefix(lan)}.10`);
    assert.deepEqual(byName.get('web')?.addresses, [`${prefix(lan)}.2`, `${prefix(dmz)}.2`]);
    const webInfo = await env.docker.getContainer(containers.get('web')![0]!.Id).inspect();
    assert.deepEqual(Object.values(webInfo.NetworkSettings.Networks).map((n) => n.IPAddress).sort(), [`${prefix(lan)}.2`, `${prefix(dmz)}.2`].sort());

    // Order: web was made only after db was Ready (its provisioning step had finished), report after web and tools.
    const created = async (m: string) => Date.parse((await env.docker.getContainer(containers.get(m)![0]!.Id).inspect()).Created);
    const dbStatus = (done.status.machines as Array<{ name: string; steps?: Array<{ name: string; state: string; exitCode?: number; output?: string; completionTime?: string }> }>).find((m) => m.name === 'db')!;
    const seed = dbStatus.steps!.find((s) => s.name === 'seed')!;
    assert.equal(seed.state, 'Succeeded');
    assert.equal(seed.exitCode, 0);
    assert.match(seed.output ?? '', /seeded the database/);
    assert.match(seed.output ?? '', /^outrigger$/m, 'the step ran as spec.ssh.user');
    assert.ok(await created('web') >= Date.parse(seed.completionTime!) - 1000, 'web was created after db finished provisioning');
    assert.ok(await created('report') >= await created('web'));
    assert.ok(await created('report') >= await created('tools'));

    // First boot: users, keys, commands in order; packages already there are skipped.
    const dbId = containers.get('db')![0]!.Id;
    assert.equal((await execIn(env.docker, dbId, ['cat', '/etc/first-boot-ran'])).out, 'first boot says 42\nagain\n');
    assert.equal((await execIn(env.docker, dbId, ['cat', '/home/student/.ssh/authorized_keys'])).out.trim(), studentKey.public.trim());
    assert.match((await execIn(env.docker, dbId, ['cat', '/home/outrigger/.ssh/authorized_keys'])).out, /^ssh-ed25519 /);
    const shadow = (await execIn(env.docker, dbId, ['cat', '/etc/shadow'])).out;
    assert.match(shadow, /^guest:\$[0-9a-z]+\$/m, 'guest got a (hashed) password');
    assert.equal((done.status.machines as Array<{ name: string; provisionedVia?: string }>).find((m) => m.name === 'db')?.provisionedVia, 'exec');

    // The access Secret: owned by the Lab, with addresses, ssh_config and guest's password.
    const access = await h.clients.secrets.get({ namespace: ns.name, name: accessSecretName('range') });
    assert.equal(access.metadata.ownerReferences?.[0]?.uid, uid);
    const summary = unb64(access.data?.['access.yaml']);
    assert.match(summary, new RegExp(`address: ${prefix(lan)}\\.10`));
    assert.match(unb64(access.data?.ssh_config), new RegExp(`Host range-db-student\\n  HostName ${prefix(lan)}\\.10\\n  User student`));
    const password = unb64(access.data?.['password.db.guest']);
    assert.ok(password.length >= 20);
    const all = JSON.stringify(await get('range')) + JSON.stringify(await events('range')) + h.log.join('');
    assert.ok(!all.includes(password), 'the generated password is in no status, event or log');

    // Once: a controller restart (memory lost) runs nothing again.
    await h.stop();
    h = await startLabController(cp.kubeConfig, ns.name, env, { stepWaitMs: 3_000, rollbackBaseMs: 1_500, rollbackMaxMs: 3_000 });
    await h.clients.labs.mergePatch({ namespace: ns.name, name: 'range' }, { metadata: { annotations: { poke: '1' } } });
    await ready('range');
    assert.equal((await execIn(env.docker, dbId, ['cat', '/home/outrigger/seed-runs'])).out, 'run\n');
    assert.equal((await execIn(env.docker, dbId, ['cat', '/etc/first-boot-ran'])).out, 'first boot says 42\nagain\n');
    assert.equal((await labContainers(env.docker, uid)).size, 4);
    const reasons = (await events('range')).map((e) => e.reason);
    assert.ok(reasons.includes('StepSucceeded') && reasons.includes('MachineCreated') && reasons.includes('MachineReady'), reasons.join(', '));
    await assertCataloguedReasons(h.rest, ns.name);
  });
});
