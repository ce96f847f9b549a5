// CRDs for the rest of kube-apiserver's CEL: optional syntax and values (`a.?b`, `m[?k]`,
// `[?x]`, `{?k: v}`, optMap, orValue), two-variable comprehensions, cel-go's lists extension,
// the semver library, RE2 find/findAll, strings ordered by their bytes, set and map lists
// compared ignoring order, and the runtime cost limits: one evaluation over 1,000,000 units,
// a messageExpression over it, and one object's rules over 10,000,000 together.
import { GROUP } from './rules-crd.ts';
import type { CrdCase, Decision, ObjectCase } from './cases.ts';

let serial = 0;

function crd(plural: string, spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { plural, singular: plural.replace(/s$/, ''), kind: kindOf(plural), listKind: `${kindOf(plural)}List` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec } } } }],
    },
  };
}

function kindOf(plural: string): string {
  return plural[0]!.toUpperCase() + plural.slice(1, -1);
}

/** A CRD that must be accepted, with objects whose spec differs from `base` as given. */
function accepted(name: string, plural: string, spec: Record<string, unknown>, base: Record<string, unknown>, objects: [string, Record<string, unknown>, Decision, Record<string, unknown>?][]): CrdCase {
  const object = (s: Record<string, unknown>, n = `o${++serial}`) => ({ apiVersion: `${GROUP}/v1`, kind: kindOf(plural), metadata: { name: n }, spec: s });
  return {
    name,
    crd: crd(plural, spec),
    expect: 'accepted',
    resource: { group: GROUP, version: 'v1', plural, kind: kindOf(plural) },
    objects: objects.map(([what, change, expect, old]): ObjectCase => {
      if (!old) return { name: what, object: object({ ...base, ...change }), expect };
      const n = `u${++serial}`;
      return { name: what, old: object({ ...base, ...old }, n), object: object({ ...base, ...change }, n), expect };
    }),
  };
}

const str = (maxLength: number) => ({ type: 'string', maxLength });
const ints = (maxItems: number) => ({ type: 'array', maxItems, items: { type: 'integer' } });
const strings = (maxItems: number, maxLength = 16) => ({ type: 'array', maxItems, items: str(maxLength) });
const stringMap = { type: 'object', maxProperties: 8, additionalProperties: str(16) };

const optionalFields = {
  type: 'object',
  properties: {
    a: { type: 'integer' },
    s: str(16),
    o: { type: 'object', properties: { b: { type: 'integer' }, c: { type: 'object', properties: { d: str(16) } } } },
    l: ints(8),
    m: stringMap,
  },
};

const optionalRules = {
  ...optionalFields,
  'x-kubernetes-validations': [
    { rule: 'self.?a.orValue(0) >= 0', message: 'a is not negative' },
    { rule: "self.?o.?c.?d.orValue('') != 'bad'", messageExpression: "'d may not be ' + self.o.c.d" },
    { rule: "self.?m[?'team'].orValue('none') != ''", message: 'an empty team' },
    { rule: 'self.?l[?0].orValue(1) > 0', message: 'the first item is positive' },
    { rule: '[?self.?s, ?self.?o.?c.?d].size() <= 1', message: 's and o.c.d are exclusive' },
    { rule: "{?'a': self.?a}.size() == 0 || self.a < 10", message: 'a is under 10' },
    { rule: 'self.?o.c.d.hasValue() ? self.o.c.d.size() < 5 : true', message: 'd is short' },
    { rule: "self.?o.?c.optMap(c, c.?d.orValue('').size()).orValue(0) != 1", message: 'd is not one character' },
    { rule: 'self.?l.optFlatMap(l, l.first()).orValue(0) != 99 && self.?l.orValue([]).last().orValue(0) != 7', message: 'l does not start with 99 or end with 7' },
    { rule: 'optional.unwrap([self.?a, self.?o.?b]).size() < 2 || self.a != self.o.b', message: 'a and o.b differ' },
    { rule: 'self.?s.or(self.?o.?c.?d).orValue(\'x\') != \'\'', message: 's, else d, is not empty' },
    // An orValue argument that would fail is never evaluated when there is a value.
    { rule: '!has(self.a) || self.?a.orValue(1 / 0) >= 0', message: 'a is not negative' },
    { rule: '!oldSelf.hasValue() || oldSelf.value().?a.orValue(0) <= self.?a.orValue(0)', message: 'a may only grow', optionalOldSelf: true },
  ],
};

const optionalBase = { a: 1, s: 'x', o: { b: 2 }, l: [1, 2], m: { team: 'infra' } };

const twoVariable = {
  type: 'object',
  properties: { l: ints(8), m: stringMap },
  'x-kubernetes-validations': [
    { rule: 'self.m.all(k, v, k.size() <= v.size())', messageExpression: "'a value shorter than its key: ' + self.m.transformList(k, v, k.size() > v.size(), v)[0]" },
    { rule: 'self.l.all(i, v, i == 0 || self.l[i - 1] <= v)', message: 'l is sorted' },
    { rule: 'self.l.exists(i, v, i == 0 && v > 0)', message: 'the first item is positive' },
    { rule: '!(5 in self.l) || self.l.existsOne(i, v, v == 5)', message: 'five appears at most once' },
    { rule: "self.m.transformList(k, v, k + '=' + v).all(e, e.size() < 16)", message: 'k=v pairs are short' },
    { rule: 'self.m.transformMap(k, v, v.size() > 1, v.upperAscii()).size() == self.m.filter(k, self.m[k].size() > 1).size()' },
    { rule: 'self.l.transformMapEntry(i, v, {string(v): i}).size() == self.l.size()', message: 'items are unique' },
    { rule: "self.m.transformMapEntry(k, v, v == 'skip', {v: k}).size() <= 1" },
    { rule: "self.m.exists_one(k, v, v == 'lead') || !self.m.exists(k, v, v == 'lead')", message: 'one lead at most' },
  ],
};

const listsAndSemver = {
  type: 'object',
  properties: { l: ints(16), names: strings(8), version: str(32), versions: strings(8, 32) },
  'x-kubernetes-validations': [
    { rule: 'self.l.distinct().size() == self.l.size()', message: 'items are unique' },
    { rule: 'self.l.sort() == self.l', message: 'l is sorted' },
    { rule: 'self.l.reverse().reverse() == self.l && [self.l, [0]].flatten().size() == self.l.size() + 1' },
    { rule: 'self.l.size() < 2 || self.l.slice(0, 2).size() == 2' },
    { rule: 'self.l.size() < 4 || self.l.slice(self.l.size() - 1, 1).size() == 0' },
    { rule: "self.names.size() == 0 || self.names.sortBy(n, n.size())[self.names.size() - 1] != 'forbidden'", messageExpression: "'the longest name is ' + self.names.sortBy(n, n.size())[self.names.size() - 1]" },
    { rule: "self.names.sortBy(n, n.size()).last().orValue('') != 'forbidden'", message: 'the longest name is not forbidden' },
    { rule: "[[1, 2], [3]].flatten() == [1, 2, 3] && [[[1]], [[2]]].flatten(2) == [1, 2] && lists.range(3) == [0, 1, 2] && ['b', 'a'].sort() == ['a', 'b']" },
    { rule: 'isSemver(self.version)', message: 'version is a semantic version' },
    { rule: "semver(self.version).isGreaterThan(semver('1.0.0'))", messageExpression: "'version ' + self.version + ' is not above 1.0.0'" },
    { rule: 'semver(self.version, true).major() < 10 && semver(self.version).compareTo(semver(self.version)) == 0' },
    { rule: "semver('1.2.3+a') == semver('1.2.3+b') && semver('1.2.3-alpha').isLessThan(semver('1.2.3')) && semver('1.2.3-2').isLessThan(semver('1.2.3-10'))" },
    { rule: 'self.versions.all(v, isSemver(v, true))', message: 'versions are semantic versions, a v and missing parts allowed' },
  ],
};

const listsBase = { l: [1, 2, 3], names: ['a', 'bb'], version: '1.2.3', versions: ['v1', '2.0'] };

const regexStrings = {
  type: 'object',
  properties: { s: str(32), low: str(8), high: str(8) },
  'x-kubernetes-validations': [
    { rule: "self.s.findAll('a*') != ['aa', '', 'aa', '']", message: 'findAll found aa, an empty match, aa and an empty match' },
    { rule: "self.s.find('(?U)a+') == '' || self.s.find('(?U)a+') == 'a'", message: 'ungreedy' },
    { rule: "self.s.find('\\\\pL+') != 'forbidden'", messageExpression: "'the first word is ' + self.s.find('\\\\pL+')" },
    { rule: "self.s.findAll('[[:digit:]]+', 2).size() < 2", message: 'two numbers' },
    { rule: "self.s.findAll('[[:digit:]]+', 2) != ['1', '22']", message: 'the numbers 1 and 22' },
    { rule: "!self.s.matches('^x') || self.s.find('x\\\\z') == ''", message: 'no x at both ends' },
    { rule: '!has(self.low) || !has(self.high) || self.low < self.high', message: 'low sorts before high' },
  ],
};

const listTypes = {
  type: 'object',
  properties: {
    set: { type: 'array', maxItems: 8, 'x-kubernetes-list-type': 'set', items: str(8) },
    ml: {
      type: 'array',
      maxItems: 8,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      items: { type: 'object', required: ['name'], properties: { name: str(8), v: { type: 'integer' } } },
    },
    plain: strings(8, 8),
  },
  'x-kubernetes-validations': [
    { rule: 'self.set == oldSelf.set', message: 'set is immutable (order aside)' },
    { rule: 'self.ml == oldSelf.ml', message: 'ml is immutable (order aside)' },
    { rule: 'self.plain == oldSelf.plain', message: 'plain is immutable' },
    { rule: "self.set + ['a'] == self.set || !('a' in self.set)", message: 'adding a member again changes nothing' },
    { rule: "(self.set + ['zz']).size() == self.set.size() + 1" },
  ],
};

const listTypesBase = { set: ['a', 'b'], ml: [{ name: 'x', v: 1 }, { name: 'y', v: 2 }], plain: ['p', 'q'] };

/** Every pair of items compared: about 6 units per pair. */
const quadratic = 'self.all(x, self.all(y, x == y))';

const perCallLimit = {
  type: 'object',
  properties: {
    l: { type: 'array', maxItems: 1200, items: { type: 'integer' }, 'x-kubernetes-validations': [{ rule: quadratic }, { rule: 'self.size() < 900', message: 'never reached' }] },
    m: {
      type: 'array',
      maxItems: 1200,
      items: { type: 'integer' },
      'x-kubernetes-validations': [{ rule: 'self.size() < 500', messageExpression: `${quadratic} ? 'too many' : 'too many, and not all equal'` }],
    },
  },
};

const perObjectBudget = {
  type: 'object',
  properties: {
    items: {
      type: 'array',
      maxItems: 10,
      items: {
        type: 'object',
        properties: { l: { type: 'array', maxItems: 300, items: { type: 'integer' } } },
        'x-kubernetes-validations': [{ rule: 'self.l.all(x, self.l.all(y, x == y))' }, { rule: 'self.l.all(x, self.l.all(y, x <= y))' }],
      },
    },
  },
};

const same = (n: number, v = 1) => Array.from({ length: n }, () => v);

export const languageCases: CrdCase[] = [
  accepted('optional syntax and values', 'celoptionals', optionalRules, optionalBase, [
    ['every optional rule holds', {}, 'accepted'],
    ['nothing set at all', { a: undefined, s: undefined, o: undefined, l: undefined, m: undefined }, 'accepted'],
    ['a chain of .? with a messageExpression', { s: undefined, o: { c: { d: 'bad' } } }, 'rejected'],
    ['m[?k] present but empty', { m: { team: '' } }, 'rejected'],
    ['l[?0]', { l: [0] }, 'rejected'],
    ['[?x, ?y] with both present', { o: { c: { d: 'ww' } } }, 'rejected'],
    ['optMap', { s: undefined, o: { c: { d: 'y' } } }, 'rejected'],
    ['{?k: v}', { a: 12 }, 'rejected'],
    ['selection on an optional, then .value()', { s: undefined, o: { c: { d: 'longer' } } }, 'rejected'],
    ['optFlatMap, first() and last()', { l: [99, 7] }, 'rejected'],
    ['optional.unwrap', { a: 2, o: { b: 2 } }, 'rejected'],
    ['or() and orValue() of an empty string', { s: '' }, 'rejected'],
    ['optionalOldSelf with .value().?a', { a: 1 }, 'rejected', { a: 3 }],
    ['optionalOldSelf on update, growing', { a: 4 }, 'accepted', { a: 3 }],
  ]),
  {
    name: 'optional syntax that does not compile: has(a.?b), .? on an int, [?x] of no optional, [?k] of the wrong type',
    crd: crd('celbadoptionals', {
      ...optionalFields,
      'x-kubernetes-validations': [
        { rule: 'has(self.?a)' },
        { rule: 'self.a.?b == 1' },
        { rule: '[?1].size() == 1' },
        { rule: "{?'k': 1}.size() == 1" },
        { rule: "self.l[?'x'].hasValue()" },
        { rule: "self.o.?c.d == 'x'" },
        { rule: 'self.?zz.hasValue()' },
        { rule: "self.?o.?c.?d == optional.of('x')" },
      ],
    }),
    expect: 'rejected',
  },
  accepted('two-variable comprehensions', 'celtwovars', twoVariable, { l: [1, 2, 3], m: { a: 'aa', bb: 'bb' } }, [
    ['every rule holds', {}, 'accepted'],
    ['all(k, v, ...) over a map', { m: { long: 'x' } }, 'rejected'],
    ['all(i, v, ...) over a list, with a messageExpression', { l: [3, 1, 2] }, 'rejected'],
    ['exists(i, v, ...)', { l: [0, 1] }, 'rejected'],
    ['existsOne(i, v, ...), and transformMapEntry failing on the repeat', { l: [1, 5, 5] }, 'rejected'],
    ['transformList over a map', { m: { keykeykey: 'valuevaluevalue' } }, 'rejected'],
    ['transformMapEntry with a repeated key fails at run time', { l: [1, 2, 2] }, 'rejected'],
    ['transformMapEntry with a filter', { m: { a: 'skip', b: 'skip' } }, 'rejected'],
    ['exists_one(k, v, ...)', { m: { a: 'lead', bb: 'lead' } }, 'rejected'],
  ]),
  {
    name: 'two-variable comprehensions that do not compile: a repeated name, a name that is no identifier',
    crd: crd('celbadtwovars', {
      type: 'object',
      properties: { m: stringMap },
      'x-kubernetes-validations': [{ rule: 'self.m.all(k, k, true)' }, { rule: 'self.m.all(k.x, v, true)' }, { rule: 'self.m.transformMap(k, v, 1, 2, 3).size() > 0' }],
    }),
    expect: 'rejected',
  },
  accepted('the lists extension and the semver library', 'cellistsemvers', listsAndSemver, listsBase, [
    ['every rule holds', {}, 'accepted'],
    ['distinct() and sort() with a messageExpression', { l: [3, 1, 3] }, 'rejected'],
    ['slice() out of order fails at run time', { l: [1, 2, 3, 4] }, 'rejected'],
    ['sortBy() and last()', { names: ['a', 'forbidden'] }, 'rejected'],
    ['not a semantic version: semver() fails at run time', { version: '1.2' }, 'rejected'],
    ['leading zeros', { version: '01.2.3' }, 'rejected'],
    ['isGreaterThan with pre-release versions', { version: '1.0.0-rc.1' }, 'rejected'],
    ['semver(s, true) normalizes', { version: '3.4.5', versions: ['v1', 'v01.2', '1.x'] }, 'rejected'],
  ]),
  {
    name: 'lists extension costs: lists.range over a variable and slice(2, 1) are unbounded',
    crd: crd('cellistcosts', {
      type: 'object',
      properties: { n: { type: 'integer' }, l: ints(8) },
      'x-kubernetes-validations': [{ rule: 'lists.range(self.n).size() >= 0' }, { rule: 'self.l.slice(2, 1).size() == 0' }, { rule: 'lists.range(4).size() == 4' }],
    }),
    expect: 'rejected',
  },
  accepted('RE2 find/findAll and strings ordered by bytes', 'celregexes', regexStrings, { s: 'b1c', low: 'a', high: 'b' }, [
    ['every rule holds', {}, 'accepted'],
    ['findAll with empty matches, as Go skips them', { s: 'aab1aab' }, 'rejected'],
    ['\\pL+', { s: 'forbidden words' }, 'rejected'],
    ['[[:digit:]] with a limit', { s: 'a1b22c333' }, 'rejected'],
    ['\\z', { s: 'xax' }, 'rejected'],
    ['U+FFFF sorts before U+1F600 in UTF-8', { low: '\uffff', high: '\u{1f600}' }, 'accepted'],
    ['and not the other way round', { low: '\u{1f600}', high: '\uffff' }, 'rejected'],
  ]),
  accepted('set and map lists compare ignoring order', 'cellisttypes', listTypes, listTypesBase, [
    ['a set in another order is the same set', { set: ['b', 'a'] }, 'accepted', {}],
    ['a map list in another order is the same map list', { ml: [{ name: 'y', v: 2 }, { name: 'x', v: 1 }] }, 'accepted', {}],
    ['an atomic list in another order is another list', { plain: ['q', 'p'] }, 'rejected', {}],
    ['a map list item changed', { ml: [{ name: 'y', v: 3 }, { name: 'x', v: 1 }] }, 'rejected', {}],
    ['a set member more', { set: ['a', 'b', 'c'] }, 'rejected', {}],
  ]),
  accepted('runtime cost: one evaluation over 1,000,000 units', 'celcallcosts', perCallLimit, {}, [
    ['300 items fit', { l: same(300) }, 'accepted'],
    ['1000 items do not, and no further rule runs', { l: same(1000) }, 'rejected'],
    ['a messageExpression over the limit', { m: same(600) }, 'rejected'],
  ]),
  accepted('runtime cost: one object over 10,000,000 units', 'celobjectcosts', perObjectBudget, {}, [
    ['five items fit', { items: same(5).map(() => ({ l: same(300) })) }, 'accepted'],
    ['ten items do not: the budget runs out at one of them', { items: same(10).map(() => ({ l: same(300) })) }, 'rejected'],
  ]),
];
