// The guarded lookup's contract with node's clients, with a scripted resolver (the real DNS server
// and real sockets are in test/integration/net-guard.test.ts): one resolution per connection, the
// socket gets only vetted addresses, the address family asked for is honoured, and errors are typed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import net from 'node:net';
import { reasonEntry } from '../../controller/index.ts';
import { ForbiddenAddressError, NameNotResolvedError, NameResolver, NetErrorCodes, OutboundGuard, outboundPolicy, upstreamPolicy, type ResolvedName } from '../../reconcilers/net/index.ts';
import { errorCode } from '../../controller/errors.ts';

/** Answers from a script, one entry per query, and counts the queries. */
class ScriptedResolver extends NameResolver {
  queries = 0;
  private readonly answers: Array<string[] | Error>;
  constructor(answers: Array<string[] | Error>) {
    super();
    this.answers = answers;
  }
  override async resolve(): Promise<ResolvedName> {
    const a = this.answers[Math.min(this.queries++, this.answers.length - 1)]!;
    if (a instanceof Error) throw a;
    return { addresses: a.map((address) => ({ address, family: address.includes(':') ? 6 as const : 4 as const })) };
  }
}

function lookup(guard: OutboundGuard, host: string, options: Parameters<ReturnType<OutboundGuard['lookupFor']>>[1]): Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number }> {
  return new Promise((resolve) => guard.lookupFor('spec.url')(host, options, (err, address, family) => resolve({ err, address, family })));
}

describe('OutboundGuard.lookupFor', () => {
  const allowDocs = outboundPolicy(['192.0.2.0/24', '2001:db8::/32']);
  it('hands over every vetted address with all: true (happy eyeballs) and the first one otherwise', async () => {
    const guard = new OutboundGuard({ policy: allowDocs, resolver: new ScriptedResolver([['192.0.2.1', '2001:db8::1']]) });
    assert.deepEqual((await lookup(guard, 'a.test', { all: true })).address, [{ address: '192.0.2.1', family: 4 }, { address: '2001:db8::1', family: 6 }]);
    const one = await lookup(guard, 'a.test', {});
    assert.deepEqual([one.err, one.address, one.family], [null, '192.0.2.1', 4]);
    const v6 = await lookup(guard, 'a.test', { family: 6 });
    assert.deepEqual([v6.address, v6.family], ['2001:db8::1', 6]);
  });
  it('refuses the whole name when any answer is forbidden, before a socket exists', async () => {
    const guard = new OutboundGuard({ policy: allowDocs, resolver: new ScriptedResolver([['192.0.2.1', '169.254.169.254']]) });
    const { err } = await lookup(guard, 'mix.test', { all: true });
    assert.ok(err instanceof ForbiddenAddressError);
    assert.equal(err.code, NetErrorCodes.ForbiddenAddress);
    assert.equal(err.field, 'spec.url');
    assert.equal(err.addressClass, 'link-local');
    assert.equal(err.message, 'spec.url: "mix.test" resolves to 169.254.169.254, a link-local address (169.254.0.0/16 or fe80::/10, where cloud metadata services live), which outbound connections may not reach (no configuration allows it); nothing was sent');
  });
  it('resolves once per connection: the socket connects to the vetted answer even if the name is rebound right after', async () => {
    // First answer good, every later one forbidden: a check-then-connect design would connect to the second.
    const server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const resolver = new ScriptedResolver([['127.0.0.1'], ['169.254.169.254']]);
    const guard = new OutboundGuard({ policy: outboundPolicy(['127.0.0.0/8']), resolver });
    try {
      const remote = await new Promise<string>((resolve, reject) => {
        const s = net.connect({ host: 'rebind.test', port, lookup: guard.lookupFor('spec.url') }, () => { resolve(s.remoteAddress ?? ''); s.destroy(); });
        s.on('error', reject);
      });
      assert.equal(remote, '127.0.0.1');
      assert.equal(resolver.queries, 1, 'the connection made exactly one lookup');
      await assert.rejects(new Promise((resolve, reject) => {
        const s = net.connect({ host: 'rebind.test', port, lookup: guard.lookupFor('spec.url') }, () => { s.destroy(); resolve(undefined); });
        s.on('error', reject);
      }), (err: unknown) => err instanceof ForbiddenAddressError && err.address === '169.254.169.254');
    } finally {
      server.close();
    }
  });
  it('a name with no address is NameNotResolved, naming the field', async () => {
    const guard = new OutboundGuard({ policy: allowDocs, resolver: new ScriptedResolver([[]]) });
    await assert.rejects(guard.vet('gone.test', 'spec.receivers[0].webhook.url'), (err: unknown) => err instanceof NameNotResolvedError && errorCode(err) === 'NameNotResolved' && /^spec\.receivers\[0\]\.webhook\.url: "gone\.test" does not resolve/.test(err.message));
  });
  it('an answer that is not an address is refused rather than handed to a socket', async () => {
    const guard = new OutboundGuard({ policy: allowDocs, resolver: new ScriptedResolver([['192.0.2.1; rm -rf /']]) });
    await assert.rejects(guard.vet('odd.test', 'spec.url'), ForbiddenAddressError);
  });
  it('literals are judged without a lookup, brackets or not', () => {
    const guard = new OutboundGuard({ policy: outboundPolicy(), resolver: new ScriptedResolver([new Error('no lookup expected')]) });
    assert.throws(() => guard.checkLiteral('[::ffff:169.254.169.254]', 'spec.url'), (err: unknown) => err instanceof ForbiddenAddressError && err.message.startsWith('spec.url: ::ffff:a9fe:a9fe (which carries 169.254.169.254) is a link-local'));
    assert.equal(guard.checkLiteral('8.8.8.8', 'spec.url')?.allowed, true);
    assert.equal(guard.checkLiteral('example.com', 'spec.url'), null);
  });
  it('withPolicy keeps the resolver (one set of DNS servers) under another policy', async () => {
    const resolver = new ScriptedResolver([['127.0.0.1']]);
    const outbound = new OutboundGuard({ policy: outboundPolicy(), resolver });
    await assert.rejects(outbound.vet('local.test', 'f'), ForbiddenAddressError);
    const upstreams = outbound.withPolicy(upstreamPolicy);
    assert.equal(upstreams.resolver, resolver);
    assert.deepEqual((await upstreams.vet('local.test', 'f')).addresses, [{ address: '127.0.0.1', family: 4 }]);
  });
  it('every code has a one-line meaning', () => {
    for (const code of Object.values(NetErrorCodes)) assert.match(reasonEntry(code)?.meaning ?? '', /^[^\n]{20,}$/);
  });
});

describe('NameResolver', () => {
  it('refuses DNS servers that are not addresses', () => {
    assert.throws(() => new NameResolver({ servers: ['dns.example'] }), /not an IP address/);
    assert.throws(() => new NameResolver({ servers: ['127.0.0.1:99999'] }), /port outside/);
    assert.doesNotThrow(() => new NameResolver({ servers: ['127.0.0.1:5353', '[::1]:53', '::1'] }));
  });
});
