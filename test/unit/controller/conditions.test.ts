import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setCondition, setConditions, readyConditions, errorConditions, getCondition } from '../../../controller/conditions.ts';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T01:00:00Z');

describe('conditions', () => {
  it('sets lastTransitionTime when a condition first appears', () => {
    const list = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Creating', message: 'm' }, 1, t0);
    assert.deepEqual(list, [{ type: 'Ready', status: 'False', reason: 'Creating', message: 'm', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 }]);
  });

  it('keeps lastTransitionTime when only reason, message or generation change', () => {
    const a = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Creating', message: 'm' }, 1, t0);
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'Starting', message: 'other' }, 2, t1);
    assert.equal(b[0]!.lastTransitionTime, '2026-01-01T00:00:00Z');
    assert.equal(b[0]!.reason, 'Starting');
    assert.equal(b[0]!.observedGeneration, 2);
  });

  it('moves lastTransitionTime when the status flips', () => {
    const a = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Creating', message: 'm' }, 1, t0);
    const b = setCondition(a, { type: 'Ready', status: 'True', reason: 'Available', message: 'ok' }, 1, t1);
    assert.equal(b[0]!.lastTransitionTime, '2026-01-01T01:00:00Z');
  });

  it('is idempotent: setting the same conditions twice yields an equal list (no status write)', () => {
    const a = setConditions(undefined, readyConditions(), 3, t0);
    const b = setConditions(a, readyConditions(), 3, t1);
    assert.deepEqual(b, a);
  });

  it('keeps existing order and appends new types', () => {
    const a = setConditions(undefined, errorConditions('Unreachable', 'x'), 1, t0);
    const b = setCondition(a, { type: 'BootstrapSucceeded', status: 'True', reason: 'Done', message: '' }, 1, t0);
    assert.deepEqual(b.map((c) => c.type), ['Ready', 'Synced', 'Reconciling', 'Stalled', 'BootstrapSucceeded']);
  });

  it('folds multi-line messages into one line and caps their length', () => {
    const list = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'R', message: `line one\n  line two${'x'.repeat(5000)}` }, 1, t0);
    const message = getCondition(list, 'Ready')!.message;
    assert.ok(message.startsWith('line one line two'));
    assert.equal(message.length, 1024);
  });
});
