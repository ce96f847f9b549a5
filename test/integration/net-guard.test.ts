// The outbound guard against a real DNS server (dnsmasq) and real forbidden addresses: inside a
// trap network, 169.254.169.254, fe80::1 and the local host behind 0.0.0.0 / :: are listened on,
// and names in the test zone resolve to them. Every request goes through node's http(s) or undici's
// fetch with the guard plugged in, as probes and receivers will; at the end, a plain unguarded
// connection to each trap proves the traps see connections at all, and that none but those came.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createTestCa } from '../fixtures/hosts.ts';
import { startTrapNetwork, trapNetworkSkipReason, TRAP_ADDRESSES, type TrapNetwork } from '../fixtures/trap-network.ts';
import { NetErrorCodes } from '../../reconcilers/net/index.ts';

const AGENT = fileURLToPath(new URL('./programs/guard-agent.ts', import.meta.url));
const FIELD = 'spec.rules[0].httpProbe.url';
const HTTP = 8080;
const HTTPS = 8443;
const ANY = 9999;
const { good, good2, metadata, linkLocal } = TRAP_ADDRESSES;

const zone = (rebindTo: string) => ({
  'meta.guard.test': [metadata],
  'll.guard.test': [linkLocal],
  'zero.guard.test': ['0.0.0.0'],
  'zero6.guard.test': ['::'],
  'mapped.guard.test': [`::ffff:${metadata}`],
  'mix.guard.test': [good, metadata],
  'good.guard.test': [good],
  'good2.guard.test': [good2],
  'rebind.guard.test': [rebindTo],
});

interface Answer { ok?: boolean; status?: number; body?: string; error?: { name: string; code?: string; field?: string; message: string; addressClass?: string; address?: string }; hits?: Array<{ trap: string; remotePort: number; bytes: number }>; localPort?: number; fatal?: string }

class AgentClient {
  private readonly child: ChildProcess;
  private readonly lines: Interface;
  private readonly pending: Array<(a: Answer) => void> = [];
  private stderr = '';

  constructor(net: TrapNetwork) {
    this.child = spawn(net.exec[0]!, [...net.exec.slice(1), process.execPath, AGENT], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    this.lines = createInterface({ input: this.child.stdout! });
    this.lines.on('line', (line) => this.pending.shift()?.(JSON.parse(line) as Answer));
    this.child.once('exit', (code) => { for (const p of this.pending.splice(0)) p({ fatal: `the agent exited (${code}): ${this.stderr.slice(-2000)}` }); });
  }

  async send(cmd: Record<string, unknown>): Promise<Answer> {
    const answer = new Promise<Answer>((resolve) => this.pending.push(resolve));
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
    const a = await answer;
    if (a.fatal) throw new Error(a.fatal);
    return a;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

const request = (agent: AgentClient, client: 'http' | 'undici', url: string, extra: Record<string, unknown> = {}) =>
  agent.send({ op: 'request', client, url, resolver: 'dns', ...extra });

function assertRefused(a: Answer, addressClass: string, mentions: string[]): void {
  assert.equal(a.ok, false, `expected a refusal, got ${JSON.stringify(a)}`);
  assert.equal(a.error?.code, NetErrorCodes.ForbiddenAddress, JSON.stringify(a.error));
  assert.equal(a.error?.name, 'ForbiddenAddressError');
  assert.equal(a.error?.field, FIELD);
  assert.equal(a.error?.addressClass, addressClass);
  assert.ok(a.error?.message.startsWith(`${FIELD}: `), a.error?.message);
  for (const m of mentions) assert.ok(a.error?.message.includes(m), `"${a.error?.message}" should mention ${m}`);
  // A URL's path and query may hold a token: the message never carries them.
  assert.ok(!a.error?.message.includes('s3cr3t'), a.error?.message);
}

const skip = trapNetworkSkipReason();

describe('the outbound guard, with a real DNS server and real forbidden addresses', { skip }, () => {
  let net: TrapNetwork;
  let agent: AgentClient;
  const ca = createTestCa('Guard Test CA');

  before(async () => {
    net = await startTrapNetwork(zone(good));
    agent = new AgentClient(net);
    const cert = ca.issue(['good.guard.test', 'good2.guard.test', 'rebind.guard.test', 'meta.guard.test']);
    const ready = await agent.send({ tls: { certificate: cert.certificate, privateKey: cert.privateKey, ca: ca.caPem } });
    assert.equal((ready as { ready?: boolean }).ready, true);
  });
  after(async () => {
    await agent?.stop();
    await net?.teardown();
  });

  const forbidden: Array<[string, string, number, string, string[]]> = [
    // name, expected class, port of its trap, why, what the message names
    ['meta.guard.test', 'link-local', HTTP, 'the cloud metadata address', ['"meta.guard.test" resolves to 169.254.169.254', 'link-local']],
    ['ll.guard.test', 'link-local', HTTP, 'an IPv6 link-local address', ['fe80::1', 'link-local']],
    ['zero.guard.test', 'unspecified', ANY, '0.0.0.0, which Linux connects to the local host', ['0.0.0.0', 'unspecified']],
    ['zero6.guard.test', 'unspecified', ANY, '::, the same in IPv6', ['"zero6.guard.test" resolves to ::,', 'unspecified']],
    ['mapped.guard.test', 'link-local', HTTP, 'the metadata address spelled as IPv4-mapped IPv6', ['::ffff:a9fe:a9fe (which carries 169.254.169.254)', 'link-local']],
    ['mix.guard.test', 'link-local', HTTP, 'one good and one forbidden answer: the name is refused as a whole', ['169.254.169.254']],
  ];
  for (const resolver of ['dns', 'system'] as const) {
    for (const [name, cls, port, why, mentions] of forbidden) {
      it(`refuses ${name} (${why}) through ${resolver === 'dns' ? 'a configured DNS server' : 'the system resolver'}, for node http, undici and net`, async () => {
        assertRefused(await request(agent, 'http', `http://${name}:${port}/latest/meta-data?token=s3cr3t`, { resolver }), cls, mentions);
        assertRefused(await request(agent, 'undici', `http://${name}:${port}/latest/meta-data?token=s3cr3t`, { resolver }), cls, mentions);
        assertRefused(await agent.send({ op: 'connect', host: name, port, resolver }), cls, mentions);
      });
    }
  }

  it('refuses forbidden IP literals, which node connects to without any lookup', async () => {
    for (const client of ['http', 'undici'] as const) {
      assertRefused(await request(agent, client, `http://${metadata}:${HTTP}/?token=s3cr3t`), 'link-local', ['169.254.169.254 is a link-local']);
      assertRefused(await request(agent, client, `http://[::ffff:${metadata}]:${HTTP}/`), 'link-local', ['169.254.169.254']);
      assertRefused(await request(agent, client, `http://[${linkLocal}]:${HTTP}/`), 'link-local', ['fe80::1']);
      assertRefused(await request(agent, client, `http://0.0.0.0:${ANY}/`), 'unspecified', ['0.0.0.0']);
    }
  });

  it('connects a good name to its vetted address, over HTTP and over verified HTTPS (the name stays the TLS name)', async () => {
    for (const client of ['http', 'undici'] as const) {
      for (const resolver of ['dns', 'system'] as const) {
        assert.deepEqual(await request(agent, client, `http://good.guard.test:${HTTP}/`, { resolver }), { ok: true, status: 200, body: `good ${good}`, ...(client === 'http' ? { hops: 0 } : {}) });
      }
      const tls = await request(agent, client, `https://good.guard.test:${HTTPS}/`);
      assert.equal(tls.ok, true, JSON.stringify(tls));
      assert.equal(tls.body, `good ${good}`);
    }
  });

  it('refuses private addresses unless the operator allows their range, and says how', async () => {
    const a = await request(agent, 'undici', `http://good.guard.test:${HTTP}/`, { allow: [] });
    assertRefused(a, 'private', ['10.214.0.10', 'private', '--allow-outbound-cidr']);
    assert.equal((await request(agent, 'undici', `http://good.guard.test:${HTTP}/`, { allow: ['10.214.0.10/32'] })).ok, true);
  });

  it('checks every redirect hop: a redirect to a forbidden literal or name is refused, a good one followed', async () => {
    for (const client of ['http', 'undici'] as const) {
      const via = (to: string) => `http://good.guard.test:${HTTP}/redirect?to=${encodeURIComponent(to)}`;
      assertRefused(await request(agent, client, via(`http://${metadata}:${HTTP}/latest/api/token`)), 'link-local', ['169.254.169.254']);
      assertRefused(await request(agent, client, via(`http://meta.guard.test:${HTTP}/`)), 'link-local', ['"meta.guard.test" resolves to 169.254.169.254']);
      assertRefused(await request(agent, client, via(`http://[::ffff:${metadata}]:${HTTP}/`)), 'link-local', ['169.254.169.254']);
      const followed = await request(agent, client, via(`http://good2.guard.test:${HTTP}/`));
      assert.equal(followed.ok, true, JSON.stringify(followed));
      assert.equal(followed.body, `good ${good2}`, 'the redirect was really followed to the second server');
    }
  });

  it('a name whose answer changes from good to forbidden between two requests is refused on the second', async () => {
    for (const client of ['http', 'undici'] as const) {
      await net.dns.setRecords(zone(good));
      assert.equal((await request(agent, client, `http://rebind.guard.test:${HTTP}/`)).body, `good ${good}`);
      await net.dns.setRecords(zone(metadata));
      assertRefused(await request(agent, client, `http://rebind.guard.test:${HTTP}/`), 'link-local', ['"rebind.guard.test" resolves to 169.254.169.254']);
      assertRefused(await request(agent, client, `https://rebind.guard.test:${HTTPS}/`), 'link-local', ['169.254.169.254']);
    }
    assert.match(await net.dns.log(), /rebind\.guard\.test is 169\.254\.169\.254/, 'the DNS server really answered the forbidden address');
  });

  it('no connection, and so no byte, reached a forbidden address; an unguarded client reaches every trap', async () => {
    const before = (await agent.send({ op: 'traps' })).hits ?? [];
    assert.deepEqual(before, [], 'a guarded request got through to a trap');
    const controls: number[] = [];
    for (const [host, port] of [[metadata, HTTP], [metadata, HTTPS], [linkLocal, HTTP], ['0.0.0.0', ANY], ['::', ANY], [`::ffff:${metadata}`, HTTP]] as const) {
      controls.push((await agent.send({ op: 'unguarded', host, port })).localPort!);
    }
    const hits = (await agent.send({ op: 'traps' })).hits ?? [];
    assert.deepEqual(hits.map((h) => h.remotePort).sort(), [...controls].sort(), 'the traps saw exactly the control connections');
  });
});
