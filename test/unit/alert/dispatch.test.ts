// Alertmanager's grouping semantics, table-driven on a fake timeline: group_wait, group_interval,
// repeat_interval, send_resolved, a flap shorter than group_wait, the outbox and its supersession.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { delivered, needsUpdate, plan, type DispatchEntry, type DispatchTiming } from '../../../reconcilers/alert/dispatch.ts';
import { alertLabels, fingerprintOf, type AlertIdentity } from '../../../reconcilers/alert/labels.ts';
import { advance, type AlertRecord } from '../../../reconcilers/alert/series.ts';

const S = 1000;
const M = 60 * S;
const timing: DispatchTiming = { groupWaitMs: 30 * S, groupIntervalMs: 5 * M, repeatIntervalMs: 4 * 60 * M, sendResolved: true };

function identity(target: string, rule = 'down'): AlertIdentity {
  return { namespace: 'ns', alert: 'a', rule, type: 'containerDown', severity: 'Warning', target };
}

/** A little world: records advanced by evaluations, entries planned and "delivered" at once. */
class World {
  records = new Map<string, AlertRecord>();
  entries: DispatchEntry[] = [];
  sent: Array<{ at: number; firing: string[]; resolved: string[] }> = [];
  private readonly t: DispatchTiming;
  private readonly receivers: string[];
  constructor(t: DispatchTiming = timing, receivers = ['mail']) {
    this.t = t;
    this.receivers = receivers;
  }

  set(target: string, active: boolean, now: number, forMs = 0): void {
    const id = identity(target);
    const labels = alertLabels(id);
    const fp = fingerprintOf(labels);
    const next = advance(this.records.get(fp), { fingerprint: fp, identity: id, labels }, { active, message: '' }, now, forMs);
    if (next) this.records.set(fp, next);
    else this.records.delete(fp);
  }

  tick(now: number, deliver = true): void {
    const p = plan({ uid: 'u', records: this.records, entries: this.entries, now, groupByOf: () => [], receiversOf: () => this.receivers, timingOf: () => this.t });
    for (const fp of p.done) this.records.delete(fp);
    this.entries = p.entries.map((e) => {
      if (!e.pending || !deliver) return e;
      this.sent.push({ at: now, firing: e.pending.firing, resolved: e.pending.resolved });
      return delivered(e, now);
    });
  }

  /** Runs the timeline second by second (what a reconciler requeued at each due time does). */
  run(from: number, to: number, each?: (now: number) => void): void {
    for (let now = from; now <= to; now += S) {
      each?.(now);
      this.tick(now);
    }
  }
}

describe('alert dispatch (Alertmanager semantics)', () => {
  it('waits group_wait before the first notification and sends alerts firing together in one', () => {
    const w = new World();
    w.run(0, 40 * S, (now) => {
      if (now === 0) w.set('Workspace/a', true, now);
      if (now === 10 * S) w.set('Workspace/b', true, now);
    });
    assert.equal(w.sent.length, 1, 'one notification for both');
    assert.equal(w.sent[0]!.at, 30 * S, 'at group_wait after the first alert');
    assert.equal(w.sent[0]!.firing.length, 2);
  });

  it('sends nothing for a flap shorter than group_wait, and drops the resolved alert', () => {
    const w = new World();
    w.run(0, 10 * M, (now) => {
      if (now === 0) w.set('Workspace/a', true, now);
      if (now === 20 * S) w.set('Workspace/a', false, now);
    });
    assert.equal(w.sent.length, 0);
    assert.equal(w.records.size, 0, 'the resolved alert is forgotten after the flush');
    assert.equal(w.entries.length, 0, 'the group is gone, so the next alert waits group_wait again');
  });

  it('tells a new alert of a notified group at the next group_interval, not before', () => {
    const w = new World();
    w.run(0, 6 * M, (now) => {
      if (now === 0) w.set('Workspace/a', true, now);
      if (now === 60 * S) w.set('Workspace/b', true, now);
    });
    assert.deepEqual(w.sent.map((s) => s.at), [30 * S, 30 * S + 5 * M]);
    assert.equal(w.sent[1]!.firing.length, 2);
  });

  it('repeats after repeat_interval while nothing changes, only at flushes', () => {
    const w = new World({ ...timing, repeatIntervalMs: 20 * M });
    w.run(0, 61 * M, (now) => { if (now === 0) w.set('Workspace/a', true, now); });
    // First at 30 s; flushes every 5 min after; a repeat at the first flush >= 20 min after the last.
    assert.deepEqual(w.sent.map((s) => s.at / S), [30, 30 + 20 * 60, 30 + 40 * 60, 30 + 60 * 60]);
  });

  it('sends the resolve at the next flush with send_resolved, and forgets the group after', () => {
    const w = new World();
    w.run(0, 12 * M, (now) => {
      if (now === 0) w.set('Workspace/a', true, now);
      if (now === 2 * M) w.set('Workspace/a', false, now);
    });
    assert.equal(w.sent.length, 2);
    assert.deepEqual(w.sent[1], { at: 30 * S + 5 * M, firing: [], resolved: [w.sent[0]!.firing[0]!] });
    assert.equal(w.records.size, 0);
    assert.equal(w.entries.length, 0);
  });

  it('without send_resolved: a partial resolve sends nothing, all resolved clears the log silently', () => {
    const w = new World({ ...timing, sendResolved: false });
    w.run(0, 16 * M, (now) => {
      if (now === 0) { w.set('Workspace/a', true, now); w.set('Workspace/b', true, now); }
      if (now === 2 * M) w.set('Workspace/a', false, now);
      if (now === 7 * M) w.set('Workspace/b', false, now);
    });
    // 30 s: both firing. 5m30: a resolved, b still firing and told: nothing. 10m30: all resolved:
    // the log is cleared (an empty notification the reconciler does not send).
    assert.deepEqual(w.sent.map((s) => [s.at / S, s.firing.length, s.resolved.length]), [[30, 2, 0], [630, 0, 0]]);
  });

  it('keeps an undelivered notification in the outbox with its key until it goes through', () => {
    const w = new World();
    w.set('Workspace/a', true, 0);
    for (let now = 0; now <= 3 * M; now += S) w.tick(now, false);
    const pending = w.entries[0]!.pending!;
    assert.ok(pending, 'decided at 30 s');
    assert.equal(pending.since, 30 * S);
    const key = pending.key;
    w.tick(3 * M + S, false);
    assert.equal(w.entries[0]!.pending!.key, key, 'the same key on every attempt');
    w.tick(3 * M + 2 * S, true);
    assert.equal(w.sent.length, 1);
  });

  it('replaces an undelivered notification at a flush when the group tells something else', () => {
    const w = new World();
    w.set('Workspace/a', true, 0);
    for (let now = 0; now <= 31 * S; now += S) w.tick(now, false);
    const first = w.entries[0]!.pending!.key;
    w.set('Workspace/b', true, 60 * S);
    for (let now = 32 * S; now <= 30 * S + 5 * M; now += S) w.tick(now, false);
    const second = w.entries[0]!.pending!;
    assert.notEqual(second.key, first);
    assert.equal(second.firing.length, 2);
  });

  it('a pending alert (for not yet passed) is not part of any group', () => {
    const w = new World();
    w.run(0, 3 * M, (now) => { w.set('Workspace/a', true, now, 2 * M); });
    assert.equal(w.sent.length, 1);
    assert.equal(w.sent[0]!.at, 2 * M + 30 * S, 'fires at 2m, then group_wait');
  });

  it('a storm of 1,000 alerts is one notification per group per group_interval', () => {
    const w = new World();
    w.run(0, 20 * M, (now) => {
      // 1,000 targets flapping in and out every few seconds.
      for (let i = 0; i < 1000; i++) w.set(`Workspace/w${i}`, (Math.floor(now / S) + i) % 7 !== 0, now);
    });
    const gaps = w.sent.slice(1).map((s, i) => s.at - w.sent[i]!.at);
    assert.ok(w.sent.length >= 2);
    assert.ok(gaps.every((g) => g >= 5 * M), `at most one per group_interval: ${gaps}`);
  });

  it('needsUpdate: the four cases', () => {
    const base: DispatchEntry = { receiver: 'r', group: '{}', sentAt: 0, firing: ['a', 'b'], resolved: [] };
    assert.equal(needsUpdate({ ...base, sentAt: undefined }, [], ['x'], timing, 1), false, 'never notified, only resolved: nothing');
    assert.equal(needsUpdate(base, ['a', 'c'], [], timing, 1), true, 'a new firing alert');
    assert.equal(needsUpdate(base, ['a'], ['b'], { ...timing, sendResolved: false }, 1), false, 'a resolve without send_resolved');
    assert.equal(needsUpdate(base, ['a'], ['b'], timing, 1), true, 'a resolve with send_resolved');
    assert.equal(needsUpdate(base, [], ['a', 'b'], { ...timing, sendResolved: false }, 1), true, 'all resolved: always');
    assert.equal(needsUpdate(base, ['a', 'b'], [], timing, timing.repeatIntervalMs), true, 'repeat interval passed');
  });
});
