// Finding the routes that break `nginx -t`, with a fake tester standing in for nginx.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isolateFailures, type TestOutcome } from '../../reconcilers/nginx/isolate.ts';
import { nginxMessage, routesNamed, severeLogLines, warningsFor } from '../../reconcilers/nginx/messages.ts';

const DIR = '/etc/nginx/outrigger';

/** A fake nginx: fails when any bad key is present (naming it if `names`), or when a forbidden pair is. */
function fakeNginx(bad: string[], opts: { names?: boolean; pair?: [string, string]; brokenBase?: boolean } = {}) {
  const calls: string[][] = [];
  return {
    calls,
    test: async (set: string[]): Promise<TestOutcome> => {
      calls.push(set);
      if (opts.brokenBase) return { ok: false, message: 'nginx: [emerg] unknown directive "oops" in /etc/nginx/nginx.conf:3' };
      const hit = set.find((k) => bad.includes(k));
      if (hit) return { ok: false, message: opts.names ? `nginx: [emerg] unknown directive "x" in ${DIR}/routes/${hit}/server.1.conf:4` : 'nginx: [emerg] something failed' };
      if (opts.pair && set.includes(opts.pair[0]) && set.includes(opts.pair[1])) return { ok: false, message: 'nginx: [emerg] duplicate zone' };
      return { ok: true, message: '' };
    },
  };
}

const keys = Array.from({ length: 50 }, (_, i) => `ns_r${String(i).padStart(2, '0')}`);

async function isolate(fake: ReturnType<typeof fakeNginx>, candidates = keys) {
  const first = await fake.test(candidates);
  return isolateFailures(candidates, first, { key: (k) => k, test: fake.test, named: (m) => routesNamed(m, DIR), maxTests: 200 });
}

describe('isolateFailures', () => {
  it('follows nginx pointing at the failing file: one extra test per bad route', async () => {
    const fake = fakeNginx(['ns_r07', 'ns_r31'], { names: true });
    const r = await isolate(fake);
    assert.deepEqual([...r.bad.keys()].sort(), ['ns_r07', 'ns_r31']);
    assert.equal(r.good.length, 48);
    assert.equal(r.tests, 2);
    assert.match(r.bad.get('ns_r07')!, /unknown directive/);
  });

  it('bisects when nginx names nothing: finds one bad route among 50 in O(log n) tests', async () => {
    const fake = fakeNginx(['ns_r23']);
    const r = await isolate(fake);
    assert.deepEqual([...r.bad.keys()], ['ns_r23']);
    assert.deepEqual(r.good, keys.filter((k) => k !== 'ns_r23'));
    assert.ok(r.tests <= 14, `${r.tests} tests`);
  });

  it('catches routes that only fail together: the later one of a conflicting pair is quarantined', async () => {
    const fake = fakeNginx([], { pair: ['ns_r02', 'ns_r40'] });
    const r = await isolate(fake);
    assert.deepEqual([...r.bad.keys()], ['ns_r40']);
    assert.equal(r.good.length, 49);
    // The good set really passes together.
    assert.equal((await fake.test(r.good)).ok, true);
  });

  it('reports a broken base (the host config fails without any route) instead of blaming routes', async () => {
    const fake = fakeNginx([], { brokenBase: true });
    const r = await isolate(fake);
    assert.match(r.baseFailure ?? '', /unknown directive "oops"/);
    assert.equal(r.bad.size, 0);
    assert.deepEqual(r.good, []);
  });

  it('stops at the test budget and marks the rest as not applied (bounded work)', async () => {
    const fake = fakeNginx(keys.filter((_, i) => i % 2 === 0));
    const first = await fake.test(keys);
    const r = await isolateFailures(keys, first, { key: (k) => k, test: fake.test, named: () => [], maxTests: 10 });
    assert.ok(r.tests <= 10);
    assert.ok([...r.bad.values()].some((m) => /too many failing routes/.test(m)));
  });
});

describe('nginx messages', () => {
  it('maps a failing file back to its route key, only from error lines', () => {
    const out = [
      `nginx: [warn] conflicting server name "a.test" on 0.0.0.0:80, ignored`,
      `nginx: [emerg] SSL_CTX_use_PrivateKey("${DIR}/routes/team-a_app/tls.0123.key") failed (SSL: error:05800074:x509 certificate routines::key values mismatch)`,
      'nginx: configuration file /etc/nginx/nginx.conf test failed',
    ].join('\n');
    assert.deepEqual(routesNamed(out, DIR), ['team-a_app']);
    assert.match(nginxMessage(out), /^\[warn\] conflicting[\s\S]*key values mismatch/);
  });
  it('attaches warnings to the routes whose server names they mention', () => {
    const out = 'nginx: [warn] conflicting server name "a.test" on 0.0.0.0:80, ignored';
    assert.equal(warningsFor(out, ['a.test']).length, 1);
    assert.equal(warningsFor(out, ['b.test']).length, 0);
  });
  it('finds emerg, alert and crit lines in the error log, ignoring notices and errors of requests', () => {
    const log = [
      '2030/01/01 [notice] 1#1: reconfiguring',
      '2030/01/01 [error] 7#7: *1 connect() failed (111: Connection refused) while connecting to upstream',
      '2030/01/01 [emerg] 1#1: bind() to 0.0.0.0:8081 failed (98: Address already in use)',
    ].join('\n');
    assert.deepEqual(severeLogLines(log), ['2030/01/01 [emerg] 1#1: bind() to 0.0.0.0:8081 failed (98: Address already in use)']);
  });
});
