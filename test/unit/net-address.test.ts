// The one address classifier and the two policies over it: every spelling of a forbidden address is
// recognised, numeric forms that are not IP literals are never taken for one, and operator ranges
// lift only what they may.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyAddress, judgeAddress, outboundPolicy, parseNetwork, upstreamPolicy, type AddressClass } from '../../reconcilers/net/index.ts';

describe('classifyAddress', () => {
  const cases: Array<[string, AddressClass, string]> = [
    ['169.254.169.254', 'link-local', 'the metadata address of most clouds is link-local'],
    ['169.254.170.2', 'link-local', 'ECS task credentials'],
    ['fe80::1', 'link-local', 'IPv6 link-local'],
    ['FE80::1', 'link-local', 'upper-case hex is the same address'],
    ['febf:ffff::1', 'link-local', 'the top of fe80::/10'],
    ['fe80::1%eth0', 'link-local', 'a zone index does not hide the class'],
    ['0.0.0.0', 'unspecified', 'Linux connects 0.0.0.0 to the local host'],
    ['0.1.2.3', 'unspecified', 'all of 0.0.0.0/8 is "this network"'],
    ['::', 'unspecified', 'the IPv6 unspecified address'],
    ['0:0:0:0:0:0:0:0', 'unspecified', 'the long spelling of ::'],
    ['fd00:ec2::254', 'metadata', 'EC2\'s IPv6 metadata endpoint'],
    ['fd00:0ec2:0:0:0:0:0:254', 'metadata', 'the same, spelled long'],
    ['fd20:ce::254', 'metadata', 'Google\'s IPv6 metadata endpoint'],
    ['100.100.100.200', 'metadata', 'Alibaba\'s metadata endpoint'],
    ['::ffff:169.254.169.254', 'link-local', 'IPv4-mapped, dotted'],
    ['::ffff:a9fe:a9fe', 'link-local', 'IPv4-mapped, hex'],
    ['::a9fe:a9fe', 'link-local', 'IPv4-compatible (deprecated, still parsed)'],
    ['::169.254.169.254', 'link-local', 'IPv4-compatible, dotted'],
    ['::ffff:0:a9fe:a9fe', 'link-local', 'SIIT (RFC 6145) form'],
    ['64:ff9b::a9fe:a9fe', 'link-local', 'NAT64\'s well-known prefix reaches the IPv4 address through the gateway'],
    ['2002:a9fe:a9fe::1', 'link-local', '6to4 with the metadata address as its gateway'],
    ['::ffff:0.0.0.0', 'unspecified', 'mapped unspecified'],
    ['::ffff:127.0.0.1', 'loopback', 'mapped loopback'],
    ['::0.0.0.1', 'loopback', 'this is ::1, not a mapped 0.0.0.1'],
    ['224.0.0.1', 'multicast', 'IPv4 multicast'],
    ['ff02::1', 'multicast', 'IPv6 multicast'],
    ['255.255.255.255', 'broadcast', 'broadcast'],
    ['127.0.0.1', 'loopback', 'loopback'],
    ['127.255.0.9', 'loopback', 'all of 127/8'],
    ['::1', 'loopback', 'IPv6 loopback'],
    ['10.1.2.3', 'private', 'RFC 1918'],
    ['172.16.0.1', 'private', 'RFC 1918'],
    ['192.168.1.1', 'private', 'RFC 1918'],
    ['fd12::1', 'private', 'unique local'],
    ['100.64.0.1', 'shared', 'carrier-grade NAT'],
    ['192.0.2.1', 'reserved', 'documentation'],
    ['240.0.0.1', 'reserved', 'class E'],
    ['8.8.8.8', 'public', 'a public address'],
    ['2001:4860:4860::8888', 'public', 'a public IPv6 address'],
    ['::ffff:8.8.8.8', 'public', 'mapped public stays public'],
  ];
  for (const [address, cls, why] of cases) {
    it(`${address} is ${cls}: ${why}`, () => assert.equal(classifyAddress(address)?.class, cls));
  }
  it('numeric forms that are not dotted quads are not IP literals (they are refused as names elsewhere)', () => {
    for (const text of ['2852039166', '0xa9fea9fe', '0251.0376.0251.0376', '169.254.43518', '169.254.169.254.', '[::1]', 'metadata', '']) {
      assert.equal(classifyAddress(text), null, text);
    }
  });
  it('reports the IPv4 address an IPv6 spelling carries', () => {
    assert.deepEqual(classifyAddress('::ffff:169.254.169.254'), { address: '::ffff:a9fe:a9fe', class: 'link-local', embeddedIPv4: '169.254.169.254' });
  });
});

describe('policies', () => {
  it('upstreams may reach loopback and private networks, never link-local, metadata or unspecified', () => {
    for (const ok of ['127.0.0.1', '10.0.0.5', 'fd00::10', '192.0.2.10', '8.8.8.8']) assert.equal(judgeAddress(ok, upstreamPolicy)?.allowed, true, ok);
    for (const bad of ['169.254.169.254', '::ffff:169.254.169.254', 'fe80::1', '0.0.0.0', '::', 'fd00:ec2::254', '224.0.0.1']) assert.equal(judgeAddress(bad, upstreamPolicy)?.allowed, false, bad);
  });
  it('outbound connections refuse loopback, private, shared and reserved too, with a hint for the operator', () => {
    const p = outboundPolicy();
    assert.equal(judgeAddress('8.8.8.8', p)?.allowed, true);
    for (const bad of ['127.0.0.1', '::1', '10.0.0.5', 'fd00::10', '100.64.0.1', '192.0.2.1', '::ffff:10.0.0.5']) {
      const v = judgeAddress(bad, p)!;
      assert.equal(v.allowed, false, bad);
      assert.match(v.reason!, /--allow-outbound-cidr/);
    }
    assert.match(judgeAddress('169.254.169.254', p)!.reason!, /no configuration allows it/);
  });
  it('an operator range lifts internal classes inside it only, IPv4-mapped spellings included', () => {
    const p = outboundPolicy(['10.0.0.0/8', 'fd00::/8', '127.0.0.0/8']);
    for (const ok of ['10.1.2.3', '::ffff:10.1.2.3', 'fd00::5', '127.0.0.1']) assert.equal(judgeAddress(ok, p)?.allowed, true, ok);
    for (const bad of ['192.168.1.1', '172.16.0.1', '::1']) assert.equal(judgeAddress(bad, p)?.allowed, false, bad);
  });
  it('no operator range lifts link-local, metadata or unspecified, even 0.0.0.0/0', () => {
    const p = outboundPolicy(['0.0.0.0/0', '::/0']);
    assert.equal(judgeAddress('10.0.0.1', p)?.allowed, true, 'the wide range does allow internal networks');
    for (const bad of ['169.254.169.254', 'fe80::1', '0.0.0.0', '::', 'fd00:ec2::254', '100.100.100.200', '::ffff:169.254.169.254']) assert.equal(judgeAddress(bad, p)?.allowed, false, bad);
  });
  it('a range wholly inside a never-allowed class is a configuration error naming it', () => {
    assert.throws(() => outboundPolicy(['169.254.0.0/16']), /"169\.254\.0\.0\/16" holds only addresses Outrigger never connects to/);
    assert.throws(() => outboundPolicy(['fe80::/10']), /never connects to/);
    assert.throws(() => outboundPolicy(['10.0.0.1/8']), /host bits set/);
    assert.throws(() => outboundPolicy(['10.0.0.0']), /not address\/prefix/);
    assert.throws(() => outboundPolicy(['0xa000000/8']), /IPv4 or IPv6/);
  });
  it('parseNetwork matches by prefix, in its own family', () => {
    const n = parseNetwork('192.168.0.0/16');
    assert.equal(n.contains('192.168.255.1'), true);
    assert.equal(n.contains('192.169.0.1'), false);
    assert.equal(n.contains('fd00::1'), false);
    assert.equal(n.contains('not an address'), false);
    assert.deepEqual([n.first, n.last], ['192.168.0.0', '192.168.255.255']);
  });
});
