import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fastJsonPatch from 'fast-json-patch';
import { addFinalizerPatch, removeFinalizerPatch } from '../../../controller/finalizers.ts';

const F = 'outrigger.dev/cleanup';
const obj = (finalizers?: string[]) => ({ metadata: { name: 'a', namespace: 'n', resourceVersion: '7', ...(finalizers ? { finalizers } : {}) } });

describe('finalizer patches', () => {
  it('adds to an absent list only if the object has not moved on (tests resourceVersion)', () => {
    assert.deepEqual(addFinalizerPatch(obj(), F), [
      { op: 'test', path: '/metadata/resourceVersion', value: '7' },
      { op: 'add', path: '/metadata/finalizers', value: [F] },
    ]);
  });

  it('appends to an existing list without replacing other finalizers', () => {
    const patch = addFinalizerPatch(obj(['other.io/x']), F)!;
    const result = fastJsonPatch.applyPatch(obj(['other.io/x']), patch as any).newDocument;
    assert.deepEqual(result.metadata.finalizers, ['other.io/x', F]);
  });

  it('does nothing when the finalizer is already present', () => {
    assert.equal(addFinalizerPatch(obj([F]), F), null);
    assert.equal(removeFinalizerPatch(obj(['other.io/x']), F), null);
  });

  it('removes only after testing the entry at that index is still ours', () => {
    const patch = removeFinalizerPatch(obj(['other.io/x', F]), F)!;
    assert.deepEqual(patch, [
      { op: 'test', path: '/metadata/finalizers/1', value: F },
      { op: 'remove', path: '/metadata/finalizers/1' },
    ]);
    const result = fastJsonPatch.applyPatch(obj(['other.io/x', F]), patch as any).newDocument;
    assert.deepEqual(result.metadata.finalizers, ['other.io/x']);
  });

  it('fails instead of dropping someone else\'s finalizer when the list changed underneath', () => {
    const patch = removeFinalizerPatch(obj(['other.io/x', F]), F)!;
    // Meanwhile another controller removed its own finalizer, shifting ours to index 0.
    assert.throws(() => fastJsonPatch.applyPatch(obj([F, 'third.io/y']), patch as any), /test/i);
  });
});
