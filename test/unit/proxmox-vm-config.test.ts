// The VM config Outrigger wants and its drift from what a VM has (pure), VMID picking, and the
// ticket's renewal before PVE's 2 h expiry.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../controller/clock.ts';
import { RENEW_AFTER_MS, TicketAuthenticator } from '../../reconcilers/proxmox/auth.ts';
import { encodeSshKeys } from '../../reconcilers/proxmox/encoding.ts';
import { desiredConfig, diffConfig, hasDrift, parseNic } from '../../reconcilers/proxmox/vm-config.ts';
import { parseVmSpec, type VmSpecInput } from '../../reconcilers/proxmox/vm-spec.ts';
import { pickVmid, VmidReservations } from '../../reconcilers/proxmox/vmid.ts';

const UID = '0b7e4d5c-1111-4222-8333-944455556666';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1c2VyIGtleQ== alice@laptop';
const base: VmSpecInput = { name: 'alice', template: 9000, cores: 2, memoryMiB: 2048, disk: { sizeGiB: 8 },
  network: { bridge: 'vmbr1', vlan: 20 }, cloudInit: { user: 'alice', sshKeys: [KEY], ipConfig: ['ip=dhcp'], nameservers: ['192.0.2.53'] } };

/** A VM config as PVE shows it after Outrigger configured it for `base`. */
const converged = {
  name: 'alice', tags: `outrigger;outrigger-${UID}`, cores: '2', memory: '2048', agent: '1',
  net0: 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr1,tag=20', ciuser: 'alice', sshkeys: encodeSshKeys([KEY]),
  ipconfig0: 'ip=dhcp', nameserver: '192.0.2.53', scsi0: 'local-lvm:vm-105-disk-0,size=8G', digest: 'abc',
};

function drift(spec: VmSpecInput, current: Record<string, string>, pending: Parameters<typeof diffConfig>[3] = []) {
  const parsed = parseVmSpec(spec);
  return diffConfig(parsed, desiredConfig(parsed, UID, current), current, pending);
}

describe('config drift', () => {
  const cases: Array<{ why: string; current: Record<string, string>; set: string[]; grow?: number; unfixable?: RegExp; pendingReboot?: string[]; pending?: Parameters<typeof diffConfig>[3] }> = [
    { why: 'a converged VM has no drift', current: converged, set: [] },
    { why: 'cores changed by hand are put back', current: { ...converged, cores: '8' }, set: ['cores'] },
    { why: 'the NIC keeps its MAC; a bridge changed by hand is put back', current: { ...converged, net0: 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=20' }, set: ['net0'] },
    { why: 'a VLAN tag removed by hand is put back', current: { ...converged, net0: 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr1' }, set: ['net0'] },
    { why: 'NIC options in another order are the same', current: { ...converged, net0: 'bridge=vmbr1,tag=20,virtio=bc:24:11:aa:bb:cc' }, set: [] },
    { why: 'tags in another order, with a tag of the operator, are fine', current: { ...converged, tags: `team-a;outrigger-${UID};outrigger` }, set: [] },
    { why: 'a lost owner tag is put back, the operator\'s tag kept', current: { ...converged, tags: 'team-a' }, set: ['tags'] },
    { why: 'keys encoded differently but equal are the same', current: { ...converged, sshkeys: encodeURIComponent(`${KEY}\n`) }, set: [] },
    { why: 'a key removed by hand is put back', current: { ...converged, sshkeys: '' }, set: ['sshkeys'] },
    { why: 'a disk smaller than asked grows', current: { ...converged, scsi0: 'local-lvm:vm-105-disk-0,size=2G' }, set: [], grow: 8 * 1024 ** 3 },
    { why: 'a disk larger than asked is reported, never shrunk', current: { ...converged, scsi0: 'local-lvm:vm-105-disk-0,size=16G' }, set: [], unfixable: /never shrunk/ },
    { why: 'a disabled agent is enabled (the address comes from it)', current: { ...converged, agent: '0' }, set: ['agent'] },
    { why: 'agent in property form counts as enabled', current: { ...converged, agent: 'enabled=1,fstrim_cloned_disks=1' }, set: [] },
    { why: 'a wanted value already pending needs only a reboot', current: { ...converged, memory: '1024' }, pending: [{ key: 'memory', value: '1024', pending: '2048' }], set: [], pendingReboot: ['memory'] },
    { why: 'a pending value that differs is set again', current: converged, pending: [{ key: 'cores', value: '2', pending: '4' }], set: ['cores'] },
    { why: 'a pending delete of a wanted key is set again', current: converged, pending: [{ key: 'ciuser', value: 'alice', delete: 1 }], set: ['ciuser'] },
  ];
  for (const c of cases) {
    it(c.why, () => {
      const d = drift(base, c.current, c.pending);
      assert.deepEqual(Object.keys(d.set).sort(), c.set.sort());
      assert.equal(d.grow?.bytes, c.grow);
      assert.deepEqual(d.pendingReboot, c.pendingReboot ?? []);
      if (c.unfixable) assert.match(d.unfixable.join('; '), c.unfixable);
      else assert.deepEqual(d.unfixable, []);
      assert.equal(hasDrift(d), c.set.length > 0 || c.grow !== undefined);
    });
  }

  it('renders the NIC with the clone\'s MAC, the bridge and the VLAN tag', () => {
    const spec = parseVmSpec(base);
    const want = desiredConfig(spec, UID, { net0: 'virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1' });
    assert.deepEqual(parseNic(want.net0), { model: 'virtio', mac: 'BC:24:11:00:00:01', bridge: 'vmbr1', tag: '20', firewall: '1', rest: {} });
  });

  it('keys Outrigger does not set are never compared (the template\'s own options stay)', () => {
    const d = drift({ name: 'alice', template: 9000 }, { ...converged, cores: '16', bios: 'ovmf', net0: 'e1000=x' });
    assert.deepEqual(d.set, {});
  });

  it('names the field of bad input', () => {
    assert.throws(() => parseVmSpec({ ...base, network: { bridge: 'bad bridge!' } }), (e: Error & { field?: string }) => e.field === 'network.bridge' && /bridge name/.test(e.message));
    assert.throws(() => parseVmSpec({ ...base, cloudInit: { sshKeys: ['not a key'] } }), (e: Error & { field?: string }) => e.field === 'cloudInit.sshKeys.0');
  });
});

describe('VMIDs', () => {
  it('picks a free id in the range from a random offset, wrapping around', () => {
    assert.equal(pickVmid({ start: 100, end: 109 }, new Set(), () => 0.55), 105);
    assert.equal(pickVmid({ start: 100, end: 109 }, new Set([105, 106, 107, 108, 109]), () => 0.55), 100);
    assert.equal(pickVmid({ start: 100, end: 102 }, new Set([100, 101, 102])), undefined, 'exhausted');
  });

  it('never hands one id to two creators of one process until released', () => {
    const r = new VmidReservations();
    const range = { start: 200, end: 203 };
    const picked = [0, 1, 2, 3].map(() => r.reserve(range, new Set(), () => 0));
    assert.deepEqual(picked, [200, 201, 202, 203]);
    assert.equal(r.reserve(range, new Set(), () => 0), undefined);
    r.release(201);
    assert.equal(r.reserve(range, new Set(), () => 0), 201);
  });
});

describe('ticket renewal', () => {
  it('logs in once, renews with the ticket before the 2 h expiry, and logs in again after a refusal', async () => {
    const clock = new FakeClock(1_000_000);
    const logins: Array<{ password: string; at: number }> = [];
    let n = 0;
    const auth = new TicketAuthenticator({
      username: 'ops@pve', password: 'pw', clock,
      login: async (_u, password) => { logins.push({ password, at: clock.now() }); n++; return { ticket: `PVE:ops@pve:T${n}`, csrf: `C${n}` }; },
    });
    const signal = new AbortController().signal;
    const [a, b] = await Promise.all([auth.headers('GET', signal), auth.headers('POST', signal)]);
    assert.equal(logins.length, 1, 'concurrent requests share one login');
    assert.equal(a.cookie, 'PVEAuthCookie=PVE:ops@pve:T1');
    assert.equal(a.csrfpreventiontoken, undefined, 'no CSRF token on GET');
    assert.equal(b.csrfpreventiontoken, 'C1', 'the CSRF token on writes');
    clock.advance(RENEW_AFTER_MS - 1);
    await auth.headers('GET', signal);
    assert.equal(logins.length, 1, 'not renewed early');
    clock.advance(1);
    const renewed = await auth.headers('POST', signal);
    assert.equal(logins.length, 2);
    assert.equal(logins[1]!.password, 'PVE:ops@pve:T1', 'renewed with the ticket itself, before 2 h');
    assert.equal(renewed.csrfpreventiontoken, 'C2');
    assert.equal(auth.refused(), true);
    await auth.headers('GET', signal);
    assert.equal(logins[2]!.password, 'pw', 'after a refusal, a fresh login with the password');
    assert.ok(auth.secrets().includes('pw') && auth.secrets().includes('PVE:ops@pve:T3'), 'every secret is known for scrubbing');
  });
});

describe('privileges from /access/permissions', () => {
  it('holds a privilege set on the path, or on a parent that propagates it', async () => {
    const { holds, missingFrom } = await import('../../reconcilers/proxmox/privileges.ts');
    const held = { '/': { 'Sys.Audit': 0 }, '/vms': { 'VM.Audit': 1, 'VM.Clone': 0 }, '/vms/105': { 'VM.Clone': 0 } };
    assert.equal(holds(held, '/vms/105', 'VM.Audit'), true, 'propagated from /vms');
    assert.equal(holds(held, '/vms/105', 'VM.Clone'), true, 'set on the path itself');
    assert.equal(holds(held, '/vms/106', 'VM.Clone'), false, 'not propagated from /vms');
    assert.equal(holds(held, '/nodes/pve1', 'Sys.Audit'), false, 'not propagated from /');
    assert.equal(holds(held, '/', 'Sys.Audit'), true);
    assert.deepEqual(missingFrom(held, [{ path: '/vms/106', privilege: 'VM.Audit' }, { path: '/vms/106', privilege: 'VM.Allocate' }]),
      [{ path: '/vms/106', privilege: 'VM.Allocate' }]);
  });
});

describe('one client per cluster', () => {
  it('reuses the client while nothing changes, replaces it when the secret or CA changes', async () => {
    const { ProxmoxClusters, connectionKey } = await import('../../reconcilers/proxmox/registry.ts');
    const clusters = new ProxmoxClusters();
    const conn = { endpoint: 'https://pve.example.com:8006', credentials: { kind: 'token' as const, tokenId: 'o@pve!c', secret: 's1' }, vmidRange: { start: 100, end: 200 } };
    const a = clusters.get('uid-1', conn);
    assert.equal(clusters.get('uid-1', { ...conn }), a, 'same settings, same client and pool');
    const b = clusters.get('uid-1', { ...conn, credentials: { ...conn.credentials, secret: 's2' } });
    assert.notEqual(b, a, 'a rotated secret makes a new client');
    assert.notEqual(clusters.get('uid-1', { ...conn, credentials: { ...conn.credentials, secret: 's2' }, tls: { caBundle: 'x' } }), b);
    assert.ok(!connectionKey(conn).includes('s1'), 'the key holds no secret');
    assert.notEqual(clusters.get('uid-2', conn), clusters.peek('uid-1'), 'another cluster, another client');
    await clusters.closeAll();
    assert.equal(clusters.peek('uid-1'), undefined);
  });
});
