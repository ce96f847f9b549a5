// The VM provider against fakepve: the whole lifecycle, drift, a VM never made twice (races,
// lost answers, crashes), fakepve's faults, and bad input that names what to fix with nothing half
// made and nothing of anyone else touched.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProxmoxClient, type ProxmoxClientOptions } from '../../reconcilers/proxmox/client.ts';
import { ProxmoxErrorCodes } from '../../reconcilers/proxmox/errors.ts';
import { ProxmoxMissingPrivilegesError } from '../../reconcilers/proxmox/privileges.ts';
import { DirectorySnippetStore } from '../../reconcilers/proxmox/snippets.ts';
import { ProxmoxVms, type ProxmoxVmsOptions } from '../../reconcilers/proxmox/vm.ts';
import type { VmSpecInput } from '../../reconcilers/proxmox/vm-spec.ts';
import { VmidReservations } from '../../reconcilers/proxmox/vmid.ts';
import { PROVIDER_PRIVILEGES, fakepveSkipReason, startFakePve, type FakePve } from '../fixtures/fakepve.ts';
import { waitFor } from '../fixtures/wait.ts';

const TEMPLATE = 9000;
const RANGE = { start: 5000, end: 5099 };
const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1c2VyIGtleQ== alice@laptop';
const KEY_B = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC+x/y= bob+work@example.org';

const owner = () => ({ uid: randomUUID() });
const spec = (name: string, extra: Partial<VmSpecInput> = {}): VmSpecInput => ({
  name, template: 'debian-13', cores: 2, memoryMiB: 2048, disk: { sizeGiB: 8 }, network: { bridge: 'vmbr0', vlan: 30 },
  cloudInit: { user: 'dev', sshKeys: [KEY_A, KEY_B], ipConfig: ['ip=dhcp'], nameservers: ['192.0.2.53'] }, ...extra,
});

describe('Proxmox VM provider against fakepve', { skip: fakepveSkipReason() }, () => {
  let pve: FakePve;
  const clients: ProxmoxClient[] = [];
  const makeClient = (opts: Partial<ProxmoxClientOptions> = {}) => {
    const c = new ProxmoxClient({
      endpoint: pve.endpoint, credentials: { kind: 'token', tokenId: pve.token.id, secret: pve.token.secret },
      tls: { caBundle: pve.caPem }, retry: { initialMs: 20, maxMs: 200 }, ...opts,
    });
    clients.push(c);
    return c;
  };
  const provider = (opts: Partial<ProxmoxVmsOptions> = {}, clientOpts: Partial<ProxmoxClientOptions> = {}) => new ProxmoxVms({
    client: makeClient(clientOpts), vmidRange: RANGE, snippets: new DirectorySnippetStore({ storage: 'local', dir: pve.snippetsDir }),
    timeouts: { cloneMs: 20_000, taskMs: 20_000, cloneLockMs: 20_000 }, ...opts,
  });
  const vmsOf = async (uid: string) => (await pve.state()).vms.filter((v) => String(v.config.tags ?? '').includes(uid) || String(v.config.description ?? '').includes(uid));
  const clonePosts = async () => (await pve.state()).requests.filter(([m, p]) => m === 'POST' && p.endsWith('/clone')).length;

  before(async () => {
    pve = await startFakePve();
    await pve.control('add_template', { vmid: TEMPLATE, name: 'debian-13' });
    await pve.control('add_node', { name: 'pve2', bridges: ['vmbr0', 'vmbr7'] });
    // Tasks take time as on a real node, so locks and running tasks are seen (time scale 0.01).
    await pve.control('set', { values: { task_secs: { qmclone: 30, qmstart: 5, qmconfig: 1, resize: 2, qmdestroy: 2 } } });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await pve?.stop();
  });

  it('makes the VM once, configured, and finds it again instead of making another', async () => {
    const vms = provider();
    const o = owner();
    const first = await vms.ensure(o, spec('alice'));
    assert.equal(first.created, true);
    assert.ok(first.vm.vmid >= RANGE.start && first.vm.vmid <= RANGE.end, 'inside vmidRange');
    const vm = (await pve.vm(first.vm.vmid))!;
    assert.equal(vm.lock, null);
    assert.deepEqual(String(vm.config.tags).split(';').sort(), ['outrigger', `outrigger-${o.uid}`]);
    assert.equal(vm.config.cores, '2');
    assert.equal(vm.config.memory, '2048');
    assert.match(String(vm.config.net0), /^virtio=[0-9A-F:]{17},bridge=vmbr0,tag=30$/);
    assert.match(String(vm.config.scsi0), /size=8G/, 'disk grown to the asked size');
    assert.match(String(vm.config.ide2), new RegExp(`vm-${vm.vmid}-cloudinit`), 'the clone has its own cloud-init drive');
    assert.equal(vm.config.ciuser, 'dev');
    assert.equal(vm.config.ipconfig0, 'ip=dhcp');

    const again = await vms.ensure(o, spec('alice'));
    assert.equal(again.created, false);
    assert.equal(again.vm.vmid, first.vm.vmid);
    assert.deepEqual(again.drift.set, {}, 'nothing to change');
    assert.equal((await vmsOf(o.uid)).length, 1);
    assert.equal((await vms.observe(o, spec('alice'))).upToDate, true);
  });

  it('hands the keys to cloud-init as PVE decodes them, and packages and commands through a snippet', async () => {
    const vms = provider();
    const o = owner();
    const { vm } = await vms.ensure(o, spec('bob', { cloudInit: { user: 'dev', sshKeys: [KEY_A, KEY_B], packages: ['git', 'tmux'], commands: [['touch', '/home/dev/.ready']] } }));
    await vms.start(vm);
    const seed = (await pve.vm(vm.vmid))!.seed!;
    assert.ok(seed.user.includes(KEY_A) && seed.user.includes(KEY_B), `both keys reach the guest intact:\n${seed.user}`);
    assert.match(seed.user, /packages:\n\s+- git\n\s+- tmux/);
    assert.match(seed.user, /runcmd:/);
    const volume = String((await pve.vm(vm.vmid))!.config.cicustom);
    assert.equal(volume, `user=local:snippets/outrigger-${o.uid}.yaml`);
    assert.match(readFileSync(join(pve.snippetsDir, `outrigger-${o.uid}.yaml`), 'utf8'), /^#cloud-config/);
    await vms.delete(vm);
    assert.throws(() => readFileSync(join(pve.snippetsDir, `outrigger-${o.uid}.yaml`)), /ENOENT/, 'the snippet goes with the VM');
  });

  it('starts (twice is fine), reports the guest agent\'s address, shuts down, snapshots, rolls back, deletes', async () => {
    const vms = provider();
    const o = owner();
    const { vm } = await vms.ensure(o, spec('carol'));
    await pve.control('agent', { vmid: vm.vmid, address: '198.51.100.7' });
    await vms.start(vm);
    await vms.start(vm);
    const addr = await vms.waitForAddress(vm, 10_000);
    assert.deepEqual(addr, { state: 'ready', ipv4: ['198.51.100.7'], ipv6: [], primary: '198.51.100.7' }, 'not lo, not link-local, not the empty eth1');

    await vms.snapshot(vm, 'clean');
    await vms.snapshot(vm, 'clean');
    assert.deepEqual(await vms.snapshots(vm), ['clean']);
    await vms.stop(vm, { graceMs: 10_000 });
    assert.equal((await pve.vm(vm.vmid))!.status, 'stopped');
    assert.equal((await vms.address(vm)).state, 'waiting');
    await vms.rollback(vm, 'clean');

    await vms.delete(vm);
    await vms.delete(vm);
    assert.equal(await pve.vm(vm.vmid), undefined);
    const volumes = Object.values((await pve.state()).volumes).flat();
    assert.ok(!volumes.some((v) => v.includes(`-${vm.vmid}-`)), `no disk of VM ${vm.vmid} left: ${volumes.join(', ')}`);
  });

  it('stops a guest that ignores the shutdown request, after the grace period', async () => {
    const vms = provider();
    const { vm } = await vms.ensure(owner(), spec('dave'));
    await vms.start(vm);
    await pve.control('vm_attrs', { vmid: vm.vmid, attrs: { acpi: false } });
    await vms.stop(vm, { graceMs: 2_000 });
    assert.equal((await pve.vm(vm.vmid))!.status, 'stopped');
    const tasks = (await pve.state()).requests.filter(([m, p]) => m === 'POST' && p.includes(`/qemu/${vm.vmid}/status/`)).map(([, p]) => p.split('/').pop());
    assert.deepEqual(tasks.slice(-2), ['shutdown', 'stop']);
    await vms.delete(vm);
  });

  it('deletes a running VM by stopping it first (PVE refuses to destroy a running VM)', async () => {
    const vms = provider();
    const { vm } = await vms.ensure(owner(), spec('erin'));
    await vms.start(vm);
    const direct = await makeClient().delete('/nodes/{node}/qemu/{vmid}', { path: { node: vm.node, vmid: vm.vmid } }, (await import('zod')).z.unknown()).catch((e: Error) => e);
    assert.match(String(direct), new RegExp(`VM ${vm.vmid} is running - destroy failed`));
    await vms.delete(vm);
    assert.equal(await pve.vm(vm.vmid), undefined);
  });

  it('puts back config changed by hand, reports what waits for a reboot, and remakes a VM deleted by hand', async () => {
    const vms = provider();
    const o = owner();
    const { vm } = await vms.ensure(o, spec('frank'));
    await pve.control('set_config', { vmid: vm.vmid, values: { cores: '6', tags: 'team-x', net0: 'virtio=BC:24:11:00:00:09,bridge=vmbr0' } });
    const seen = await vms.observe(o, spec('frank'));
    // The tag was removed, so the VM is found through its description marker.
    assert.equal(seen.exists, true);
    assert.equal(seen.upToDate, false);
    assert.deepEqual(Object.keys(seen.drift!.set).sort(), ['cores', 'net0', 'tags']);
    await vms.ensure(o, spec('frank'));
    const fixed = (await pve.vm(vm.vmid))!;
    assert.equal(fixed.config.cores, '2');
    assert.equal(fixed.config.net0, 'virtio=BC:24:11:00:00:09,bridge=vmbr0,tag=30', 'the MAC stays');
    assert.deepEqual(String(fixed.config.tags).split(';').sort(), ['outrigger', `outrigger-${o.uid}`, 'team-x'], 'the operator\'s tag stays too');

    await vms.start(vm);
    await pve.control('set_config', { vmid: vm.vmid, values: { memory: '512' } });
    const running = await vms.ensure(o, spec('frank'));
    assert.deepEqual(Object.keys(running.drift.set), ['memory']);
    const after = await vms.observe(o, spec('frank'));
    assert.deepEqual(after.drift!.pendingReboot, ['memory'], 'memory of a running VM waits for a reboot');
    assert.equal(after.upToDate, true, 'nothing left to set');

    await pve.control('remove_vm', { vmid: vm.vmid });
    const remade = await vms.ensure(o, spec('frank'));
    assert.equal(remade.created, true);
    assert.notEqual(remade.vm.vmid, undefined);
    assert.equal((await vmsOf(o.uid)).length, 1);
  });

  it('never makes two VMs when creators race: parallel owners get distinct VMIDs, one owner ends with one VM', async () => {
    const shared = new VmidReservations();
    const a = provider({ reservations: shared });
    const owners = Array.from({ length: 6 }, owner);
    const made = await Promise.all(owners.map((o, i) => a.ensure(o, spec(`par-${i}`))));
    assert.equal(new Set(made.map((m) => m.vm.vmid)).size, 6);

    // Two replicas (no shared state) during a leader change, both creating the same owner.
    const o = owner();
    const narrow = { start: 5090, end: 5093 };
    const r1 = provider({ vmidRange: narrow, random: () => 0 });
    const r2 = provider({ vmidRange: narrow, random: () => 0 });
    const both = await Promise.allSettled([r1.ensure(o, spec('race')), r2.ensure(o, spec('race'))]);
    assert.ok(both.every((b) => b.status === 'fulfilled'), JSON.stringify(both.map((b) => b.status === 'rejected' ? String(b.reason) : 'ok')));
    // Whatever each made, the next ensure converges to one VM: the lowest VMID stays.
    const settled = await r1.ensure(o, spec('race'));
    assert.equal((await vmsOf(o.uid)).length, 1);
    assert.equal((await vmsOf(o.uid))[0]!.vmid, settled.vm.vmid);
    for (const m of made) await a.delete(m.vm);
    await a.delete(settled.vm);
  });

  it('after a network stall in the middle of a clone, finds the new VM instead of cloning again', async () => {
    await pve.control('reset_counters');
    await pve.control('stall', { method: 'POST', suffix: `/qemu/${TEMPLATE}/clone`, secs: 60 * 0.05, times: 1 });
    const vms = provider({}, { requestTimeoutMs: 800 });
    const o = owner();
    const result = await vms.ensure(o, spec('stalled'));
    assert.equal(await clonePosts(), 1, 'the clone was sent once');
    assert.equal((await vmsOf(o.uid)).length, 1, 'and made once');
    assert.equal(result.vm.vmid, (await vmsOf(o.uid))[0]!.vmid);
    assert.equal((await pve.vm(result.vm.vmid))!.config.cores, '2', 'configured after the clone finished');
  });

  it('a clone task ending in TASK ERROR leaves no VM, and the next attempt succeeds', async () => {
    await pve.control('fail_clone_task', { message: 'storage write error: No space left on device' });
    const vms = provider();
    const o = owner();
    const volumesBefore = (await pve.state()).volumes;
    await assert.rejects(vms.ensure(o, spec('failed-clone')), (err: Error & { code?: string }) =>
      err.code === ProxmoxErrorCodes.CloneFailed && /No space left on device/.test(err.message) && /nothing was left behind/.test(err.message));
    assert.deepEqual(await vmsOf(o.uid), []);
    assert.deepEqual((await pve.state()).volumes, volumesBefore, 'no disk left behind');
    const ok = await vms.ensure(o, spec('failed-clone'));
    assert.equal(ok.created, true);
  });

  it('waits out a backup lock with a condition that says so', async () => {
    const vms = provider();
    const o = owner();
    const { vm } = await vms.ensure(o, spec('backed-up'));
    await pve.control('set_config', { vmid: vm.vmid, values: { cores: '4' } });
    await pve.control('backup', { vmid: vm.vmid, secs: 300 });
    await waitFor(async () => (await pve.vm(vm.vmid))?.lock === 'backup', { description: 'the backup to hold its lock' });
    await assert.rejects(vms.ensure(o, spec('backed-up')), (err: Error & { code?: string }) =>
      err.code === ProxmoxErrorCodes.VmLocked && /locked \(backup\)/.test(err.message));
    await waitFor(async () => (await pve.vm(vm.vmid))?.lock === null, { description: 'the backup to end', timeoutMs: 15_000 });
    await vms.ensure(o, spec('backed-up'));
    assert.equal((await pve.vm(vm.vmid))!.config.cores, '2');
  });

  it('reports lost quorum and makes nothing until it returns', async () => {
    const vms = provider({}, { retry: { attempts: 2, initialMs: 10, maxMs: 10 } });
    const o = owner();
    await pve.control('lose_quorum');
    try {
      await assert.rejects(vms.ensure(o, spec('quorum')), (err: Error & { code?: string }) => err.code === ProxmoxErrorCodes.NoQuorum && /lost quorum/.test(err.message));
      assert.deepEqual(await vmsOf(o.uid), []);
    } finally {
      await pve.control('regain_quorum');
    }
    assert.equal((await vms.ensure(o, spec('quorum'))).created, true);
  });

  it('names VM.Allocate when the token lacks it, with nothing made', async () => {
    const token = await pve.addToken(PROVIDER_PRIVILEGES.filter((p) => p !== 'VM.Allocate'));
    const vms = provider({}, { credentials: { kind: 'token', tokenId: token.id, secret: token.secret } });
    const o = owner();
    const err = await vms.ensure(o, spec('no-allocate')).catch((e: unknown) => e);
    // PVE's own 403 names no privilege here (VM.Allocate on the VM or on a pool would do); the
    // provider asks /access/permissions which one is missing.
    assert.ok(err instanceof ProxmoxMissingPrivilegesError, String(err));
    assert.equal(err.code, ProxmoxErrorCodes.ProxmoxForbidden);
    assert.deepEqual(err.missing.map((m) => m.privilege), ['VM.Allocate']);
    assert.match(err.message, /the API token lacks VM\.Allocate on \/vms\/5\d{3}/);
    assert.deepEqual(await vmsOf(o.uid), []);
  });

  it('waits for a guest agent that comes up late', async () => {
    const vms = provider();
    const { vm } = await vms.ensure(owner(), spec('late-agent'));
    await pve.control('agent', { vmid: vm.vmid, delay: 200 });
    await vms.start(vm);
    const early = await vms.address(vm);
    assert.equal(early.state, 'waiting');
    assert.match((early as { reason: string }).reason, /guest agent is not running/);
    const addr = await vms.waitForAddress(vm, 15_000);
    assert.equal(addr.state, 'ready');
    await vms.delete(vm);
  });

  describe('bad input: a condition naming what to fix, nothing made, nothing else touched', () => {
    const cases: Array<{ why: string; spec: Partial<VmSpecInput>; code: string; field: string; message: RegExp }> = [
      { why: 'a template that does not exist', spec: { template: 'no-such-template' }, code: ProxmoxErrorCodes.TemplateNotFound, field: 'template', message: /no template named no-such-template/ },
      { why: 'a template VMID that does not exist', spec: { template: 8999 }, code: ProxmoxErrorCodes.TemplateNotFound, field: 'template', message: /no VM 8999/ },
      { why: 'a VM that is not a template', spec: { template: 4000 }, code: ProxmoxErrorCodes.TemplateNotFound, field: 'template', message: /is not a template/ },
      { why: 'a storage the node lacks', spec: { storage: 'ceph-fast' }, code: ProxmoxErrorCodes.StorageNotOnNode, field: 'storage', message: /node pve1 has no active storage ceph-fast.*it has: local-lvm/ },
      { why: 'a bridge the node lacks', spec: { network: { bridge: 'vmbr9' } }, code: ProxmoxErrorCodes.BridgeNotOnNode, field: 'network.bridge', message: /node pve1 has no bridge vmbr9 \(it has: vmbr0\)/ },
      { why: 'a bridge only another node has', spec: { node: 'pve2', network: { bridge: 'vmbr1' } }, code: ProxmoxErrorCodes.BridgeNotOnNode, field: 'network.bridge', message: /node pve2 has no bridge vmbr1 \(it has: vmbr0, vmbr7\)/ },
      { why: 'a malformed SSH key', spec: { cloudInit: { sshKeys: ['ssh-ed25519'] } }, code: ProxmoxErrorCodes.InvalidSpec, field: 'cloudInit.sshKeys.0', message: /OpenSSH public key/ },
    ];
    before(async () => {
      await pve.control('add_vm', { vmid: 4000, name: 'someones-vm', config: { cores: 1 } });
    });
    for (const c of cases) {
      it(c.why, async () => {
        const vms = provider();
        const o = owner();
        const before = await pve.state();
        const err = await vms.ensure(o, spec('bad', c.spec)).catch((e: unknown) => e) as Error & { code?: string; field?: string };
        assert.equal(err.code, c.code, String(err));
        assert.equal(err.field, c.field);
        assert.match(err.message, c.message);
        const after = await pve.state();
        assert.deepEqual(after.vms.map((v) => [v.vmid, v.config]), before.vms.map((v) => [v.vmid, v.config]), 'nothing changed on the cluster');
      });
    }

    it('a VMID range with every id taken', async () => {
      await pve.control('add_vm', { vmid: 6000, name: 'manual', config: {} });
      const vms = provider({ vmidRange: { start: 6000, end: 6000 } });
      const err = await vms.ensure(owner(), spec('full')).catch((e: unknown) => e) as Error & { code?: string; field?: string };
      assert.equal(err.code, ProxmoxErrorCodes.VmidRangeExhausted);
      assert.equal(err.field, 'vmidRange');
      assert.match(err.message, /vmidRange 6000-6000: every VMID is taken/);
    });

    it('a cluster that cannot be reached', async () => {
      const vms = provider({}, { endpoint: 'https://127.0.0.1:1', retry: { attempts: 2, initialMs: 5, maxMs: 5 } });
      const err = await vms.ensure(owner(), spec('unreachable')).catch((e: unknown) => e) as Error & { code?: string };
      assert.equal(err.code, ProxmoxErrorCodes.Unreachable);
      assert.match(err.message, /127\.0\.0\.1:1 is unreachable/);
    });

    it('never deletes a VM without Outrigger\'s tag or outside its range', async () => {
      const vms = provider();
      await assert.rejects(vms.delete({ vmid: 4000, node: 'pve1', tags: [] }), (err: Error & { code?: string }) => err.code === ProxmoxErrorCodes.NotManaged);
      await pve.control('add_vm', { vmid: 5098, name: 'in-range-untagged', config: {} });
      await assert.rejects(vms.delete({ vmid: 5098, node: 'pve1', tags: [] }), (err: Error & { code?: string }) => err.code === ProxmoxErrorCodes.NotManaged);
      assert.ok(await pve.vm(4000));
      assert.ok(await pve.vm(5098));
    });
  });
});
