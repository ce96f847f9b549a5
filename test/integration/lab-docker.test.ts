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

  it('isolates Labs: machines of one network reach each other by name and address, not another Lab\'s machines nor the host; a bridged network reaches the host', async () => {
    // Something on the host that answers on every address: what "the outside" is here.
    const server: Server = createServer((sock) => sock.end('host says hi\n'));
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
    const port = (server.address() as { port: number }).port;
    try {
      await h.clients.labs.create(lab('alpha', {
        networks: [{ name: 'lan', cidr: other }, { name: 'uplink', isolated: false, cidr: open }],
        machines: [machine('a1', { networks: [{ name: 'lan' }] }), machine('a2', { networks: [{ name: 'lan' }] }), machine('a3', { networks: [{ name: 'uplink' }] })],
      }));
      const betaCidr = testSubnets(1)[0]!;
      await h.clients.labs.create(lab('beta', { networks: [{ name: 'lan', cidr: betaCidr }], machines: [machine('b1', { networks: [{ name: 'lan' }] })] }));
      const alpha = await ready('alpha');
      const beta = await ready('beta');
      const a1 = await onlyContainer(env.docker, alpha.metadata.uid!, 'a1');
      const a3 = await onlyContainer(env.docker, alpha.metadata.uid!, 'a3');
      const b1 = await onlyContainer(env.docker, beta.metadata.uid!, 'b1');
      const addressOf = (l: Obj, m: string) => (l.status.machines as Array<{ name: string; address: string }>).find((x) => x.name === m)!.address;
      const reach = async (from: string, target: string, p: number) => (await execIn(env.docker, from, ['sh', '-c', `busybox nc -w 3 ${target} ${p} </dev/null`])).out;

      // Same network: sshd's banner, by name (the machine's alias) and by address.
      assert.match(await reach(a1.Id, 'a2', 22), /^SSH-2\.0-/);
      assert.match(await reach(a1.Id, addressOf(alpha, 'a2'), 22), /^SSH-2\.0-/);
      // Another Lab: nothing answers, either way.
      assert.doesNotMatch(await reach(a1.Id, addressOf(beta, 'b1'), 22), /SSH-2\.0-/);
      assert.doesNotMatch(await reach(b1.Id, addressOf(alpha, 'a1'), 22), /SSH-2\.0-/);
      // The host, on every address it has, and the network's gateway address: nothing answers.
      const hostAddresses = Object.values(networkInterfaces()).flat().filter((i) => i && i.family === 'IPv4' && !i.internal).map((i) => i!.address);
      assert.ok(hostAddresses.length > 0);
      const gateway = `${prefix(other)}.1`;
      const tries = [...hostAddresses, gateway].map((ip) => `(busybox nc -w 2 ${ip} ${port} </dev/null 2>/dev/null | grep -q host && echo "reached ${ip}") &`).join(' ');
      assert.equal((await execIn(env.docker, a1.Id, ['sh', '-c', `${tries} wait`])).out, '', 'an isolated machine reaches no address of the host');
      // The control: from the bridged network the same listener answers through the gateway.
      assert.match(await reach(a3.Id, `${prefix(open)}.1`, port), /host says hi/);

      // Why: no address for the host on an isolated bridge (no gateway to route through), and no
      // capability to forge frames past the routing table.
      const lanNet = (await labNetworks(env.docker, alpha.metadata.uid!)).find((n) => n.Labels?.[Labels.labNetwork] === 'lan')!;
      const { runCommand } = await import('../controlplane/process.ts');
      const bridge = await runCommand('ip', ['-4', '-o', 'addr', 'show', 'dev', `br-${lanNet.Id.slice(0, 12)}`]);
      assert.equal(bridge.code, 0, bridge.stderr);
      assert.equal(bridge.stdout.trim(), '', 'the isolated bridge has no IPv4 address on the host');
      const caps = (await execIn(env.docker, a1.Id, ['sh', '-c', 'grep CapEff /proc/self/status'])).out;
      const eff = BigInt(`0x${caps.trim().split(/\s+/)[1]}`);
      assert.equal(eff & (1n << 12n), 0n, 'no CAP_NET_ADMIN');
      assert.equal(eff & (1n << 13n), 0n, 'no CAP_NET_RAW');
    } finally {
      server.close();
    }
  });

  it('failurePolicy Keep: a failed or timed-out step leaves its machine for inspection, its dependants wait, the rest comes up; a missing image is retried', async () => {
    await h.clients.labs.create(lab('keep', {
      machines: [
        machine('bad', { provision: [{ name: 'migrate', script: 'echo "applying 1"\necho "applying 2"\necho "no such table: users" >&2\nexit 3\n' }] }),
        machine('slow', { provision: [{ name: 'hang', script: 'echo started\nsleep 60\n', timeout: '2s' }] }),
        machine('after', { dependsOn: ['bad'] }),
        machine('fine'),
        { name: 'ghost', docker: { hostRef: { name: 'local' }, image: 'outrigger-test/no-such-image:1' } },
      ],
      ssh: { user: 'outrigger', privateKeySecretRef: { name: 'lab-ssh' } },
      failurePolicy: 'Keep',
    }));
    const failed = (await waitFor(async () => {
      const l = await get('keep');
      const ms = (l.status?.machines ?? []) as Array<{ name: string; phase: string }>;
      const phase = (n: string) => ms.find((m) => m.name === n)?.phase;
      return phase('bad') === 'Failed' && phase('slow') === 'Failed' && phase('fine') === 'Ready' && phase('ghost') === 'Failed' ? l : undefined;
    }, { description: 'bad, slow and ghost Failed and fine Ready', timeoutMs: 90_000 })) as Obj;
    const m = new Map((failed.status.machines as Array<{ name: string; phase: string; reason?: string; message?: string; steps?: Array<{ name: string; exitCode?: number; output?: string }> }>).map((x) => [x.name, x]));
    assert.equal(m.get('bad')!.steps![1]!.exitCode, 3);
    assert.match(m.get('bad')!.steps![1]!.output ?? '', /applying 2\nno such table: users/);
    assert.match(m.get('bad')!.message ?? '', /step migrate exited with code 3; last lines: .*no such table: users/);
    assert.equal(m.get('slow')!.steps![1]!.exitCode, 124);
    assert.match(m.get('slow')!.message ?? '', /step hang ran out of time \(2 s\)/);
    assert.equal(m.get('after')!.phase, 'Pending');
    assert.match(m.get('after')!.message ?? '', /waits for bad/);
    assert.equal(m.get('ghost')!.reason, 'ImageNotFound');
    assert.equal(failed.status.readyMachines, '1/5');
    const readyCondition = failed.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    assert.equal(readyCondition.reason, 'MachineFailed');
    // Kept for inspection: the failed machine still runs, its dependant was never made.
    const containers = await labContainers(env.docker, failed.metadata.uid!);
    assert.equal(containers.get('bad')?.[0]?.State, 'running');
    assert.equal(containers.has('after'), false);
    assert.equal(containers.has('ghost'), false);
    const warnings = (await events('keep')).filter((e) => e.reason === 'StepFailed').map((e) => e.note ?? '');
    assert.ok(warnings.some((n) => /machine bad: step migrate exited with code 3; last lines: .*no such table: users/.test(n)), warnings.join('\n'));
    // The step never runs twice: after a restart of the controller nothing reruns it.
    const runs = await execIn(env.docker, containers.get('bad')![0]!.Id, ['sh', '-c', 'ls /var/lib/outrigger-lab/provision']);
    assert.equal(runs.out.trim(), 'migrate');
  });

  it('failurePolicy Rollback: a failed attempt leaves nothing behind and is retried with backoff; a spec that fixes it comes up', async () => {
    await h.clients.labs.create(lab('roll', {
      networks: [{ name: 'lan' }],
      machines: [machine('base', { networks: [{ name: 'lan' }] }), machine('app', { dependsOn: ['base'], networks: [{ name: 'lan' }], provision: [{ name: 'deploy', script: 'echo broken\nexit 1\n' }] })],
      ssh: { user: 'outrigger', privateKeySecretRef: { name: 'lab-ssh' } },
      failurePolicy: 'Rollback',
    }));
    const rolled = (await waitFor(async () => {
      const l = await get('roll');
      return (l.status?.attempt ?? 0) >= 1 && l.status?.nextRetryTime ? l : undefined;
    }, { description: 'a rolled-back attempt', timeoutMs: 90_000 })) as Obj;
    const uid = rolled.metadata.uid!;
    const condition = rolled.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    assert.equal(condition.reason, 'RolledBack');
    assert.match(condition.message, /attempt 1 failed \(machine app: step deploy exited with code 1/);
    // Nothing of the attempt is left while it waits for the next one.
    assert.equal((await labContainers(env.docker, uid)).size, 0);
    assert.equal((await labNetworks(env.docker, uid)).length, 0);
    // Retried with backoff: the second attempt fails the same way.
    await waitFor(async () => ((await get('roll')).status?.attempt ?? 0) >= 2, { description: 'a second attempt', timeoutMs: 60_000 });
    assert.ok((await events('roll')).some((e) => e.reason === 'RolledBack'));
    // A fixed spec is tried at once and comes up.
    await h.clients.labs.mergePatch({ namespace: ns.name, name: 'roll' }, { spec: { machines: [machine('base', { networks: [{ name: 'lan' }] }), machine('app', { dependsOn: ['base'], networks: [{ name: 'lan' }], provision: [{ name: 'deploy', script: 'echo fixed\n' }] })] } });
    const up = await ready('roll');
    assert.equal(up.status.readyMachines, '2/2');
    assert.equal(up.status.attempt, undefined, 'the attempt counter resets once Ready');
  });

  it('state Stopped stops every machine and keeps them; Running brings them back without running any step again', async () => {
    const before = await get('range');
    const dbId = (await onlyContainer(env.docker, before.metadata.uid!, 'db')).Id;
    await h.clients.labs.mergePatch({ namespace: ns.name, name: 'range' }, { spec: { state: 'Stopped' } });
    const stopped = await ready('range');
    assert.equal(stopped.status.phase, 'Stopped');
    assert.equal(stopped.status.conditions.find((c: { type: string }) => c.type === 'Ready').reason, 'LabStopped');
    assert.equal(stopped.status.stateReason, 'Stopped: spec.state is Stopped');
    for (const [, list] of await labContainers(env.docker, before.metadata.uid!)) assert.equal(list[0]!.State, 'exited');
    await h.clients.labs.mergePatch({ namespace: ns.name, name: 'range' }, { spec: { state: 'Running' } });
    const back = await ready('range');
    assert.equal(back.status.readyMachines, '4/4');
    assert.equal((await onlyContainer(env.docker, before.metadata.uid!, 'db')).Id, dbId, 'the same container');
    assert.equal((await execIn(env.docker, dbId, ['cat', '/home/outrigger/seed-runs'])).out, 'run\n', 'seed ran once');
  });

  it('a machine removed by hand is made again within moments, and provisioned once on the new machine', async () => {
    const before = await get('range');
    const uid = before.metadata.uid!;
    const old = await onlyContainer(env.docker, uid, 'db');
    await env.docker.getContainer(old.Id).remove({ force: true });
    await waitFor(async () => {
      const c = (await labContainers(env.docker, uid)).get('db') ?? [];
      return c.length === 1 && c[0]!.Id !== old.Id && c[0]!.State === 'running';
    }, { description: 'db made again', timeoutMs: 60_000 });
    const again = await waitFor(async () => {
      const l = await get('range');
      return l.status?.readyMachines === '4/4' && (l.status.machines as Array<{ name: string; containerId?: string }>).find((m) => m.name === 'db')?.containerId !== old.Id ? l : undefined;
    }, { description: 'range Ready again on the new db', timeoutMs: 90_000 });
    const fresh = await onlyContainer(env.docker, uid, 'db');
    assert.equal((await execIn(env.docker, fresh.Id, ['cat', '/home/outrigger/seed-runs'])).out, 'run\n');
    assert.ok(again);
  });

  it('a Lab whose Host is missing waits, naming it, and comes up when it appears; a cidr taken by another Lab is refused before anything is made', async () => {
    await h.clients.labs.create(lab('later', { machines: [{ name: 'm', docker: { hostRef: { name: 'late' }, image: env.image } }] }));
    const waiting = await waitForCondition(cp.kubeConfig, ref('later'), 'Ready', 'False', { timeoutMs: 30_000 });
    const c = (waiting as Obj).status.conditions.find((x: { type: string }) => x.type === 'Ready');
    assert.equal(c.reason, 'ReferenceNotFound');
    assert.match(c.message, /spec\.machines\[0\]\.docker\.hostRef: Host "late" not found/);
    await h.clients.hosts.create(localHost(ns.name, 'late', env.socketPath));
    await ready('later');

    await h.clients.labs.create(lab('clash', { networks: [{ name: 'lan', cidr: lan }], machines: [machine('x', { networks: [{ name: 'lan' }] })] }));
    const clash = await waitFor(async () => {
      const l = await get('clash');
      const r = (l.status?.conditions ?? []).find((x: { type: string }) => x.type === 'Ready');
      return r?.reason === 'NetworkOverlaps' ? { l, r } : undefined;
    }, { description: 'clash refused', timeoutMs: 30_000 });
    assert.match(clash.r.message, new RegExp(`${lan.replace(/\./g, '\\.')} overlaps network "lan" of Lab ${ns.name}/range`));
    assert.equal((await labContainers(env.docker, clash.l.metadata.uid!)).size, 0);
    assert.equal((await labNetworks(env.docker, clash.l.metadata.uid!)).length, 0);
    assert.equal((await get('range')).status.readyMachines, '4/4', 'the other Lab is not affected');
  });

  it('deletion removes every container and network (Orphan leaves them and says so)', async () => {
    await h.clients.labs.create(lab('kept', { deletionPolicy: 'Orphan', networks: [{ name: 'lan' }], machines: [machine('k', { networks: [{ name: 'lan' }] })] }));
    const kept = await ready('kept');
    await h.clients.labs.delete({ namespace: ns.name, name: 'kept' });
    await waitFor(async () => h.clients.labs.get({ namespace: ns.name, name: 'kept' }).then(() => false, (err) => isNotFound(err)), { description: 'kept gone', timeoutMs: 30_000 });
    assert.equal((await labContainers(env.docker, kept.metadata.uid!)).get('k')?.length, 1, 'Orphan leaves the container');
    assert.equal((await labNetworks(env.docker, kept.metadata.uid!)).length, 1);
    assert.ok((await events('kept')).some((e) => e.reason === 'Orphaned'));

    for (const name of ['range', 'alpha', 'beta', 'keep', 'roll', 'later', 'clash']) {
      const l = await get(name);
      await h.clients.labs.delete({ namespace: ns.name, name });
      await waitFor(async () => h.clients.labs.get({ namespace: ns.name, name }).then(() => false, (err) => isNotFound(err)), { description: `${name} gone`, timeoutMs: 60_000 });
      assert.equal((await labContainers(env.docker, l.metadata.uid!)).size, 0, `${name}: no container left`);
      assert.equal((await labNetworks(env.docker, l.metadata.uid!)).length, 0, `${name}: no network left`);
      assert.equal((await labImages(env.docker, l.metadata.uid!)).length, 0, `${name}: no image left`);
    }
    await assertCataloguedReasons(h.rest, ns.name);
  });
});
