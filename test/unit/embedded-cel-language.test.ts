// The parts of kube-apiserver's CEL the evaluator's own parser and planner lack: the optional
// syntax (rewritten on the token level), two-variable comprehensions, runtime cost metering
// (numbers cel-go 0.26 with kube-apiserver 1.36's libraries reported for the same rules and
// object), and the libraries added on top (lists extension, semver, RE2 find, list types).
// The live side-by-side check is test/integration/cel-conformance.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCelError } from '@bufbuild/cel';
import { compileRule } from '../../embedded/objects/schema/cel/compile.ts';
import { schemaDecl } from '../../embedded/objects/schema/cel/decl.ts';
import { parseRule, tokenize } from '../../embedded/objects/schema/cel/syntax.ts';
import { toCel } from '../../embedded/objects/schema/cel/values.ts';
import { runtimeMessage } from '../../embedded/objects/schema/cel/errors.ts';
import { compareSemver, parseSemver } from '../../embedded/objects/schema/cel/library/semver.ts';
import { compareUtf8 } from '../../embedded/objects/schema/cel/library/fixes.ts';
import { validateCel } from '../../embedded/objects/schema/cel.ts';
import { fieldErrorString } from '../../embedded/api/errors.ts';
import type { JSONSchemaProps } from '../../embedded/kinds/types.ts';

const str = (maxLength: number) => ({ type: 'string', maxLength });
const schema = {
  type: 'object',
  properties: {
    a: { type: 'integer' },
    i: { type: 'integer' },
    zz: { type: 'integer' },
    s: str(64),
    o: { type: 'object', properties: { b: { type: 'integer' }, c: { type: 'object', properties: { d: { type: 'string' }, e: { type: 'string' } } } } },
    l: { type: 'array', maxItems: 100, items: { type: 'integer' } },
    ls: { type: 'array', maxItems: 100, items: str(10) },
    set: { type: 'array', maxItems: 100, 'x-kubernetes-list-type': 'set', items: str(10) },
    ml: {
      type: 'array',
      maxItems: 100,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      items: { type: 'object', required: ['name'], properties: { name: str(10), v: { type: 'integer' } } },
    },
    m: { type: 'object', maxProperties: 10, additionalProperties: str(10) },
  },
} as JSONSchemaProps;
const self = { a: 1, i: 1, s: 'hello', o: { b: 2, c: { d: 'x' } }, l: [1, 2, 3], ls: ['a', 'b'], set: ['a', 'b'], ml: [{ name: 'a', v: 1 }, { name: 'b', v: 2 }], m: { k: 'v', q: 'w' } };
const decl = schemaDecl(schema)!;

function run(rule: string, value: unknown = self) {
  const c = compileRule({ rule }, decl, schema);
  assert.equal(c.error, undefined, `${rule}: ${c.error}`);
  const r = c.program!({ self: toCel(value, decl) });
  return { value: isCelError(r.result) ? `error: ${runtimeMessage(r.result)}` : r.result, cost: r.cost, maxCost: c.maxCost, exceeded: r.exceeded };
}

function compileError(rule: string): string | undefined {
  return compileRule({ rule }, decl, schema).error;
}

test('the optional syntax is found on the token level: strings and comments stay as written', () => {
  const p = parseRule("self.s == 'a.?b[?c]' && self.?s.orValue('') != \"{?'k': 1}\" // .?x [?y]");
  assert.ok(p.ok);
  const text = JSON.stringify(p.parsed.expr, (_, v) => (typeof v === 'bigint' ? String(v) : v));
  assert.match(text, /"a\.\?b\[\?c\]"/);
  assert.match(text, /"\{\?'k': 1\}"/);
  assert.match(text, /"_\?\._"/);
  // A raw string ends at its first quote: the backslash escapes nothing.
  assert.deepEqual(tokenize("r'\\' + '.?' // [?")?.map((t) => t.text), ["r'\\'", '+', "'.?'", '// [?']);
  assert.equal(tokenize("'unterminated"), undefined);
});

test('optional syntax becomes cel-go\'s AST and errors point into the text as written', () => {
  const p = parseRule("[?a, b, ?c] + [x[?0]] == [{?'k': v, 'j': w}.j]");
  assert.ok(p.ok);
  const list = p.parsed.expr.exprKind.value as never as { args: { exprKind: { value: { args: { exprKind: { value: { optionalIndices: number[] } } }[] } } }[] };
  assert.deepEqual(list.args[0]!.exprKind.value.args[0]!.exprKind.value.optionalIndices, [0, 2]);
  assert.match(JSON.stringify(p.parsed.expr, (_, v) => (typeof v === 'bigint' ? String(v) : v)), /"_\[\?_\]".*"optionalEntry":true/);
  // Not optional syntax: x.?f(1) is no call, [?] has no element.
  assert.equal(parseRule('x.?f(1)').ok, false);
  assert.equal(parseRule('[?]').ok, false);
  assert.equal(compileError('has(self.?a)'), 'compilation failed: ERROR: <input>:1:9: invalid argument to has() macro\n | has(self.?a)\n | ........^');
  assert.equal(
    compileError('self.a.?b == 1'),
    "compilation failed: ERROR: <input>:1:7: type 'int' does not support field selection\n | self.a.?b == 1\n | ......^\n" +
      "ERROR: <input>:1:11: found no matching overload for '_==_' applied to '(optional_type(dyn), int)'\n | self.a.?b == 1\n | ..........^",
  );
  assert.equal(compileError('[?1].size() == 1'), "compilation failed: ERROR: <input>:1:3: expected type 'optional_type(int)' but found 'int'\n | [?1].size() == 1\n | ..^");
  assert.equal(compileError("self.l[?'x'].hasValue()"), "compilation failed: ERROR: <input>:1:7: found no matching overload for '_[?_]' applied to '(list(int), string)'\n | self.l[?'x'].hasValue()\n | ......^");
  assert.equal(compileError('self.m.all(k, k, true)'), 'compilation failed: ERROR: <input>:1:15: duplicate variable name: k\n | self.m.all(k, k, true)\n | ..............^');
  assert.equal(compileError('self.m.all(k.x, v, true)'), 'compilation failed: ERROR: <input>:1:13: argument must be a simple name\n | self.m.all(k.x, v, true)\n | ............^');
});

test('optional values, chains and lazy orValue behave as in cel-go', () => {
  assert.equal(run("self.?o.?c.?d == optional.of('x') || true").value, true);
  assert.equal(run("self.o.?c.?e.orValue('none') == 'none'").value, true);
  assert.equal(run("self.?o.c.d.value() == 'x'").value, true);
  assert.equal(run('self.?a.orValue(1 / 0) == 1').value, true, 'the argument is not evaluated when there is a value');
  assert.equal(run('self.?zz.orValue(1 / 0) == 1').value, 'error: division by zero');
  assert.equal(run("{?'a': optional.of(1), ?'b': optional.none()} == {'a': 1} && [?optional.none(), 1] == [1]").value, true);
  assert.equal(run("{'a': 1, ?'a': optional.none()}.size() == 0").value, true, 'an absent optional entry removes an earlier one');
  assert.equal(run("self.?o.?c.optMap(c, c.d + 'y').value() == 'xy' && self.?o.?c.optFlatMap(c, c.?e).hasValue() == false").value, true);
  assert.equal(run('optional.unwrap([optional.of(1), optional.none()]) == [1] && self.l.first().value() == 1 && [].last() == optional.none()').value, true);
  assert.equal(run('optional.none().value() == 1').value, 'error: optional.none() dereference');
  assert.equal(run("optional.of([1]) == optional.of([1]) && optional.of(self.o) == self.?o && optional.none() != optional.of(1)").value, true, 'optionals compare by their values');
});

test('two-variable comprehensions bind index and value, or key and value', () => {
  assert.equal(run('self.l.all(i, v, v == i + 1) && self.m.exists(k, v, k == "q" && v == "w")').value, true);
  assert.equal(run("self.m.transformList(k, v, k + v) == ['kv', 'qw'] && self.l.transformList(i, v, i > 0, v * 10) == [20, 30]").value, true);
  assert.equal(run("self.m.transformMap(k, v, v + '!') == {'k': 'v!', 'q': 'w!'} && self.l.transformMapEntry(i, v, {string(v): i}).size() == 3").value, true);
  assert.equal(run('[1, 1].transformMapEntry(i, v, {v: i}).size() == 1').value, 'error: insert failed: key 1 already exists');
  // An inner comprehension's own variable hides the outer one of the same name.
  assert.equal(run('self.l.all(i, v, self.ls.all(v, v.size() == 1) && v > i)').value, true);
});

test('runtime costs equal what cel-go reported for the same rules and object', () => {
  // [rule, actual cost, estimated cost] as kube-apiserver 1.36 (cel-go 0.26) computed them.
  const table: [string, number, number][] = [
    ['has(self.a)', 1, 1],
    ['has(self.o.b)', 2, 2],
    ['self.a == 1', 3, 2],
    ['self.l[0] == 1', 4, 3],
    ['self.l[self.i] == 2', 5, 5],
    ["'x' in ['a','b']", 0, 12],
    ["self.s in ['a','b'] || true", 2, 14],
    ['[self.a, 1].size() == 2', 14, 14],
    ["duration('1h') > duration('1m')", 1, 3],
    ['self.l.all(x, x > 0)', 18, 503],
    ['self.l.exists(x, x > 2)', 21, 603],
    ['self.l.exists_one(x, x == 2)', 12, 304],
    ['self.l.map(x, x * 2).size() == 3', 47, 1415],
    ['self.l.filter(x, x > 1).size() == 2', 37, 1515],
    ['self.a == 1 ? true : false', 3, 2],
    ["{'a': self.a}.size() == 1", 34, 34],
    ["{'a': 1}.size() == 1", 2, 32],
    ["self.s + 'x' == 'hellox'", 4, 29],
    ['self.ml == [self.ml[1], self.ml[0]]', 19, 19],
    ['self.l.all(i, x, x > i)', 21, 603],
    ['self.?a.orValue(0) == 1', 3, 4],
    ["self.o.?c.?d.orValue('') == 'x'", 5, 6],
    ['[?self.?a].size() == 1', 14, 14],
    ['self.l.sum() == 6', 6, 103],
    ['self.l.sort() == [1,2,3]', 32, 20024],
    ['self.l.slice(0, 2).size() == 2', 17, 17],
    ['lists.range(3).size() == 3', 16, 16],
    ['self.l.distinct().size() == 3', 33, 20015],
    ['[[1],[2]].flatten().size() == 2', 15, 45],
    ["self.s.startsWith('he')", 3, 3],
    ["self.s.split('l').size() == 3", 5, 56],
    ["self.ls.join(',') == 'a,b'", 4, 413],
    ["self.s.findAll('l').size() == 2", 5, 30],
    ["'%s'.format([self.s]) == 'hello'", 14, 14],
    ["cidr('10.0.0.0/8').containsIP('10.1.1.1')", 3, 6],
    ['format.dns1123Label().validate(self.s).hasValue() == false', 13, 837],
    ["self.set + ['c'] == ['a','b','c']", 4, 24],
    ['self.a == 1 ? self.o.b == 2 : false', 7, 5],
    ['(self.a == 1 ? (self.i == 1 ? self.o : self.o) : self.o).b == 2', 9, 7],
    ['self.l[self.i + 0] == 2', 7, 6],
    ['self.?zz.orValue(self.i) == 1', 4, 6],
    ['self.l.all(x, x > 5)', 10, 503],
    ['self.?a.or(optional.of(self.i)).value() == 1', 4, 8],
    ["self.s in [self.s, 'b']", 16, 16],
    ['self.a in []', 0, 12],
    ['self.l.map(x, [x]).size() == 3', 74, 2315],
    ["{'a': self.a}.a == 1", 35, 33],
    ['[self.a][0] == 1', 15, 13],
    ['self.a == 1 ? [1][0] == 1 : false', 6, 14],
    ["self.a == 1 ? {'x': self.o}.x.b == 2 : true", 39, 37],
  ];
  for (const [rule, cost, maxCost] of table) {
    const r = run(rule);
    assert.equal(typeof r.value, 'boolean', rule);
    assert.deepEqual([r.cost, r.maxCost], [cost, BigInt(maxCost)], rule);
  }
});

test('an evaluation stops past 1,000,000 units; an object past 10,000,000', () => {
  const listSchema = { type: 'array', maxItems: 1200, items: { type: 'integer' } } as JSONSchemaProps;
  const d = schemaDecl(listSchema)!;
  const c = compileRule({ rule: 'self.all(x, self.all(y, x == y))' }, d, listSchema);
  const small = c.program!({ self: toCel(Array(300).fill(1), d) });
  assert.equal(small.exceeded, false);
  const big = c.program!({ self: toCel(Array(1000).fill(1), d) });
  assert.equal(big.exceeded, true);
  assert.ok(big.cost > 1_000_000 && big.cost < 1_000_100, `stopped just past the limit (${big.cost})`);

  const objectSchema = {
    type: 'object',
    properties: {
      items: {
        type: 'array',
        maxItems: 10,
        items: { type: 'object', properties: { l: { ...listSchema, maxItems: 300 } }, 'x-kubernetes-validations': [{ rule: 'self.l.all(x, self.l.all(y, x == y))' }, { rule: 'self.l.all(x, self.l.all(y, x <= y))' }] },
      },
    },
  } as JSONSchemaProps;
  const item = { l: Array(300).fill(1) };
  assert.deepEqual(validateCel({ items: Array(5).fill(item) }, undefined, objectSchema), []);
  assert.deepEqual(validateCel({ items: Array(10).fill(item) }, undefined, objectSchema).map(fieldErrorString), [
    'items[9]: Invalid value: "object": validation failed due to running out of cost budget, no further validation rules will be run',
  ]);
});

test('the lists extension and semver, with cel-go\'s and blang/semver\'s error texts', () => {
  assert.equal(run('[3, 1, 2].sortBy(x, -x) == [3, 2, 1] && [dyn(1), dyn(1.0), dyn(1u)].distinct() == [1] && self.l.reverse() == [3, 2, 1]').value, true);
  assert.equal(run('self.l.slice(2, 1).size() == 0').value, 'error: cannot slice(2, 1), start index must be less than or equal to end index');
  assert.equal(run('self.l.slice(0, 5).size() == 0').value, 'error: cannot slice(0, 5), list is length 3');
  assert.equal(run("[dyn(1), dyn('a')].sort() == [1]").value, 'error: list elements must have the same type');
  assert.equal(run('[[1, 2], [3]].flatten() == [1, 2, 3] && [[[1]]].flatten(2) == [1]').value, true);
  assert.throws(() => parseSemver('01.2.3'), /^Error: Major number must not contain leading zeroes "01"$/);
  assert.throws(() => parseSemver('1.2'), /^Error: No Major.Minor.Patch elements found$/);
  assert.throws(() => parseSemver('1.2.3-01'), /Numeric PreRelease version must not contain leading zeroes "01"/);
  assert.equal(compareSemver(parseSemver('1.0.0-alpha'), parseSemver('1.0.0-alpha.1')), -1);
  assert.equal(compareSemver(parseSemver('1.0.0-2'), parseSemver('1.0.0-10')), -1);
  assert.equal(compareSemver(parseSemver('1.0.0-rc.1'), parseSemver('1.0.0')), -1);
  assert.equal(run("semver('1.0.0+a') == semver('1.0.0+b') && semver('v1.2', true) == semver('1.2.0') && isSemver('v01.2', true) && !isSemver('1.x', true)").value, true);
});

test('find and findAll follow RE2 and Go: empty matches, ungreedy flag, classes', () => {
  assert.equal(run("'aab1aab'.findAll('a*') == ['aa', '', 'aa', ''] && 'abc'.findAll('') == ['', '', '', '']").value, true);
  assert.equal(run("'aaa'.find('(?U)a+') == 'a' && 'héllo wörld'.find('\\\\pL+') == 'héllo' && 'a1b22'.findAll('[[:digit:]]+', 1) == ['1']").value, true);
  assert.equal(run("'x'.find(self.s + '(') == ''").value, 'error: Illegal regex: error parsing regexp: missing closing ): `hello(`');
  assert.equal(compileError("'x'.find('(') == ''"), 'program instantiation failed: error parsing regexp: missing closing ): `(`');
});

test('strings order by their UTF-8 bytes', () => {
  assert.equal(compareUtf8('\uffff', '\u{1f600}'), -1);
  assert.equal(compareUtf8('\u{1f600}', 'z'), 1);
  assert.equal(compareUtf8('abc', 'abd'), -1);
  assert.equal(compareUtf8('ab', 'abc'), -1);
  assert.equal(run("'\\uffff' < '\\U0001F600' && 'é' > 'e'").value, true);
});

test('set and map lists compare ignoring order on the left of ==, and merge on the left of +', () => {
  assert.equal(run("self.set == ['b', 'a'] && ['b', 'a'] != self.set && self.set + ['c', 'a'] == ['a', 'b', 'c']").value, true);
  assert.equal(run('self.ml == [self.ml[1], self.ml[0]] && (self.ml + [self.ml[0]]).size() == 2').value, true);
  assert.equal(run("self.ls == ['b', 'a']").value, false, 'atomic lists keep their order');
});
