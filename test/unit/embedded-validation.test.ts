// Validation as kube-apiserver reports it: openAPIV3Schema checks, CEL rules, metadata rules
// and the CRD schema checks that decide whether a CRD is accepted. Expected messages were taken
// from a real kube-apiserver v1.36 (see test/integration/conformance.test.ts for the live check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateValue } from '../../embedded/objects/schema/validate.ts';
import { applyDefaults } from '../../embedded/objects/schema/defaults.ts';
import { prune } from '../../embedded/objects/schema/prune.ts';
import { blocksRules, validateCel } from '../../embedded/objects/schema/cel.ts';
import { compileRule } from '../../embedded/objects/schema/cel/compile.ts';
import { schemaDecl } from '../../embedded/objects/schema/cel/decl.ts';
import { toCel } from '../../embedded/objects/schema/cel/values.ts';
import { fieldErrorString, invalid } from '../../embedded/api/errors.ts';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../embedded/objects/meta.ts';
import { crdSchemaErrors } from '../../embedded/kinds/crd-schema-checks.ts';
import type { JSONSchemaProps } from '../../embedded/kinds/types.ts';

const spec: JSONSchemaProps = {
  type: 'object',
  required: ['size'],
  properties: {
    size: { type: 'string', enum: ['small', 'large'] },
    replicas: { type: 'integer', minimum: 0, maximum: 10, default: 1 },
    name: { type: 'string', pattern: '^[a-z]+$', maxLength: 10 },
    tags: { type: 'array', maxItems: 2, items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
    when: { type: 'string', format: 'date-time' },
    port: { 'x-kubernetes-int-or-string': true },
  },
};
const root: JSONSchemaProps = { type: 'object', properties: { spec } };

const messages = (value: unknown) => validateValue(value, root).map(fieldErrorString).sort();

test('schema errors name the field and read like kube-apiserver’s', () => {
  assert.deepEqual(messages({ spec: { size: 'huge', replicas: 20, name: 'ABC', tags: ['a', 'a', 'b'] } }), [
    "spec.name: Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'",
    'spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10',
    'spec.size: Unsupported value: "huge": supported values: "small", "large"',
    'spec.tags: Too many: 3: must have at most 2 items',
    'spec.tags[1]: Duplicate value: "a"',
  ]);
  assert.deepEqual(messages({ spec: { replicas: 'x', name: 'abcdefghijklmnop', when: 'yesterday', port: true } }), [
    'spec.name: Too long: may not be more than 10 bytes',
    'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
    'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"',
    'spec.size: Required value',
    'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"',
  ]);
  assert.deepEqual(messages({ spec: { size: 'small', port: 'http', when: '2024-01-01T00:00:00Z' } }), []);
});

test('the aggregated 422 message: one error plain, several in brackets', () => {
  const one = invalid('example.com', 'Widget', 'w', validateValue({ spec: {} }, root));
  assert.equal(one.message, 'Widget.example.com "w" is invalid: spec.size: Required value');
  assert.equal(one.code, 422);
  const two = invalid('', 'ConfigMap', 'c', [
    { type: 'FieldValueRequired', field: 'a' },
    { type: 'FieldValueRequired', field: 'b' },
  ]);
  assert.equal(two.message, 'ConfigMap "c" is invalid: [a: Required value, b: Required value]');
  assert.deepEqual(two.status.details?.causes?.[0], { reason: 'FieldValueRequired', message: 'Required value', field: 'a' });
});

test('defaults fill missing fields; pruning drops unknown ones and says which', () => {
  const obj: Record<string, unknown> = { apiVersion: 'x/v1', kind: 'K', metadata: {}, spec: { size: 'small', extra: 1 }, other: true };
  const dropped = prune(obj, root);
  applyDefaults(obj, root);
  assert.deepEqual(dropped.sort(), ['other', 'spec.extra']);
  assert.deepEqual(obj, { apiVersion: 'x/v1', kind: 'K', metadata: {}, spec: { size: 'small', replicas: 1 } });
});

test('CEL: rules are typed by the schema and evaluated by the CEL library', () => {
  const schema: JSONSchemaProps = {
    type: 'object',
    properties: {
      a: { type: 'integer' },
      b: { type: 'integer' },
      ratio: { type: 'number' },
      name: { type: 'string' },
      url: { type: 'string' },
      items: { type: 'array', items: { type: 'object', properties: { n: { type: 'integer' } } } },
      l: { type: 'array', items: { type: 'integer' } },
    },
  };
  const decl = schemaDecl(schema)!;
  const ev = (rule: string, self: unknown) => {
    const c = compileRule({ rule }, decl, schema);
    assert.equal(c.error, undefined, `${rule} compiles`);
    return c.program!({ self: toCel(self, decl) });
  };
  assert.equal(ev('(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) == 1', { a: 1 }), true);
  assert.equal(ev('self.items.all(i, self.items.exists_one(j, j.n == i.n))', { items: [{ n: 1 }, { n: 1 }] }), false);
  assert.equal(ev('!(self.name in ["editor", "ssh"])', { name: 'web' }), true);
  assert.equal(ev("self.url.startsWith('https://') && !self.url.matches('^https://169\\\\.254\\\\.')", { url: 'https://x' }), true);
  assert.equal(ev('size(self.l) <= 2 && self.l.map(x, x * 2).filter(y, y > 2).size() == 1', { l: [1, 2] }), true);
  // A `number` field is a double even when the JSON says 2, so it compares with 2.0.
  assert.equal(ev('self.ratio == 2.0 && self.ratio / 4.0 == 0.5', { ratio: 2 }), true);
  // Errors are absorbed by || when the other side decides, as CEL specifies.
  assert.equal(ev('!has(self.a) || self.a / 0 == 1', {}), true);
  assert.match(String((ev('self.a == 1', {}) as Error).message), /field not found: a/);
  // Compile errors read like cel-go's, with the position and a caret.
  assert.equal(
    compileRule({ rule: 'self.foo == 1' }, decl, schema).error,
    "compilation failed: ERROR: <input>:1:5: undefined field 'foo'\n | self.foo == 1\n | ....^",
  );
  assert.equal(
    compileRule({ rule: 'self.a + "x" == 1' }, decl, schema).error,
    "compilation failed: ERROR: <input>:1:8: found no matching overload for '_+_' applied to '(int, string)'\n | self.a + \"x\" == 1\n | .......^",
  );
  assert.equal(compileRule({ rule: 'self.a' }, decl, schema).error, 'cel expression must evaluate to a bool');
});

test('CEL rules report failures at their node (or fieldPath), and transition rules need an old object', () => {
  const schema: JSONSchemaProps = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        'x-kubernetes-validations': [
          { rule: 'self.start <= self.end', message: 'start must not be after end' },
          { rule: 'self.mode == oldSelf.mode', message: 'mode is immutable', fieldPath: '.mode' },
        ],
        properties: { start: { type: 'integer' }, end: { type: 'integer' }, mode: { type: 'string' } },
      },
    },
  };
  const created = validateCel({ spec: { start: 2, end: 1, mode: 'a' } }, undefined, schema).map(fieldErrorString);
  assert.deepEqual(created, ['spec: Invalid value: start must not be after end'], 'no oldSelf on create');
  const updated = validateCel({ spec: { start: 1, end: 1, mode: 'b' } }, { spec: { start: 1, end: 1, mode: 'a' } }, schema).map(fieldErrorString);
  assert.deepEqual(updated, ['spec.mode: Invalid value: mode is immutable']);
  assert.equal(blocksRules([{ type: 'FieldValueRequired', field: 'x' }]), true);
  assert.equal(blocksRules([{ type: 'FieldValueInvalid', field: 'x', badValue: 1, detail: 'pattern' }]), false);
});

test('metadata: names, labels and the update rules', () => {
  const errs = validateObjectMeta({ name: 'Bad_Name', namespace: 'ns', labels: { 'bad key!': 'v', ok: 'not valid!' } }, { namespaced: true, nameRule: 'subdomain' }).map(fieldErrorString);
  assert.equal(errs.length, 3);
  assert.match(errs[0]!, /^metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/);
  assert.ok(errs.some((e) => e.startsWith('metadata.labels: Invalid value: "bad key!": name part must consist of')));
  assert.ok(errs.some((e) => e.startsWith('metadata.labels: Invalid value: "not valid!": a valid label must be an empty string')));
  assert.deepEqual(validateObjectMeta({ namespace: 'ns' }, { namespaced: true, nameRule: 'subdomain' }).map(fieldErrorString), [
    'metadata.name: Required value: name or generateName is required',
  ]);
  assert.deepEqual(
    validateObjectMetaUpdate({ name: 'a', uid: 'u2', finalizers: ['x/y', 'x/z'] }, { name: 'a', uid: 'u1', finalizers: ['x/y'], deletionTimestamp: 't' }).map(fieldErrorString),
    [
      'metadata.uid: Invalid value: "u2": field is immutable',
      'metadata.deletionTimestamp: Invalid value: null: field is immutable',
      'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"x/z"}',
    ],
  );
});

test('CRD schema checks: untyped fields and oldSelf inside lists are refused (messages from kube-apiserver)', () => {
  const machines: JSONSchemaProps = {
    type: 'array',
    items: {
      type: 'object',
      'x-kubernetes-validations': [{ rule: 'has(self.docker) == has(oldSelf.docker)' }],
      properties: { docker: { type: 'object', properties: {} } },
    },
  };
  const check = (properties: Record<string, JSONSchemaProps>) =>
    crdSchemaErrors({ type: 'object', properties: { spec: { type: 'object', properties } } }, 'spec.validation.openAPIV3Schema').map(fieldErrorString);
  // A schema that is not structural is refused before any rule is compiled.
  assert.deepEqual(check({ home: { type: 'object', properties: { size: { pattern: '^x$' } } }, machines }), [
    'spec.validation.openAPIV3Schema.properties[spec].properties[home].properties[size].type: Required value: must not be empty for specified object fields',
  ]);
  assert.deepEqual(check({ machines }), [
    'spec.validation.openAPIV3Schema.properties[spec].properties[machines].items.x-kubernetes-validations[0].rule: Invalid value: "has(self.docker) == has(oldSelf.docker)": oldSelf cannot be used on the uncorrelatable portion of the schema within spec.validation.openAPIV3Schema.properties[spec].properties[machines]',
  ]);
});
