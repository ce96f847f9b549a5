// The pieces around the CEL library that make CRD rules behave as on kube-apiserver: the
// Kubernetes library functions (parsing as Go parses), the cost estimate (numbers kube-apiserver
// 1.36 printed for the same rules), the schema-typed values. The live side-by-side check is
// test/integration/cel-conformance.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCelError } from '@bufbuild/cel';
import { compileRule } from '../../embedded/objects/schema/cel/compile.ts';
import { schemaDecl } from '../../embedded/objects/schema/cel/decl.ts';
import { toCel } from '../../embedded/objects/schema/cel/values.ts';
import { parseQuantity } from '../../embedded/objects/schema/cel/library/quantity.ts';
import { addrString, parseAddr } from '../../embedded/objects/schema/cel/library/ip.ts';
import { parseRequestURI } from '../../embedded/objects/schema/cel/library/urls.ts';
import { goFloatString } from '../../embedded/objects/schema/cel/library/fixes.ts';
import { costMessage } from '../../embedded/kinds/crd-schema-checks.ts';
import type { JSONSchemaProps } from '../../embedded/kinds/types.ts';

function run(rule: string, schema: JSONSchemaProps, self: unknown): unknown {
  const decl = schemaDecl(schema)!;
  const c = compileRule({ rule }, decl, schema);
  assert.equal(c.error, undefined, `${rule}: ${c.error}`);
  const r = c.program!({ self: toCel(self, decl) });
  return isCelError(r) ? `error: ${r.message}` : r;
}

test('quantities parse like resource.ParseQuantity and compare exactly', () => {
  assert.equal(parseQuantity('1Gi').nanos, parseQuantity('1024Mi').nanos);
  assert.equal(parseQuantity('1.5').nanos, 1_500_000_000n);
  assert.equal(parseQuantity('100m').nanos, 100_000_000n);
  assert.equal(parseQuantity('1e3').nanos, parseQuantity('1k').nanos);
  // More precise than a nano rounds up, away from zero.
  assert.equal(parseQuantity('1n').nanos, 1n);
  assert.equal(parseQuantity('0.1n').nanos, 1n);
  assert.equal(parseQuantity('-0.1n').nanos, -1n);
  assert.throws(() => parseQuantity('1iK'), /^Error: unable to parse quantity's suffix$/);
  assert.throws(() => parseQuantity('1.5x'), /quantities must match the regular expression/);
  assert.throws(() => parseQuantity('a1'), /quantities must match the regular expression/);
  assert.throws(() => parseQuantity(''), /quantities must match the regular expression/);
});

test('IP addresses parse like netip and print canonically', () => {
  assert.equal(addrString(parseAddr('2001:0db8:0000:0000:0000:0000:0000:0001')), '2001:db8::1');
  assert.equal(addrString(parseAddr('::FFFF:0102:0304')), '::ffff:1.2.3.4');
  assert.equal(addrString(parseAddr('1:0:0:1:0:0:0:1')), '1:0:0:1::1');
  assert.throws(() => parseAddr('1.2.3'), /^Error: ParseAddr\("1\.2\.3"\): IPv4 address too short$/);
  assert.throws(() => parseAddr('1.2.3.04'), /IPv4 field has octet with leading zero/);
  assert.throws(() => parseAddr('1::2::3'), /multiple :: in address \(at ":3"\)/);
  assert.throws(() => parseAddr('example.com'), /unexpected character \(at "example\.com"\)/);
});

test('URLs parse like Go ParseRequestURI', () => {
  assert.deepEqual(parseRequestURI('HTTPS://Host:8080/a%20b?q=1'), { raw: 'HTTPS://Host:8080/a%20b?q=1', scheme: 'https', opaque: '', host: 'Host:8080', rawPath: '/a%20b', rawQuery: 'q=1' });
  assert.equal(parseRequestURI('mailto:a@b').opaque, 'a@b');
  assert.equal(parseRequestURI('/just/a/path').scheme, '');
  assert.throws(() => parseRequestURI('relative/path'), /^Error: parse "relative\/path": invalid URI for request$/);
  assert.throws(() => parseRequestURI('http://a b/'), /invalid character " " in host name/);
  assert.throws(() => parseRequestURI('http://a:port/'), /invalid port ":port" after host/);
});

test("doubles print like Go's %g", () => {
  assert.deepEqual([0.5, 1e6, 123456, 1e-5, 0.0001, -2.5e-7, 1e21].map(goFloatString), ['0.5', '1e+06', '123456', '1e-05', '0.0001', '-2.5e-07', '1e+21']);
});

test('the Kubernetes libraries on schema-typed values', () => {
  const schema: JSONSchemaProps = {
    type: 'object',
    properties: {
      ports: { type: 'array', maxItems: 8, items: { type: 'integer' } },
      s: { type: 'string', maxLength: 64 },
      when: { type: 'string', format: 'date-time' },
      every: { type: 'string', format: 'duration' },
      'dash-name': { type: 'string' },
    },
  };
  const self = { ports: [443, 80, 8080], s: 'a1b22c333', when: '2024-05-01T10:00:00+02:00', every: '1h30m', 'dash-name': 'x' };
  assert.equal(run('self.ports.isSorted()', schema, self), false);
  assert.equal(run('self.ports.sum() == 8603 && self.ports.min() == 80 && self.ports.max() == 8080', schema, self), true);
  assert.equal(run("self.s.findAll('[0-9]+') == ['1', '22', '333'] && self.s.findAll('[0-9]+', 2) == ['1', '22']", schema, self), true);
  assert.equal(run('self.s.find(self.s) == ""', schema, { ...self, s: '(' }), 'error: Illegal regex: error parsing regexp: missing closing ): `(`');
  assert.equal(run("self.when == timestamp('2024-05-01T08:00:00Z') && self.every == duration('90m')", schema, self), true);
  assert.equal(run("self.dash__dash__name == 'x'", schema, self), true);
  assert.equal(run('[].min() == 1', schema, self), 'error: min called on empty list');
  assert.equal(run("cidr('10.0.0.0/8').containsIP('10.255.0.1') && !cidr('10.0.0.0/8').containsIP('11.0.0.1')", schema, self), true);
  assert.equal(run("quantity('1.5Gi').isGreaterThan(quantity('1536Mi')) == false && quantity('1.5Gi') == quantity('1536Mi')", schema, self), true);
});

test('cost estimates equal what kube-apiserver printed for the same rules', () => {
  const list = (items: number, length: number): JSONSchemaProps => ({ type: 'array', maxItems: items, items: { type: 'string', maxLength: length } });
  const cost = (schema: JSONSchemaProps, rule: string) => compileRule({ rule }, schemaDecl(schema)!, schema).maxCost;
  // kube-apiserver: "estimated rule cost exceeds budget by factor of 1.047800x" for 13000 items,
  // and "1.6x" for 20000.
  const edge = cost(list(13000, 1000), "self.all(x, x.matches('^[a-z]+$'))");
  assert.match(costMessage('estimated rule cost', edge, 10_000_000n), /^estimated rule cost exceeds budget by factor of 1\.047800x \(try simplifying/);
  assert.match(costMessage('estimated rule cost', cost(list(20000, 1000), "self.all(x, x.matches('^[a-z]+$'))"), 10_000_000n), /factor of 1\.6x/);
  // Map keys are sized 0 (Gateway API's label key rules are accepted on that).
  const labels: JSONSchemaProps = { type: 'object', maxProperties: 8, additionalProperties: { type: 'string', maxLength: 63 } };
  assert.ok(cost(labels, "self.all(k, k.matches('^[a-z]+$'))") < 1000n);
  // A string() of a number has no size bound, so concatenating it is unbounded.
  assert.ok(cost({ type: 'integer' }, "'n is ' + string(self) == 'x'") > 10n ** 18n);
});
