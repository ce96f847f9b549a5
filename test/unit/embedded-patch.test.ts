// Patches as kube-apiserver applies them: JSON merge patch, JSON patch (RFC 6902) and the
// strategic merge patch kubectl sends for built-in kinds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMergePatch } from '../../embedded/objects/patch/merge-patch.ts';
import { applyJsonPatch, parseJsonPatch } from '../../embedded/objects/patch/json-patch.ts';
import { applyStrategicMergePatch } from '../../embedded/objects/patch/strategic.ts';
import { configMapSchema, namespaceSchema, objectMetaSchema } from '../../embedded/kinds/core-schemas.ts';
import type { JSONSchemaProps } from '../../embedded/kinds/types.ts';

test('merge patch: objects merge, null deletes, lists replace', () => {
  const out = applyMergePatch({ a: { b: 1, c: 2 }, l: [1, 2], keep: true }, { a: { b: null, d: 3 }, l: [3] });
  assert.deepEqual(out, { a: { c: 2, d: 3 }, l: [3], keep: true });
});

test('JSON patch: test-then-remove succeeds, a failed test is 422 and changes nothing', () => {
  const doc = { metadata: { finalizers: ['a', 'b'] } };
  const ops = parseJsonPatch([
    { op: 'test', path: '/metadata/finalizers/0', value: 'a' },
    { op: 'remove', path: '/metadata/finalizers/0' },
  ]);
  assert.deepEqual(applyJsonPatch(doc, ops), { metadata: { finalizers: ['b'] } });
  assert.deepEqual(doc, { metadata: { finalizers: ['a', 'b'] } }, 'the input is not modified');
  assert.throws(() => applyJsonPatch(doc, parseJsonPatch([{ op: 'test', path: '/metadata/finalizers/0', value: 'x' }])), (e: { code: number }) => e.code === 422);
  assert.throws(() => applyJsonPatch(doc, parseJsonPatch([{ op: 'remove', path: '/nope' }])), (e: { code: number }) => e.code === 422);
  assert.throws(() => parseJsonPatch({ op: 'add' }), (e: { code: number }) => e.code === 400, 'a patch must be a list');
  assert.throws(() => parseJsonPatch([{ op: 'frob', path: '/a' }]), (e: { code: number }) => e.code === 400);
});

test('strategic merge: maps merge like a merge patch (kubectl apply on a ConfigMap)', () => {
  const live = { data: { a: '1', b: '2' }, metadata: { annotations: { x: 'y' } } };
  const out = applyStrategicMergePatch(live, { data: { a: null, c: '3' }, metadata: { annotations: { z: 'w' } } }, configMapSchema);
  assert.deepEqual(out, { data: { b: '2', c: '3' }, metadata: { annotations: { x: 'y', z: 'w' } } });
});

test('strategic merge: finalizers merge as a set, patch items first, $deleteFromPrimitiveList removes', () => {
  const live = { metadata: { finalizers: ['x', 'y'] } };
  assert.deepEqual(applyStrategicMergePatch(live, { metadata: { finalizers: ['z', 'x'] } }, configMapSchema).metadata, { finalizers: ['z', 'x', 'y'] });
  assert.deepEqual(applyStrategicMergePatch(live, { metadata: { '$deleteFromPrimitiveList/finalizers': ['x'] } }, configMapSchema).metadata, { finalizers: ['y'] });
});

test('strategic merge: lists with a merge key merge by it; $patch delete and replace', () => {
  const schema: JSONSchemaProps = { type: 'object', properties: { metadata: objectMetaSchema } };
  const live = { metadata: { ownerReferences: [{ uid: '1', name: 'a' }, { uid: '2', name: 'b' }] } };
  const merged = applyStrategicMergePatch(live, { metadata: { ownerReferences: [{ uid: '2', name: 'B' }, { uid: '3', name: 'c' }] } }, schema);
  assert.deepEqual((merged.metadata as Record<string, unknown>).ownerReferences, [
    { uid: '1', name: 'a' },
    { uid: '2', name: 'B' },
    { uid: '3', name: 'c' },
  ]);
  const deleted = applyStrategicMergePatch(live, { metadata: { ownerReferences: [{ uid: '1', $patch: 'delete' }] } }, schema);
  assert.deepEqual((deleted.metadata as Record<string, unknown>).ownerReferences, [{ uid: '2', name: 'b' }]);
  const replaced = applyStrategicMergePatch(live, { metadata: { ownerReferences: [{ $patch: 'replace' }, { uid: '9', name: 'z' }] } }, schema);
  assert.deepEqual((replaced.metadata as Record<string, unknown>).ownerReferences, [{ uid: '9', name: 'z' }]);
});

test('strategic merge: lists without a strategy are replaced (Namespace spec.finalizers)', () => {
  const out = applyStrategicMergePatch({ spec: { finalizers: ['kubernetes', 'x'] } }, { spec: { finalizers: ['y'] } }, namespaceSchema);
  assert.deepEqual(out, { spec: { finalizers: ['y'] } });
});

test('strategic merge: $patch replace on a map, $retainKeys and $setElementOrder', () => {
  assert.deepEqual(applyStrategicMergePatch({ data: { a: '1', b: '2' } }, { data: { $patch: 'replace', c: '3' } }, configMapSchema), { data: { c: '3' } });
  assert.deepEqual(applyStrategicMergePatch({ spec: { a: 1, b: 2 } }, { spec: { $retainKeys: ['a'], a: 5 } }, undefined), { spec: { a: 5 } });
  const ordered = applyStrategicMergePatch({ metadata: { finalizers: ['a', 'b', 'c'] } }, { metadata: { '$setElementOrder/finalizers': ['c', 'a', 'b'] } }, configMapSchema);
  assert.deepEqual(ordered.metadata, { finalizers: ['c', 'a', 'b'] });
  assert.throws(() => applyStrategicMergePatch({}, { $patch: 'frob' }, undefined), (e: { code: number }) => e.code === 400);
});
