// A Lab's Proxmox machines on the real kube-apiserver against fakepve: each machine a VM cloned
// from its template, tagged with the Lab's uid and the machine's name, on its network's VLAN with
// its planned static address and cloud-init (users, keys, packages and commands through a
// snippet), started in dependency order once the VMs it depends on report an address; fakepve's
// faults (a clone ending in TASK ERROR, a late guest agent, a clone lock) are ridden out;
// snapshotOnReady makes a PVE snapshot of each VM and the revert annotation rolls them back;
// deletion destroys every VM.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { isNotFound } from '../../controller/index.ts';
import { proxmoxClusterRef } from '../../reconcilers/common/kinds.ts';
import { REVERT_ANNOTATION } from '../../reconcilers/lab/index.ts';
import { machineOwnerUid } from '../../reconcilers/lab/vms.ts';
import { DirectorySnippetStore } from '../../reconcilers/proxmox/snippets.ts';
import { controlPlaneSkipReason, createTestNamespace, useControlPlane, type ControlPlane, type TestNamespace } from '../fixtures/controlplane.ts';
import { dockerSkipReason, setUpDockerTest, type DockerTestEnv } from '../fixtures/docker.ts';
import { fakepveSkipReason, startFakePve, type FakePve } from '../fixtures/fakepve.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { ResourceClient } from '../../controller/index.ts';
import { b64, startLabController, type LabHarness, type Obj } from './lab-harness.ts';
import { assertCataloguedReasons } from './reasons-check.ts';

const skip = controlPlaneSkipReason() ?? fakepveSkipReason() ?? (await dockerSkipReason());
if (skip) process.stderr.write(`lab-proxmox: skipping: ${skip}\n`);

describe('Lab machines on Proxmox (fakepve)', { skip }, () => {
  let cp: ControlPlane;
  let pve: FakePve;
  let env: DockerTestEnv;
  let ns: TestNamespace;
  let h: LabHarness;
  const key = ssh2.utils.generateKeyPairSync('ed25519');
  const studentKey = ssh2.utils.generateKeyPairSync('ed25519');

  before(async () => {
    cp = await useControlPlane();
    pve = await startFakePve();
    await pve.control('add_template', { vmid: 9000, name: 'debian-13-cloudinit' });
    // Tasks take time as on a real node (time scale 0.01): clones hold their lock for a while.
    await pve.control('set', { values: { task_secs: { qmclone: 60, qmstart: 5, qmconfig: 1, resize: 2, qmdestroy: 2, qmshutdown: 5, qmsnapshot: 3, qmrollback: 3 } } });
    env = await setUpDockerTest('lab-proxmox');
    ns = await createTestNamespace(cp.kubeConfig, 'lab-pve');
    h = await startLabController(cp.kubeConfig, ns.name, env, {
      stepWaitMs: 2_000,
      stepPollMs: 100,
      vmStopGraceMs: 5_000,
      proxmoxSnippets: () => new DirectorySnippetStore({ storage: 'local', dir: pve.snippetsDir }),
    });
    await h.clients.secrets.create({ metadata: { name: 'pve-token', namespace: ns.name }, type: 'Opaque', data: { token: b64(pve.token.secret) } });
    await h.clients.secrets.create({ metadata: { name: 'lab-ssh', namespace: ns.name }, type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': b64(key.private) } });
    await new ResourceClient<Obj>(h.rest, proxmoxClusterRef).create({
      metadata: { name: 'pve', namespace: ns.name },
      spec: { endpoint: pve.endpoint, tokenId: pve.token.id, tokenSecretRef: { name: 'pve-token', key: 'token' }, tls: { caBundle: pve.caPem }, defaults: { node: 'pve1', storage: 'local-lvm', bridge: 'vmbr0' }, vmidRange: { start: 7000, end: 7099 } },
    });
  });

  after(async () => {
    await h?.stop();
    await env?.cleanup();
    await ns?.delete();
    await pve?.stop();
    await cp?.stop();
  });

  const get = (name: string) => h.clients.labs.get({ namespace: ns.name, name });
  const vmsOf = async (uid: string) => (await pve.state()).vms.filter((v) => !v.template && String(v.config.tags ?? '').includes(uid.toLowerCase()));
  const vm = (name: string, extra: Record<string, unknown> = {}) => ({ name, proxmox: { clusterRef: { name: 'pve' }, template: 'debian-13-cloudinit' }, ...extra });

  it('clones each machine once, tagged, on its VLAN with its static address and cloud-init, in dependency order; rides out a failed clone task and a late agent', async () => {
    // The first clone task ends in TASK ERROR (what it made is removed and it is tried again);
    // the guest agents come up late.
    await pve.control('fail_clone_task', { message: 'storage full (injected)', times: 1 });
    await pve.control('set', { values: { agent_delay: 400 } }); // 4 s: longer than one pass waits
    await h.clients.labs.create({ metadata: { name: 'range', namespace: ns.name }, spec: {
      networks: [{ name: 'lan', cidr: '10.77.0.0/24', vlan: 30 }],
      machines: [
        vm('db', {
          resources: { cpu: 2, memory: '2Gi', disk: '20Gi' },
          networks: [{ name: 'lan', address: '10.77.0.10/24' }],
          cloudInit: { users: [{ name: 'student', sudo: true, sshAuthorizedKeys: [studentKey.public] }], packages: ['postgresql'], commands: ['touch /etc/db-ready'] },
        }),
        vm('web', { dependsOn: ['db'], networks: [{ name: 'lan' }] }),
      ],
      ssh: { user: 'outrigger', privateKeySecretRef: { name: 'lab-ssh' } },
    } });
    // Watch the machines come up: web must never have a VM while db has no address.
    const seen: Array<Record<string, { phase: string; vmid?: number; message?: string }>> = [];
    const ready = await waitFor(async () => {
      const l = await get('range');
      seen.push(Object.fromEntries(((l.status?.machines ?? []) as Array<{ name: string; phase: string; vmid?: number; message?: string }>).map((m) => [m.name, m])));
      return (l.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') ? l : undefined;
    }, { description: 'range Ready', timeoutMs: 120_000, intervalMs: 100 });
    assert.ok(seen.some((s) => s.web?.phase === 'Pending' && /waits for db/.test(s.web.message ?? '')), 'web waited for db');
    assert.ok(seen.some((s) => s.db?.phase === 'Booting' && /guest agent/.test(s.db.message ?? '')), 'db waited for its late guest agent');
    assert.ok(!seen.some((s) => s.web?.vmid !== undefined && s.db?.phase !== 'Ready'), 'web had no VM before db was Ready');
    const uid = ready.metadata.uid!;
    assert.equal(ready.status.readyMachines, '2/2');
    const vms = await vmsOf(uid);
    assert.equal(vms.length, 2, 'one VM per machine');
    const db = vms.find((v) => String(v.config.tags).includes(machineOwnerUid(uid, 'db')))!;
    const web = vms.find((v) => String(v.config.tags).includes(machineOwnerUid(uid, 'web')))!;
    assert.ok(db && web, 'each VM carries the Lab uid and the machine name in its tag');
    assert.ok(db.vmid >= 7000 && db.vmid <= 7099);
    assert.match(String(db.config.net0), /bridge=vmbr0,tag=30$/);
    assert.equal(db.config.ipconfig0, 'ip=10.77.0.10/24');
    assert.equal(web.config.ipconfig0, 'ip=10.77.0.2/24', 'the next free address of the cidr');
    assert.equal(db.config.cores, '2');
    assert.equal(db.config.memory, '2048');
    assert.match(String(db.config.scsi0), /size=20G/);
    assert.equal(db.status, 'running');
    const seed = db.seed!.user;
    assert.match(seed, /name: outrigger/);
    assert.ok(seed.includes(key.public.split(' ')[1]!), 'the Lab key is installed for spec.ssh.user');
    assert.match(seed, /packages:\n\s+- postgresql/);
    assert.match(seed, /useradd/);
    assert.ok(seed.includes(b64(`${studentKey.public}\n`)), 'the student key goes in base64, no quoting');
    const byName = new Map((ready.status.machines as Array<{ name: string; vmid?: number; address?: string }>).map((m) => [m.name, m]));
    assert.equal(byName.get('db')?.vmid, db.vmid);
    assert.equal(byName.get('db')?.address, '10.77.0.10', 'the guest agent\'s address');
    const events = await h.rest.request<{ items: Array<{ reason?: string; note?: string; regarding?: { name?: string } }> }>('GET', `/apis/events.k8s.io/v1/namespaces/${ns.name}/events`);
    const notes = events.items.filter((e) => e.regarding?.name === 'range').map((e) => `${e.reason}: ${e.note}`);
    assert.ok(notes.some((n) => /^MachineFailed: machine db: .*storage full \(injected\)/.test(n)), notes.join('\n'));
  });

  it('snapshotOnReady takes a PVE snapshot of every VM; the revert annotation rolls them back and starts them', async () => {
    await h.clients.labs.mergePatch({ namespace: ns.name, name: 'range' }, { spec: { snapshotOnReady: true } });
    const snapped = await waitFor(async () => {
      const l = await get('range');
      return l.status?.snapshot?.name && l.status.readyMachines === '2/2' ? l : undefined;
    }, { description: 'the snapshot', timeoutMs: 60_000 });
    const name = snapped.status.snapshot.name as string;
    for (const v of await vmsOf(snapped.metadata.uid!)) assert.deepEqual(v.snapshots, [name]);
    await h.clients.labs.mergePatch({ namespace: ns.name, name: 'range' }, { metadata: { annotations: { [REVERT_ANNOTATION]: 'exam-start' } } });
    const reverted = await waitFor(async () => {
      const l = await get('range');
      return l.status?.lastRevert?.request === 'exam-start' && l.status.readyMachines === '2/2' ? l : undefined;
    }, { description: 'the revert', timeoutMs: 60_000 });
    assert.equal(reverted.status.lastRevert.snapshot, name);
    const rollbacks = (await pve.state()).requests.filter(([m, p]) => m === 'POST' && p.endsWith(`/snapshot/${name}/rollback`));
    assert.equal(rollbacks.length, 2, 'each VM rolled back once');
    for (const v of await vmsOf(reverted.metadata.uid!)) assert.equal(v.status, 'running');
  });

  it('a machine naming a template that does not exist fails with the provider\'s reason while the others come up; a missing cluster is waited for', async () => {
    await h.clients.labs.create({ metadata: { name: 'mixed', namespace: ns.name }, spec: {
      machines: [{ name: 'ghost', proxmox: { clusterRef: { name: 'pve' }, template: 'no-such-template' } }, vm('ok')],
    } });
    const seen = await waitFor(async () => {
      const l = await get('mixed');
      const ms = (l.status?.machines ?? []) as Array<{ name: string; phase: string; reason?: string; message?: string }>;
      return ms.find((m) => m.name === 'ghost')?.phase === 'Failed' && ms.find((m) => m.name === 'ok')?.phase === 'Ready' ? ms : undefined;
    }, { description: 'ghost Failed, ok Ready', timeoutMs: 60_000 });
    const ghost = seen.find((m) => m.name === 'ghost')!;
    assert.equal(ghost.reason, 'TemplateNotFound');
    assert.match(ghost.message ?? '', /no-such-template/);

    await h.clients.labs.create({ metadata: { name: 'elsewhere', namespace: ns.name }, spec: { machines: [{ name: 'x', proxmox: { clusterRef: { name: 'pve-later' }, template: 'debian-13-cloudinit' } }] } });
    const waiting = await waitForCondition(cp.kubeConfig, { kind: 'Lab', namespace: ns.name, name: 'elsewhere' }, 'Ready', 'False', { timeoutMs: 30_000 });
    const c = ((waiting as Obj).status.conditions as Array<{ type: string; reason: string; message: string }>).find((x) => x.type === 'Ready')!;
    assert.equal(c.reason, 'ReferenceNotFound');
    assert.match(c.message, /spec\.machines\[0\]\.proxmox\.clusterRef: ProxmoxCluster "pve-later" not found/);
  });

  it('deletion destroys every VM of the Lab', async () => {
    for (const name of ['range', 'mixed', 'elsewhere']) {
      const l = await get(name);
      await h.clients.labs.delete({ namespace: ns.name, name });
      await waitFor(() => get(name).then(() => false, (err) => isNotFound(err)), { description: `${name} gone`, timeoutMs: 60_000 });
      assert.deepEqual(await vmsOf(l.metadata.uid!), [], `${name}: no VM left`);
    }
    await assertCataloguedReasons(h.rest, ns.name);
  });
});
