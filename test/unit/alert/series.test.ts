import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { advance, retire, type AlertRecord } from '../../../reconcilers/alert/series.ts';
import { alertLabels, fingerprintOf } from '../../../reconcilers/alert/labels.ts';
import { inhibitedFingerprints } from '../../../reconcilers/alert/inhibit.ts';
import { isSilenced, silencesOf } from '../../../reconcilers/alert/silences.ts';

const id = { namespace: 'ns', alert: 'a', rule: 'r', type: 'httpProbe' as const, severity: 'Warning', target: 'https://x.example/' };
const labels = alertLabels(id);
const base = { fingerprint: fingerprintOf(labels), identity: id, labels };

describe('alert state per rule and target', () => {
  it('Ok -> Pending -> Firing after for -> Resolved', () => {
    let r = advance(undefined, base, { active: true, message: 'down' }, 0, 60_000);
    assert.equal(r?.state, 'Pending');
    r = advance(r, base, { active: true, message: 'down' }, 59_999, 60_000);
    assert.equal(r?.state, 'Pending', 'not before for');
    r = advance(r, base, { active: true, message: 'down' }, 60_000, 60_000);
    assert.equal(r?.state, 'Firing');
    assert.equal(r?.firingAt, 60_000);
    r = advance(r, base, { active: false, message: 'up' }, 70_000, 60_000);
    assert.equal(r?.state, 'Resolved');
    assert.equal(r?.resolvedAt, 70_000);
  });

  it('a pending alert that stops holding is gone without a trace', () => {
    const r = advance(undefined, base, { active: true, message: '' }, 0, 60_000);
    assert.equal(advance(r, base, { active: false, message: '' }, 10_000, 60_000), undefined);
  });

  it('an unknown evaluation holds the state (no fire, no resolve)', () => {
    const firing = advance(undefined, base, { active: true, message: '' }, 0, 0)!;
    assert.equal(advance(firing, base, { active: undefined, message: 'engine unreachable' }, 5_000, 0)?.state, 'Firing');
    assert.equal(advance(undefined, base, { active: undefined, message: '' }, 5_000, 0), undefined);
  });

  it('a resolved alert that holds again starts over (Pending, new activeAt)', () => {
    const resolved: AlertRecord = { ...base, state: 'Resolved', activeAt: 0, firingAt: 0, resolvedAt: 10 };
    const again = advance(resolved, base, { active: true, message: '' }, 20, 60_000)!;
    assert.deepEqual([again.state, again.activeAt, again.firingAt, again.resolvedAt], ['Pending', 20, undefined, undefined]);
  });

  it('a retired firing alert resolves (its resolve is still sent), a pending one goes', () => {
    assert.equal(retire({ ...base, state: 'Firing', activeAt: 0 }, 5)?.state, 'Resolved');
    assert.equal(retire({ ...base, state: 'Pending', activeAt: 0 }, 5), undefined);
  });

  it('the fingerprint depends on the labels only', () => {
    assert.equal(fingerprintOf(alertLabels(id)), fingerprintOf(alertLabels({ ...id })));
    assert.notEqual(fingerprintOf(alertLabels(id)), fingerprintOf(alertLabels({ ...id, target: 'https://y.example/' })));
    assert.match(fingerprintOf(labels), /^[0-9a-f]{16}$/);
  });
});

describe('inhibition', () => {
  const rec = (type: 'containerDown' | 'errorRate' | 'httpProbe', target: string, state: 'Firing' | 'Pending' = 'Firing'): AlertRecord => {
    const i = { ...id, type, rule: type, target };
    const l = alertLabels(i);
    return { fingerprint: fingerprintOf(l), identity: i, labels: l, state, activeAt: 0 };
  };
  const routes = [{ name: 'bob', serverNames: ['bob.example.com'], workspaces: ['bob'] }, { name: 'other', serverNames: ['o.example.com'], workspaces: ['carol'] }];

  it('a down Workspace inhibits the 5xx and probe alerts of the routes sending to it, nothing else', () => {
    const down = rec('containerDown', 'Workspace/bob');
    const errors = rec('errorRate', 'ProxyRoute/bob');
    const probe = rec('httpProbe', 'https://bob.example.com/healthz');
    const unrelated = rec('errorRate', 'ProxyRoute/other');
    const out = inhibitedFingerprints([down, errors, probe, unrelated], routes);
    assert.deepEqual([...out].sort(), [errors.fingerprint, probe.fingerprint].sort());
  });

  it('a pending containerDown inhibits nothing', () => {
    assert.equal(inhibitedFingerprints([rec('containerDown', 'Workspace/bob', 'Pending'), rec('errorRate', 'ProxyRoute/bob')], routes).size, 0);
  });
});

describe('silences from annotations', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  it('reads the Alert-wide and per-rule annotations with their comments and expiry', () => {
    const s = silencesOf({ 'outrigger.dev/silence-until': '2030-01-02T00:00:00Z maintenance window', 'silence.outrigger.dev/bob-errors': '2029-12-31T00:00:00Z', other: 'x' }, now);
    assert.deepEqual(s.map((x) => [x.rule, x.active, x.comment]), [[undefined, true, 'maintenance window'], ['bob-errors', false, undefined]]);
    assert.equal(isSilenced(s, 'anything'), true);
  });
  it('a rule silence covers that rule only; an expired one nothing; a bad value is reported', () => {
    const s = silencesOf({ 'silence.outrigger.dev/a': '2030-01-02T00:00:00Z', 'silence.outrigger.dev/b': 'tomorrow' }, now);
    assert.equal(isSilenced(s, 'a'), true);
    assert.equal(isSilenced(s, 'b'), false);
    assert.equal(s.find((x) => x.rule === 'b')?.invalid, 'silence.outrigger.dev/b');
  });
});
