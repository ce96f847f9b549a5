// Batching in the per-host applier, with a fake clock and a fake apply transaction (the real
// transaction runs against real hosts in test/integration/nginx-apply.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../controller/clock.ts';
import { OutriggerError } from '../../controller/errors.ts';
import { NginxHostApplier, type RouteApplyResult } from '../../reconcilers/nginx/applier.ts';
import type { ApplyReport, RouteIntent, RouteReport } from '../../reconcilers/nginx/apply.ts';
import type { NginxRouteInput } from '../../reconcilers/nginx/input.ts';
import type { SshConnection } from '../../reconcilers/ssh/index.ts';

const settings = {
  configDir: '/etc/nginx/outrigger', mainConfigFile: '/etc/nginx/nginx.conf', errorLogFile: '/var/log/nginx/error.log',
  testCommand: ['nginx', '-t'], reloadCommand: ['nginx', '-s', 'reload'], sudo: false, statusPort: 10080, resolvConf: '/etc/resolv.conf',
};

function input(name: string, port = 8080): NginxRouteInput {
  return { namespace: 'ns', name, serverNames: [`${name}.example.com`], routes: [{ path: '/', upstream: { address: '10.0.0.1', port } }] };
}

type Behaviour = (intents: ReadonlyMap<string, RouteIntent>) => Map<string, RouteReport> | Error;

function harness(behaviour: Behaviour = (intents) => new Map([...intents].filter(([, i]) => i.rendered || i.remove).map(([k, i]) => [k, i.remove ? { state: 'Removed', warnings: [] } : { state: 'Applied', liveHash: i.rendered!.hash, warnings: [] }]))) {
  const clock = new FakeClock(1_000_000);
  const calls: Array<ReadonlyMap<string, RouteIntent>> = [];
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const applier = new NginxHostApplier({
    connection: () => ({}) as SshConnection,
    settings,
    quietMs: 100,
    maxDelayMs: 1_000,
    quarantineRetryMs: 60_000,
    clock,
    now: () => new Date(clock.now()),
    applyFn: async (_ctx, intents) => {
      calls.push(new Map(intents));
      if (gate) await gate;
      const routes = behaviour(intents);
      if (routes instanceof Error) throw routes;
      const report: ApplyReport = { generation: `g${calls.length}`, reloaded: true, reloadedAt: new Date(clock.now()), tests: 1, filesWritten: 0, filesRemoved: 0, routes, orphansRemoved: [] };
      return report;
    },
  });
  const settled: Array<[string, RouteApplyResult]> = [];
  applier.onSettled((k, r) => settled.push([k, r]));
  return {
    clock, applier, calls, settled,
    hold() { gate = new Promise((r) => { release = r; }); },
    release() { gate = undefined; release?.(); },
  };
}

/** Lets the async apply run to completion between clock steps. */
async function drain(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

describe('NginxHostApplier batching', () => {
  it('a burst of 30 routes within the quiet period costs one apply', async () => {
    const h = harness();
    for (let i = 0; i < 30; i++) {
      h.applier.ensure(input(`r${i}`));
      h.clock.advance(10);
    }
    assert.equal(h.calls.length, 0, 'nothing before the quiet period');
    h.clock.advance(100);
    await drain();
    assert.equal(h.calls.length, 1);
    assert.equal([...h.calls[0]!.values()].filter((i) => i.rendered).length, 30);
    assert.equal(h.settled.length, 30);
  });

  it('a steady stream is still applied at least every maxDelay (the quiet period never comes)', async () => {
    const h = harness();
    for (let i = 0; i < 60; i++) {
      h.applier.ensure(input(`r${i}`));
      h.clock.advance(50);
      await drain();
    }
    // 3 s of changes every 50 ms: one apply per second, not one per change.
    assert.ok(h.calls.length >= 2 && h.calls.length <= 4, `${h.calls.length} applies`);
  });

  it('changes arriving during an apply are coalesced into exactly one follow-up apply', async () => {
    const h = harness();
    h.applier.ensure(input('first'));
    h.hold();
    h.clock.advance(100);
    await drain();
    assert.equal(h.calls.length, 1);
    for (let i = 0; i < 10; i++) h.applier.ensure(input(`later${i}`));
    h.clock.advance(5_000);
    await drain();
    assert.equal(h.calls.length, 1, 'never two applies at once on one host');
    h.release();
    await drain();
    h.clock.advance(100);
    await drain();
    assert.equal(h.calls.length, 2);
  });

  it('ensure of a version already live queues nothing and reports it settled', async () => {
    const h = harness();
    const p = h.applier.apply(input('a'));
    h.clock.advance(100);
    await drain();
    assert.equal((await p).state, 'Applied');
    const obs = h.applier.ensure(input('a'));
    assert.equal(obs.pending, false);
    assert.equal(obs.result?.state, 'Applied');
    h.clock.advance(10_000);
    await drain();
    assert.equal(h.calls.length, 1);
    // A changed version is pending again.
    assert.equal(h.applier.ensure(input('a', 9090)).pending, true);
  });

  it('a quarantined version is held back (its predecessor keeps serving) until its retry time', async () => {
    const h = harness((intents) => new Map([...intents].filter(([, i]) => i.rendered).map(([k, i]) => [k, k === 'ns_bad'
      ? { state: 'Quarantined', message: '[emerg] nope', warnings: [] }
      : { state: 'Applied', liveHash: i.rendered!.hash, warnings: [] }])));
    const bad = h.applier.apply(input('bad'));
    h.clock.advance(100);
    await drain();
    assert.equal((await bad).state, 'Quarantined');
    h.applier.ensure(input('other'));
    h.clock.advance(100);
    await drain();
    assert.deepEqual(h.calls[1]!.get('ns_bad'), {}, 'held: no new attempt');
    assert.equal(h.applier.ensure(input('bad')).pending, false);
    h.clock.advance(60_000);
    assert.equal(h.applier.ensure(input('bad')).pending, true, 'retried after quarantineRetryMs');
  });

  it('a host failure fails every route with its stable code, and a later ensure tries again', async () => {
    let fail = true;
    const h = harness((intents) => (fail
      ? new OutriggerError('HostKeyMismatch', 'host key mismatch for root@h:22')
      : new Map([...intents].map(([k, i]) => [k, { state: 'Applied', liveHash: i.rendered!.hash, warnings: [] }]))));
    const p = h.applier.apply(input('a'));
    h.clock.advance(100);
    await drain();
    const r = await p;
    assert.equal(r.state, 'Failed');
    assert.equal(r.errorCode, 'HostKeyMismatch');
    assert.equal(h.applier.status().lastError?.code, 'HostKeyMismatch');
    fail = false;
    assert.equal(h.applier.ensure(input('a')).pending, true);
    h.clock.advance(100);
    await drain();
    assert.equal(h.applier.lastResult('ns', 'a')?.state, 'Applied');
    assert.equal(h.applier.status().lastError, undefined);
  });

  it('remove waits for the apply that removed the route and rejects when the host refused', async () => {
    const h = harness();
    const p = h.applier.apply(input('gone'));
    h.clock.advance(100);
    await drain();
    await p;
    const removal = h.applier.remove('ns', 'gone');
    h.clock.advance(100);
    await drain();
    await removal;
    assert.deepEqual(h.calls[1]!.get('ns_gone'), { remove: true });
    assert.equal(h.applier.ensureRemoved('ns', 'gone').removed, true);
  });

  it('calls a live route an orphan only when nobody asked about it and its owner is gone', async () => {
    const clock = new FakeClock(1_000_000);
    const gone = new Set(['ns_stale', 'ns_kept', 'ns_leaving']);
    let seen: ((key: string) => boolean) | undefined;
    const applier = new NginxHostApplier({
      connection: () => ({}) as SshConnection, settings, quietMs: 10, maxDelayMs: 100, clock, now: () => new Date(clock.now()),
      orphaned: (key) => gone.has(key),
      applyFn: async (ctx, intents) => {
        seen = ctx.orphaned;
        return { generation: 'g', reloaded: true, tests: 1, filesWritten: 0, filesRemoved: 0, orphansRemoved: [], routes: new Map([...intents].map(([k]) => [k, { state: 'Applied' as const, warnings: [] }])) };
      },
    });
    applier.ensure(input('kept'));
    applier.ensureRemoved('ns', 'leaving');
    clock.advance(10);
    await drain();
    assert.ok(seen, 'the apply was told how to recognise orphans');
    assert.equal(seen('ns_stale'), true, 'live, unasked for, owner gone');
    assert.equal(seen('ns_kept'), false, 'a route a reconcile asked for is never an orphan');
    assert.equal(seen('ns_leaving'), false, 'a route being removed is removed as asked, not as an orphan');
    assert.equal(seen('ns_other'), false, 'owner still exists');
  });
});
