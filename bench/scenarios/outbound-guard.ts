// What the outbound guard costs a client: 500 HTTP requests, each on a new connection, to a name a
// real DNS server (dnsmasq on a loopback address) resolves, through node's http with the guard's
// agent. Baseline, side by side in the same run: the same requests with a plain lookup that asks the
// same DNS server the same questions (A and AAAA) and checks nothing. Rounds alternate which side
// goes first and let the machine go quiet first; the ratio is the median of the rounds' ratios.
// Knob: GUARD_BENCH_ROUNDS (default 5).
import http from 'node:http';
import { promises as dns, type LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import type { BenchScenario } from '../run.ts';
import { median, pooled, settle } from '../measure.ts';
import { NameResolver, OutboundGuard, outboundPolicy, type LookupFunction } from '../../reconcilers/net/index.ts';
import { dnsUnavailableReason, startTestDns } from '../../test/fixtures/dns.ts';

const REQUESTS = 500;
const CONCURRENCY = 8;
const ROUNDS = Number(process.env.GUARD_BENCH_ROUNDS ?? 5);
const NAME = 'bench.guard.test';

/** The baseline: one A and one AAAA query to the same server, no judgement. */
function plainLookup(server: string): LookupFunction {
  const resolver = new dns.Resolver({ timeout: 2_000, tries: 2 });
  resolver.setServers([server]);
  return (hostname, options, callback) => {
    const settle4 = resolver.resolve4(hostname).catch(() => [] as string[]);
    const settle6 = resolver.resolve6(hostname).catch(() => [] as string[]);
    Promise.all([settle4, settle6]).then(([v4, v6]) => {
      const all: LookupAddress[] = [...v4.map((address) => ({ address, family: 4 })), ...v6.map((address) => ({ address, family: 6 }))];
      if (options.all) callback(null, all);
      else callback(null, all[0]!.address, all[0]!.family);
    }, (err: NodeJS.ErrnoException) => callback(err, '', 0));
  };
}

async function timed(port: number, agent: http.Agent): Promise<number> {
  const started = performance.now();
  await pooled(Array.from({ length: REQUESTS }, (_, i) => i), CONCURRENCY, () => new Promise<void>((resolve, reject) => {
    http.get({ host: NAME, port, path: '/', agent }, (res) => { res.resume(); res.on('end', () => resolve()); }).on('error', reject);
  }));
  return performance.now() - started;
}

const scenario: BenchScenario = {
  description: `${REQUESTS} HTTP requests on new connections to a name resolved by dnsmasq: guarded agent vs plain lookup (${ROUNDS} rounds)`,
  async run(): Promise<Record<string, number | string>> {
    const unavailable = dnsUnavailableReason();
    if (unavailable) return { skipped: unavailable };
    const server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const dnsServer = await startTestDns({ records: { [NAME]: ['127.0.0.1'] } });
    const guard = new OutboundGuard({ policy: outboundPolicy(['127.0.0.0/8']), resolver: new NameResolver({ servers: [dnsServer.server] }) });
    // keepAlive off: every request is a new connection, so every request pays for a lookup.
    const guarded = guard.httpAgent('bench', { keepAlive: false });
    const lookup = plainLookup(dnsServer.server);
    const plain = new (class extends http.Agent {
      override createConnection(opts: http.ClientRequestArgs, cb?: never) {
        return super.createConnection({ ...opts, lookup } as never, cb);
      }
    })({ keepAlive: false });
    try {
      await timed(port, guarded); // warm-up, both
      await timed(port, plain);
      const ratios: number[] = [];
      const guardedMs: number[] = [];
      const plainMs: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        await settle();
        const first = round % 2 === 0;
        const a = first ? await timed(port, guarded) : 0;
        const b = await timed(port, plain);
        const g = first ? a : await timed(port, guarded);
        guardedMs.push(g);
        plainMs.push(b);
        ratios.push(g / b);
      }
      return {
        'guarded, median ms': Number(median(guardedMs).toFixed(1)),
        'plain lookup, median ms': Number(median(plainMs).toFixed(1)),
        'ratio guarded / plain, median of rounds': Number(median(ratios).toFixed(2)),
      };
    } finally {
      guarded.destroy();
      plain.destroy();
      server.close();
      await dnsServer.stop();
    }
  },
};

export default scenario;
