// Server-side apply building blocks: field sets, their FieldsV1 encoding, ownership on update and
// apply, conflicts and the message kube-apiserver prints for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FieldSet, pathString } from '../../embedded/objects/apply/fieldset.ts';
import { compare, merge, toFieldSet } from '../../embedded/objects/apply/typed.ts';
import { applyConflict, decodeManagedFields, encodeManagedFields, recordApply, recordUpdate, type ManagerEntry } from '../../embedded/objects/apply/managed.ts';
import { objectMetaSchema } from '../../embedded/kinds/core-schemas.ts';
import type { JSONSchemaProps } from '../../embedded/kinds/types.ts';

const schema: JSONSchemaProps = {
  type: 'object',
  properties: {
    metadata: objectMetaSchema,
    spec: {
      type: 'object',
      properties: {
        size: { type: 'string' },
        replicas: { type: 'integer' },
        tags: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
        args: { type: 'array', items: { type: 'string' } },
        ports: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', properties: { name: { type: 'string' }, port: { type: 'integer' } } },
        },
        settings: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    status: { type: 'object', properties: { phase: { type: 'string' } } },
  },
};

const everything = () => ({ spec: { size: 's' } });
const now = new Date('2024-05-01T10:00:00Z');

test('FieldsV1 encoding: members and children, "." for a node that is both, fields before keys', () => {
  const s = FieldSet.of(['f:spec', 'f:ports', 'k:{"name":"http"}'], ['f:spec', 'f:ports', 'k:{"name":"http"}', 'f:port'], ['f:spec', 'f:size']);
  assert.deepEqual(s.toFieldsV1(), { 'f:spec': { 'f:ports': { 'k:{"name":"http"}': { 'f:port': {}, '.': {} } }, 'f:size': {} } });
  const back = FieldSet.fromFieldsV1(s.toFieldsV1());
  assert.ok(back.equals(s), 'decoding what was encoded gives the same set');
});

test('a value sets its leaves; list items of sets and maps are members, atomic lists are leaves', () => {
  const set = toFieldSet({ spec: { size: 's', tags: ['a'], args: ['x', 'y'], ports: [{ name: 'http', port: 80 }], settings: { k: 'v' } } }, schema);
  assert.deepEqual(set.toFieldsV1(), {
    'f:spec': {
      'f:args': {},
      'f:ports': { 'k:{"name":"http"}': { '.': {}, 'f:name': {}, 'f:port': {} } },
      'f:settings': { 'f:k': {} },
      'f:size': {},
      'f:tags': { 'v:"a"': {} },
    },
  });
});

test('paths print as kube-apiserver prints them in conflicts', () => {
  assert.equal(pathString(['f:spec', 'f:ports', 'k:{"name":"http"}', 'f:port']), '.spec.ports[name="http"].port');
  assert.equal(pathString(['f:metadata', 'f:finalizers', 'v:"a/b"']), '.metadata.finalizers[="a/b"]');
  assert.equal(pathString(['f:spec', 'f:args', 'i:2']), '.spec.args[2]');
});

test('compare reports added parents as well as leaves (the "." entries of Update managers)', () => {
  const c = compare({}, { spec: { size: 's' }, metadata: { labels: { a: 'b' } } }, schema);
  assert.ok(c.added.has(['f:spec']));
  assert.ok(c.added.has(['f:spec', 'f:size']));
  assert.ok(c.added.has(['f:metadata', 'f:labels']));
  assert.ok(c.modified.isEmpty());
});

test('merge of a map list keeps live-only items and takes the applied ones', () => {
  const live = { spec: { ports: [{ name: 'a', port: 1 }, { name: 'b', port: 2 }], args: ['x'] } };
  const applied = { spec: { ports: [{ name: 'b', port: 3 }, { name: 'c', port: 4 }], args: ['y'] } };
  assert.deepEqual(merge(live, applied, schema), {
    spec: { ports: [{ name: 'a', port: 1 }, { name: 'b', port: 3 }, { name: 'c', port: 4 }], args: ['y'] },
  });
});

test('an update moves the fields it changes to its manager and drops what it removed', () => {
  const created = recordUpdate({ live: {}, next: { apiVersion: 'v', kind: 'K', metadata: { name: 'n', labels: { a: 'b' } }, spec: { size: 's' } }, schema, managers: [], actor: { manager: 'creator', apiVersion: 'v' }, scope: () => true, now });
  const entry = encodeManagedFields(created)[0]!;
  assert.deepEqual(entry.fieldsV1, { 'f:metadata': { 'f:labels': { '.': {}, 'f:a': {} } }, 'f:spec': { '.': {}, 'f:size': {} } }, 'identity fields are nobody’s');
  assert.equal(entry.time, '2024-05-01T10:00:00Z');
  const updated = recordUpdate({
    live: { spec: { size: 's' } },
    next: { spec: { size: 'm' } },
    schema,
    managers: created,
    actor: { manager: 'editor', apiVersion: 'v' },
    scope: () => true,
    now,
  });
  const byName = Object.fromEntries(updated.map((m) => [m.manager, m.set.toFieldsV1()]));
  assert.deepEqual(byName.editor, { 'f:spec': { 'f:size': {} } });
  assert.deepEqual(byName.creator, { 'f:metadata': { 'f:labels': { '.': {}, 'f:a': {} } }, 'f:spec': {} }, 'creator still owns the spec object itself');
});

test('apply conflicts only where another manager owns a field whose value would change', () => {
  const alice = recordApply({ live: {}, config: { spec: { size: 's', replicas: 1 } }, schema, managers: [], actor: { manager: 'alice', apiVersion: 'v' }, scope: () => true, force: false, now });
  const live = alice.object;
  const shared = recordApply({ live, config: { spec: { size: 's' } }, schema, managers: alice.managers, actor: { manager: 'bob', apiVersion: 'v' }, scope: () => true, force: false, now });
  assert.equal(shared.managers.length, 2, 'same value: both own it');
  assert.throws(
    () => recordApply({ live, config: { spec: { size: 'l', replicas: 2 } }, schema, managers: alice.managers, actor: { manager: 'bob', apiVersion: 'v' }, scope: () => true, force: false, now }),
    (err: { code: number; message: string; status: { details: { causes: { field: string; reason: string }[] } } }) => {
      assert.equal(err.code, 409);
      assert.equal(err.message, 'Apply failed with 2 conflicts: conflicts with "alice":\n- .spec.replicas\n- .spec.size');
      assert.deepEqual(err.status.details.causes.map((c) => c.field), ['.spec.replicas', '.spec.size']);
      return true;
    },
  );
  const forced = recordApply({ live, config: { spec: { size: 'l' } }, schema, managers: alice.managers, actor: { manager: 'bob', apiVersion: 'v' }, scope: () => true, force: true, now });
  const sets = Object.fromEntries(forced.managers.map((m) => [m.manager, m.set.toFieldsV1()]));
  assert.deepEqual(sets.alice, { 'f:spec': { 'f:replicas': {} } }, 'force takes the field away from alice');
  assert.deepEqual(sets.bob, { 'f:spec': { 'f:size': {} } });
});

test('an applier that stops applying a field removes it, unless someone else owns it', () => {
  const first = recordApply({ live: {}, config: { spec: { size: 's', settings: { a: '1', b: '2' } } }, schema, managers: [], actor: { manager: 'alice', apiVersion: 'v' }, scope: () => true, force: false, now });
  const other: ManagerEntry[] = [...first.managers, { manager: 'bob', operation: 'Update', apiVersion: 'v', set: FieldSet.of(['f:spec', 'f:settings', 'f:b']) }];
  const second = recordApply({ live: first.object, config: { spec: { size: 's' } }, schema, managers: other, actor: { manager: 'alice', apiVersion: 'v' }, scope: () => true, force: false, now });
  assert.deepEqual(second.object, { spec: { size: 's', settings: { b: '2' } } });
});

test('the conflict message for one field, and an Update manager named with its version', () => {
  const err = applyConflict([{ managerKey: JSON.stringify({ manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: 'v1' }), path: ['f:data', 'f:key'] }]);
  assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.key');
  assert.deepEqual(err.status.details?.causes, [{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using v1', field: '.data.key' }]);
});

test('managedFields are sorted Apply before Update, then by time, and empty entries dropped', () => {
  const entries = encodeManagedFields([
    { manager: 'z', operation: 'Update', apiVersion: 'v', time: '2024-01-01T00:00:00Z', set: FieldSet.of(['f:a']) },
    { manager: 'y', operation: 'Apply', apiVersion: 'v', time: '2024-01-02T00:00:00Z', set: FieldSet.of(['f:b']) },
    { manager: 'x', operation: 'Update', apiVersion: 'v', set: new FieldSet() },
  ]);
  assert.deepEqual(entries.map((e) => e.manager), ['y', 'z']);
  assert.equal(decodeManagedFields(entries).length, 2);
  assert.throws(() => decodeManagedFields([{ manager: 'm', operation: 'Delete' }]), /needs manager and operation/);
  void everything;
});
