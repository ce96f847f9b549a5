// How values travel to PVE and back: form encoding, the double encoding of sshkeys, path templates,
// the Content-Type check, UPIDs, and guest-agent addresses.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSshKeys, encodeSshKeys, fillPath, formEncode, isJsonMediaType } from '../../reconcilers/proxmox/encoding.ts';
import { parseUpid, taskSucceeded } from '../../reconcilers/proxmox/tasks.ts';
import { addressesFrom } from '../../reconcilers/proxmox/vm-address.ts';

const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1c2VyIGtleQ== alice@laptop';
const KEY_B = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC+x/y= bob+work@example.org';

describe('form encoding', () => {
  it('writes booleans as 1/0, repeats arrays and skips unset values', () => {
    assert.equal(formEncode({ full: true, purge: false, newid: 105, skip: undefined, none: null }), 'full=1&purge=0&newid=105');
    assert.equal(formEncode({ delete: ['a', 'b'] }), 'delete=a&delete=b');
  });

  it('encodes what the form needs encoded (space, plus, equals, ampersand, newline)', () => {
    const body = formEncode({ description: 'a b+c=d&e\nf' });
    assert.equal(new URLSearchParams(body).get('description'), 'a b+c=d&e\nf', 'the server reads back exactly the value');
  });
});

describe('sshkeys, encoded as PVE demands', () => {
  it('percent-encodes the newline-joined keys leaving only characters of PVE\'s urlencoded format', () => {
    const value = encodeSshKeys([KEY_A, ` ${KEY_B} `, '']);
    assert.match(value, /^[A-Za-z0-9\-_.!~*'()%]+$/, 'PVE refuses anything else');
    assert.equal(decodeURIComponent(value), `${KEY_A}\n${KEY_B}`);
    assert.ok(value.includes('%2B') && value.includes('%2F') && value.includes('%3D') && value.includes('%0A'), '+ / = and newline are escaped');
  });

  it('is encoded a second time by the form, and decodes back to the keys', () => {
    const value = encodeSshKeys([KEY_A, KEY_B]);
    const body = formEncode({ sshkeys: value });
    assert.ok(body.includes('%25'), 'the percent signs themselves are form-encoded');
    const received = new URLSearchParams(body).get('sshkeys')!;
    assert.equal(received, value, 'the server sees the single-encoded value after form decoding');
    assert.deepEqual(decodeSshKeys(received), [KEY_A, KEY_B]);
  });

  it('refuses a key that spans lines', () => {
    assert.throws(() => encodeSshKeys([`${KEY_A}\r\nssh-rsa AAAA`]), /one line/);
  });
});

describe('paths and answers', () => {
  it('fills path templates, percent-encoding values and refusing missing ones', () => {
    assert.equal(fillPath('/nodes/{node}/qemu/{vmid}/clone', { node: 'pve1', vmid: 105 }), '/nodes/pve1/qemu/105/clone');
    assert.equal(fillPath('/nodes/{node}/tasks/{upid}/status', { node: 'pve1', upid: 'UPID:pve1:1:2:3:qmclone:9000:root@pam:' }),
      '/nodes/pve1/tasks/UPID%3Apve1%3A1%3A2%3A3%3Aqmclone%3A9000%3Aroot%40pam%3A/status');
    assert.throws(() => fillPath('/nodes/{node}', {}), /needs a value for \{node\}/);
  });

  for (const [value, json] of [
    ['application/json;charset=UTF-8', true],
    ['application/json; charset=utf-8', true],
    ['Application/JSON; Charset="UTF-8"', true],
    ['application/json', true],
    ['  application/json ;charset=iso-8859-1', true],
    ['text/html; charset=utf-8', false],
    ['application/jsonp', false],
    [undefined, false],
  ] as const) {
    it(`takes ${JSON.stringify(value)} as ${json ? 'JSON' : 'not JSON'}`, () => {
      assert.equal(isJsonMediaType(value), json);
    });
  }

  it('reads a UPID, including the node that runs the task', () => {
    const upid = parseUpid('UPID:pve2:000003E8:00001B58:6B114359:qmclone:9000:outrigger@pve!ctl:');
    assert.deepEqual(upid, { node: 'pve2', pid: 1000, pstart: 7000, startTime: 0x6b114359, type: 'qmclone', id: '9000', user: 'outrigger@pve!ctl' });
    assert.throws(() => parseUpid('UPID:broken'), /not a UPID/);
  });

  it('counts OK and WARNINGS as success, anything else as failure', () => {
    assert.equal(taskSucceeded('OK'), true);
    assert.equal(taskSucceeded('WARNINGS: 3'), true);
    assert.equal(taskSucceeded('clone failed: no space left'), false);
    assert.equal(taskSucceeded('unexpected status'), false);
  });
});

describe('addresses from the guest agent', () => {
  it('skips lo, link-local and interfaces without addresses; IPv4 first', () => {
    const addr = addressesFrom({ result: [
      { name: 'lo', 'ip-addresses': [{ 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4' }, { 'ip-address': '::1', 'ip-address-type': 'ipv6' }] },
      { name: 'eth1' },
      { name: 'eth0', 'ip-addresses': [
        { 'ip-address': 'fe80::be24:11ff:fe00:1%eth0', 'ip-address-type': 'ipv6' },
        { 'ip-address': '169.254.10.1', 'ip-address-type': 'ipv4' },
        { 'ip-address': '2001:db8::5', 'ip-address-type': 'ipv6' },
        { 'ip-address': '192.0.2.10', 'ip-address-type': 'ipv4' },
      ] },
    ] });
    assert.deepEqual(addr, { state: 'ready', ipv4: ['192.0.2.10'], ipv6: ['2001:db8::5'], primary: '192.0.2.10' });
  });

  it('is still waiting when only loopback and link-local addresses exist', () => {
    const addr = addressesFrom({ result: [{ name: 'lo', 'ip-addresses': [{ 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4' }] },
      { name: 'eth0', 'ip-addresses': [{ 'ip-address': 'fe80::1', 'ip-address-type': 'ipv6' }] }] });
    assert.equal(addr.state, 'waiting');
  });
});
