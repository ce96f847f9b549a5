// Idle auto-stop decisions: when to probe, when a workspace is idle, what a probe changes, how a
// restart resumes, and when an idle-stopped workspace counts as woken.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MIN_PROBE_GAP_MS,
  WAKE_ANNOTATION,
  activeAgo,
  afterProbe,
  idleStoppedAt,
  isIdle,
  nextIdleCheckMs,
  probeDue,
  probeEveryMs,
  rememberRunning,
  shownGranularityMs,
  wakeAnnotationChanged,
} from '../../reconcilers/workspace/idle.ts';

const MIN = 60_000;
const T0 = Date.parse('2030-01-01T10:00:00Z');

describe('probing and idleness', () => {
  const timeout = 20 * MIN;

  it('probes every quarter of the idleTimeout (5 s to 10 min) and at the deadline', () => {
    assert.equal(probeEveryMs(timeout), 5 * MIN);
    assert.equal(probeEveryMs(4_000), MIN_PROBE_GAP_MS, 'never more often than the gap');
    assert.equal(probeEveryMs(24 * 60 * MIN), 10 * MIN, 'at least every 10 minutes');
    const fresh = rememberRunning(undefined, 'c1', T0);
    assert.equal(probeDue(fresh, timeout, T0), true, 'a first probe right away (no probe yet)');
    const probed = afterProbe(fresh, undefined, T0, timeout);
    assert.equal(probeDue(probed, timeout, T0 + 4 * MIN), false, 'not before the period');
    assert.equal(probeDue(probed, timeout, T0 + 5 * MIN), true, 'at the period');
  });

  it('is idle only when a probe after the deadline saw nobody', () => {
    let m = afterProbe(rememberRunning(undefined, 'c1', T0), undefined, T0, timeout);
    assert.equal(isIdle(m, timeout, T0 + 20 * MIN), false, 'deadline reached, but no probe since');
    m = afterProbe(m, undefined, T0 + 20 * MIN, timeout);
    assert.equal(isIdle(m, timeout, T0 + 20 * MIN), true);
  });

  it('a probe that sees activity moves the deadline (measured on the container clock)', () => {
    const m0 = afterProbe(rememberRunning(undefined, 'c1', T0), undefined, T0, timeout);
    // At T0+20m the container says someone typed 30 s ago.
    const m1 = afterProbe(m0, activeAgo({ now: 5000 }, 4970), T0 + 20 * MIN, timeout);
    assert.equal(m1.lastActivityMs, T0 + 20 * MIN - 30_000);
    assert.equal(isIdle(m1, timeout, T0 + 20 * MIN), false);
    assert.equal(activeAgo({ now: 5000 }, 0), undefined, 'epoch 0 means no sign of anyone');
  });

  it('shows lastActivity in coarse steps, so activity does not write status on every probe', () => {
    const g = shownGranularityMs(timeout);
    assert.equal(g, 10 * MIN);
    const m0 = rememberRunning(undefined, 'c1', T0);
    const small = afterProbe(m0, 0, T0 + g - 1000, timeout);
    assert.equal(small.shownMs, T0, 'a small advance is not shown');
    const big = afterProbe(m0, 0, T0 + g, timeout);
    assert.equal(big.shownMs, T0 + g);
  });

  it('a new or restarted container starts a fresh memory; the same one keeps it', () => {
    const m = afterProbe(rememberRunning(undefined, 'c1', T0), undefined, T0, timeout);
    assert.equal(rememberRunning(m, 'c1', T0 + MIN), m);
    assert.deepEqual(rememberRunning(m, 'c2', T0 + MIN), { containerId: 'c2', lastActivityMs: T0 + MIN, lastProbeMs: 0, shownMs: T0 + MIN });
  });

  it('after a controller restart resumes from status.lastActivity but gives at least half the timeout', () => {
    const long = rememberRunning(undefined, 'c1', T0, { lastActivityMs: T0 - 60 * MIN, idleTimeoutMs: timeout });
    assert.equal(long.lastActivityMs, T0 - 10 * MIN, 'half the timeout left');
    assert.equal(long.shownMs, T0 - 60 * MIN, 'status keeps what it showed');
    const recent = rememberRunning(undefined, 'c1', T0, { lastActivityMs: T0 - MIN, idleTimeoutMs: timeout });
    assert.equal(recent.lastActivityMs, T0 - MIN);
  });

  it('looks again at the next probe or the deadline, whichever is first', () => {
    const m = afterProbe(rememberRunning(undefined, 'c1', T0), undefined, T0, timeout);
    assert.equal(nextIdleCheckMs(m, timeout, T0), 5 * MIN);
    const short = afterProbe(rememberRunning(undefined, 'c1', T0), undefined, T0, 12_000);
    assert.equal(nextIdleCheckMs(short, 12_000, T0), MIN_PROBE_GAP_MS);
  });
});

describe('idle stop and wake', () => {
  const stoppedAt = '2030-01-01T10:00:00Z';
  const base = (annotations: Record<string, string> = {}, generation = 3, idle: Record<string, unknown> = {}) => ({
    metadata: { generation, annotations },
    status: { conditions: [{ type: 'Idle', status: 'True', reason: 'IdleTimeout', lastTransitionTime: stoppedAt, observedGeneration: 3, ...idle }] },
  });

  const cases: Array<{ why: string; ws: ReturnType<typeof base>; stopped: boolean }> = [
    { why: 'Idle=True holds the workspace stopped', ws: base(), stopped: true },
    { why: 'a spec edit after the stop wakes it', ws: base({}, 4), stopped: false },
    { why: 'a wake annotation at the stop time wakes it', ws: base({ [WAKE_ANNOTATION]: stoppedAt }), stopped: false },
    { why: 'a later wake annotation wakes it', ws: base({ [WAKE_ANNOTATION]: '2030-01-01T11:30:00.123Z' }), stopped: false },
    { why: 'a wake annotation from before the stop does not', ws: base({ [WAKE_ANNOTATION]: '2030-01-01T09:59:59Z' }), stopped: true },
    { why: 'a wake annotation that is not a time does not', ws: base({ [WAKE_ANNOTATION]: 'please' }), stopped: true },
    { why: 'Idle=False is not stopped', ws: base({}, 3, { status: 'False' }), stopped: false },
  ];
  for (const c of cases) {
    it(c.why, () => {
      const at = idleStoppedAt(c.ws);
      assert.equal(at !== undefined, c.stopped);
      if (at) assert.equal(at.toISOString(), '2030-01-01T10:00:00.000Z');
    });
  }

  it('a changed wake annotation enqueues the workspace; other metadata does not', () => {
    const a = { metadata: { annotations: { x: '1' } } };
    assert.equal(wakeAnnotationChanged(a, { metadata: { annotations: { x: '2' } } }), false);
    assert.equal(wakeAnnotationChanged(a, { metadata: { annotations: { x: '1', [WAKE_ANNOTATION]: 'now' } } }), true);
  });
});
