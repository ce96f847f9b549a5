// What the CEL conformance test applies to both servers: CRDs (ours with rules over every CEL
// library, CRDs that must be refused for their rules or their cost, and real CRDs from the
// Gateway API project) and, for each CRD that is accepted, objects to create or update. The
// expected decision is checked against kube-apiserver too, so a case that stops testing what it
// says fails.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { GROUP, rulesCrd, validSpec } from './rules-crd.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

export type Decision = 'accepted' | 'rejected';

export interface ObjectCase {
  name: string;
  /** When set, this object is created first and then replaced by `object` (an update). */
  old?: Record<string, unknown>;
  object: Record<string, unknown>;
  expect: Decision;
}

export interface CrdCase {
  name: string;
  crd: Record<string, unknown>;
  expect: Decision;
  /** Resource path segment (group/version/plural) objects are written to. */
  resource?: { group: string; version: string; plural: string; kind: string };
  objects?: ObjectCase[];
}

let serial = 0;
function obj(kind: string, apiVersion: string, spec: unknown, name = `o${++serial}`): Record<string, unknown> {
  return { apiVersion, kind, metadata: { name }, spec };
}

const rule = (spec: Record<string, unknown>, name?: string) => obj('CelRule', `${GROUP}/v1`, { ...validSpec, ...spec }, name);
const accepted = (name: string, spec: Record<string, unknown>): ObjectCase => ({ name, object: rule(spec), expect: 'accepted' });
const rejected = (name: string, spec: Record<string, unknown>): ObjectCase => ({ name, object: rule(spec), expect: 'rejected' });
function update(name: string, from: Record<string, unknown>, to: Record<string, unknown>, expect: Decision): ObjectCase {
  const n = `u${++serial}`;
  return { name, old: rule(from, n), object: rule(to, n), expect };
}

const ruleObjects: ObjectCase[] = [
  accepted('a spec every rule accepts', {}),
  rejected('root rules see metadata.name', {}),
  rejected('root rule with fieldPath: minReplicas over replicas', { minReplicas: 5 }),
  rejected('isSorted', { ports: [443, 80] }),
  rejected('min and max', { ports: [0, 80] }),
  rejected('sum with messageExpression', { ports: [60000, 60000] }),
  rejected('indexOf and lastIndexOf with reason FieldValueDuplicate', { ports: [22, 22] }),
  rejected('sum of doubles printed by string()', { weights: [0.5, 0.25] }),
  rejected('format.dns1123Label in a messageExpression', { names: ['web', 'Web'] }),
  rejected('exists_one with reason FieldValueDuplicate', { names: ['web', 'web'] }),
  rejected('format.dns1123Subdomain errors joined', { hostname: 'Bad_Host' }),
  rejected('findAll', { image: 'a:b:c' }),
  rejected('find and split', { image: 'Registry/App:1' }),
  rejected('isURL, and url() failing at run time', { endpoint: 'not a url' }),
  rejected('url().getScheme()', { endpoint: 'ftp://files.example/a' }),
  rejected('url().getHostname() with reason FieldValueForbidden', { endpoint: 'https://localhost/x' }),
  rejected('url().getPort()', { endpoint: 'https://api.example.com:8443/' }),
  rejected('url().getQuery()', { endpoint: 'https://api.example.com/?debug=1&debug=2' }),
  rejected('url() of an opaque URL has a scheme and no host', { endpoint: 'mailto:ops@example.com' }),
  rejected('quantity().compareTo with fieldPath', { resources: { request: '3Gi', limit: '2Gi' } }),
  rejected('isQuantity, and quantity() failing at run time', { resources: { request: 'lots' } }),
  rejected('quantity().isLessThan', { resources: { limit: '128Gi' } }),
  rejected('quantity().sub().sign()', { resources: { limit: '512Ki' } }),
  rejected('quantity().asInteger()', { resources: { request: '3', limit: '4' } }),
  accepted('quantities in several notations', { resources: { request: '1.5e3', limit: '0.001Ti' } }),
  rejected('an exponent with a suffix is no quantity', { resources: { request: '1.5e3m', limit: '2Gi' } }),
  rejected('isCIDR, and cidr() failing at run time', { network: { subnet: '10.1.0.0/33' } }),
  rejected('cidr().masked()', { network: { subnet: '10.1.2.0/16', gateway: '10.1.0.1', dns: [] } }),
  rejected('cidr().containsIP', { network: { subnet: '10.1.0.0/16', gateway: '10.2.0.1', dns: [] } }),
  rejected('isIP and ip.isCanonical, ip() failing at run time', { network: { subnet: '10.1.0.0/16', gateway: '010.1.0.1', dns: [] } }),
  rejected('ip().family(), isLoopback()', { network: { subnet: '10.1.0.0/16', gateway: '::1', dns: [] } }),
  rejected('ip().isGlobalUnicast() and containsIP(ip)', { network: { subnet: '10.1.0.0/16', dns: ['127.0.0.1'] } }),
  rejected('containsCIDR', { network: { subnet: '192.168.4.0/24' } }),
  accepted('IPv6 networks', { network: { subnet: 'fd00:1::/64', gateway: 'fd00:1::1', dns: ['2001:4860:4860::8888'] } }),
  rejected('timestamps compare', { window: { start: '2024-01-02T00:00:00Z', end: '2024-01-01T00:00:00Z' } }),
  rejected('timestamp subtraction printed as a duration', { window: { start: '2024-01-01T00:00:00Z', end: '2024-01-03T00:00:00Z' } }),
  rejected('duration fields', { window: { timeout: '90m' } }),
  rejected('getFullYear', { window: { start: '2019-06-01T10:00:00+02:00' } }),
  rejected('map keys with matches(), reason FieldValueRequired', { labels: { Team: 'x' } }),
  rejected('a fieldPath into a map', { labels: { team: 'Infra' } }),
  rejected('sets.contains', { tags: ['purple'] }),
  rejected('sets.intersects', { tags: ['blue', 'green'] }),
  rejected('sets.equivalent', { tags: ['canary'] }),
  rejected('int-or-string as a string', { size: '50' }),
  rejected('int-or-string as an int', { size: -1 }),
  rejected('int-or-string default message', { size: 7 }),
  rejected('no such overload at run time', { threshold: 'abc' }),
  rejected('a number field is a double', { ratio: 0.75 }),
  rejected('a whole number in a number field', { ratio: 2 }),
  rejected('bytes fields', { checksum: 'AQID' }),
  rejected('no such key', { limits: { low: 1 } }),
  rejected('division by zero', { limits: { low: 1, high: 2, div: 0 } }),
  rejected('integer overflow', { limits: { low: 9223372036854770000, high: 9223372036854770000 } }),
  rejected('a schema error stops the rules', { replicas: 'three' }),
  update('transition rule: oldSelf', { mode: 'fast' }, { mode: 'slow' }, 'rejected'),
  update('transition rule unchanged', { mode: 'fast', generation: 2 }, { mode: 'fast', generation: 3 }, 'accepted'),
  update('optionalOldSelf on update', { generation: 5 }, { generation: 4 }, 'rejected'),
  update('map-list items correlate by key', { steps: [{ name: 'build', retries: 3 }] }, { steps: [{ name: 'test', retries: 0 }, { name: 'build', retries: 2 }] }, 'rejected'),
  update('a new map-list item has no oldSelf', { steps: [{ name: 'build', retries: 3 }] }, { steps: [{ name: 'build', retries: 3 }, { name: 'test', retries: 0 }] }, 'accepted'),
];
// The root rule needs a long name: give that case one.
(ruleObjects[1]!.object.metadata as { name: string }).name = 'a-name-longer-than-twenty';

/** A CRD with one object schema under spec carrying these rules. */
function smallCrd(plural: string, spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { plural, singular: plural.replace(/s$/, ''), kind: plural[0]!.toUpperCase() + plural.slice(1, -1), listKind: `${plural}List` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec } } } }],
    },
  };
}

const fields = {
  type: 'object',
  properties: {
    a: { type: 'integer' },
    s: { type: 'string', maxLength: 10 },
    l: { type: 'array', maxItems: 4, items: { type: 'integer' } },
    m: { type: 'object', maxProperties: 4, additionalProperties: { type: 'string', maxLength: 8 } },
    set: { type: 'array', maxItems: 4, 'x-kubernetes-list-type': 'set', items: { type: 'string', maxLength: 4, 'x-kubernetes-validations': [{ rule: 'self == oldSelf' }] } },
  },
};

const withRules = (rules: Record<string, unknown>[], extra: Record<string, unknown> = {}) => ({ ...fields, ...extra, 'x-kubernetes-validations': rules });

const unboundedStrings = { type: 'array', items: { type: 'string' } };

/** A list of `items` strings of at most `length` characters with one rule. */
const boundedList = (items: number, length: number, r: string) => ({ type: 'array', maxItems: items, items: { type: 'string', maxLength: length }, 'x-kubernetes-validations': [{ rule: r }] });

const crdCostTotal = smallCrd('celcosttotals', {
  type: 'object',
  // Twelve rules each under the per-rule limit, together over the CRD's.
  properties: Object.fromEntries(
    Array.from({ length: 12 }, (_, i) => [`l${i}`, boundedList(11000 + i * 10, 1000, "self.all(x, x.matches('^[a-z]+$'))")]),
  ),
});

/** CEL's own semantics: each rule holds for `semanticsSpec`, so a wrong evaluation rejects it. */
const semanticsRules = [
  // Errors are absorbed by a logical operator whose other side decides.
  '!has(self.a) || self.a / 0 == 1 || true',
  'false && self.l[10] == 1 || true',
  '(self.l[10] == 1 || self.a == 1) && (self.a == 1 || self.l[10] == 1)',
  'self.l.exists(x, x == 2 || 1 / 0 == 1)',
  '!self.l.all(x, x == 1 && 1 / (x - 1) == 0)',
  // Numbers: integer division truncates, modulo keeps the sign, uint and double are their own types.
  '-7 / 2 == -3 && -7 % 2 == -1 && 7u / 2u == 3u && 7.0 / 2.0 == 3.5',
  'dyn(1) == 1.0 && dyn(1u) == 1 && 1 < 1.5 && 2u > 1 && 1.0 < 2u',
  "int('42') + 1 == 43 && double('2.5') == 2.5 && uint(3) == 3u && int(2.9) == 2 && int(-2.9) == -2",
  "string(1.5) == '1.5' && string(10) == '10' && string(2u) == '2' && string(true) == 'true'",
  "string(1000000.0) == '1e+06' && string(123456.0) == '123456' && string(0.00001) == '1e-05' && string(-2.5e-7) == '-2.5e-07'",
  "type(1) == int && type(1u) == uint && type('') == string && type(self.l) == list && type(self.m) == map",
  '9223372036854775807 > 0 && -9223372036854775808 < 0',
  // Strings are Unicode: sizes count code points; bytes count bytes.
  "size('héllo') == 5 && size(b'h\\xc3\\xa9') == 3 && 'é' > 'e' && 'abc' < 'abd'",
  "'Straße'.lowerAscii() == 'straße' && 'abc'.upperAscii() == 'ABC' && ' x '.trim() == 'x'",
  "'a,b,,c'.split(',') == ['a', 'b', '', 'c'] && 'a-b-c'.split('-', 2) == ['a', 'b-c']",
  "'hello'.charAt(1) == 'e' && 'hello'.indexOf('l') == 2 && 'hello'.lastIndexOf('l') == 3 && 'hello'.substring(1, 3) == 'el'",
  "'aaa'.replace('a', 'b', 2) == 'bba' && 'hello'.indexOf('l', 3) == 3 && strings.quote('a\"b') == '\"a\\\\\"b\"'",
  "'%s is %d'.format(['x', 3]) == 'x is 3'",
  // RE2 regular expressions.
  "'abc123'.matches('^[a-z]+[0-9]+$') && !'ABC'.matches('^[a-z]+$') && 'ABC'.matches('(?i)^[a-z]+$') && 'a.b'.matches('a\\\\.b')",
  "'x1y22z333'.findAll('[0-9]+') == ['1', '22', '333'] && 'no digits'.find('[0-9]+') == ''",
  // Lists and maps.
  '[1, 2] + [3] == [1, 2, 3] && 2 in [1, 2] && !(4 in [1, 2]) && [[1], [2]][1][0] == 2',
  "{'a': 1, 'b': 2}['b'] == 2 && 'a' in {'a': 1} && size({'a': 1, 'b': 2}) == 2 && {'a': 1} == {'a': 1}",
  'self.l.map(x, x * 10).filter(x, x > 10) == [20, 30] && self.l.exists_one(x, x == 2) && self.l.all(x, x > 0)',
  "self.m.all(k, self.m[k].startsWith(k)) && self.m.exists(k, k == 'b') && self.m.map(k, k).size() == 2",
  '[3, 1, 2].sum() == 6 && [3, 1, 2].min() == 1 && [3, 1, 2].max() == 3 && [1, 2, 3].isSorted() && [1, 3, 2].indexOf(3) == 1',
  "[1.5, 2.5].sum() == 4.0 && [duration('1s'), duration('2s')].sum() == duration('3s') && [2u, 1u].min() == 1u",
  // Strings in a list literal have no size bound: joining or sorting them costs too much for a rule.
  "self.m.all(k, [k].size() == 1)",
  // Timestamps and durations.
  "timestamp('2024-03-01T12:00:00Z') - timestamp('2024-02-28T12:00:00Z') == duration('48h')",
  "timestamp('2024-03-01T12:30:45Z').getHours() == 12 && timestamp('2024-03-01T12:30:45Z').getMinutes() == 30 && timestamp('2024-03-01T00:00:00Z').getDayOfWeek() == 5",
  "timestamp('2024-03-01T12:00:00Z').getHours('Europe/Berlin') == 13 && timestamp('2024-12-31T00:00:00Z').getDayOfYear() == 365",
  "duration('1h30m').getMinutes() == 90 && duration('90s') == duration('1m30s') && timestamp('2024-01-01T00:00:00Z') + duration('24h') == timestamp('2024-01-02T00:00:00Z')",
  "self.when > timestamp('2020-01-01T00:00:00Z') && self.when.getFullYear() == 2024 && self.every == duration('90m')",
  // Quantities, URLs, IPs and CIDRs beyond the basics.
  "quantity('1k') == quantity('1000') && quantity('1Ki').asInteger() == 1024 && quantity('1.5Gi').isGreaterThan(quantity('1500Mi')) && !quantity('0.1').isInteger()",
  "url('https://user@example.com:8443/a%20b?x=1#f').getHost() == 'example.com:8443' && url('https://[::1]:80/').getHostname() == '::1' && url('/relative/path').getScheme() == ''",
  "ip('2001:db8::1').family() == 6 && string(ip('2001:0db8:0::1')) == '2001:db8::1' && ip.isCanonical('2001:db8::1') && !ip.isCanonical('2001:0db8::1')",
  "ip('fe80::1').isLinkLocalUnicast() && ip('ff02::1').isLinkLocalMulticast() && ip('224.0.0.1').isLinkLocalMulticast() && ip('0.0.0.0').isUnspecified()",
  "cidr('10.0.0.0/8').containsCIDR(cidr('10.1.0.0/16')) && !cidr('10.1.0.0/16').containsCIDR('10.0.0.0/8') && string(cidr('2001:db8::/32').ip()) == '2001:db8::'",
  // Optional values.
  "optional.ofNonZeroValue('').hasValue() == false && optional.ofNonZeroValue('x').value() == 'x' && optional.none().or(optional.of(2)).value() == 2",
  "format.named('labelValue').hasValue() && !format.named('nope').hasValue() && !format.labelValue().validate('ok').hasValue() && format.qualifiedName().validate('a/b/c').hasValue()",
  "!format.uuid().validate('123e4567-e89b-12d3-a456-426614174000').hasValue() && format.byte().validate('!').hasValue() && !format.date().validate('2024-02-29').hasValue() && format.datetime().validate('2024-02-29').hasValue()",
  "format.dns1035Label().validate('1abc').hasValue() && !format.dns1123LabelPrefix().validate('abc-').hasValue() && format.uri().validate('no scheme').hasValue()",
  "sets.equivalent([1, 2, 2], [2, 1]) && sets.contains([], []) && !sets.intersects([], [1])",
];

const semanticsSpec = { a: 1, l: [1, 2, 3], m: { a: 'apple', b: 'banana' }, when: '2024-06-01T10:00:00Z', every: '90m' };

const semanticsCrd = smallCrd('celsemantics', {
  type: 'object',
  properties: {
    a: { type: 'integer' },
    l: { type: 'array', maxItems: 8, items: { type: 'integer' } },
    m: { type: 'object', maxProperties: 8, additionalProperties: { type: 'string', maxLength: 16 } },
    when: { type: 'string', format: 'date-time' },
    every: { type: 'string', format: 'duration' },
  },
  'x-kubernetes-validations': semanticsRules.map((r, i) => ({ rule: r, message: `semantics rule ${i}` })),
});

const semanticsObject = (spec: Record<string, unknown>) => obj('Celsemantic', `${GROUP}/v1`, spec);

const refusedCrds: CrdCase[] = [
  {
    name: 'compile errors: undefined field, no matching overload, unknown function, not a bool, mixed literal, bad range',
    crd: smallCrd('celcompiles', withRules([
      { rule: 'self.foo == 1' },
      { rule: 'self.a + "x" == 1' },
      { rule: 'foo(1)' },
      { rule: 'self.a.bar(1)' },
      { rule: 'self.a' },
      { rule: '[1, "a"].size() > 0' },
      { rule: 'self.a.all(x, x)' },
      { rule: 'self.s.startsWith(1)' },
      { rule: 'self.m.all(k, k.size() > self.a) && self.l.exists(x, x == "a")' },
      { rule: 'self.a ==\n 1 &&\n self.b', message: 'on several lines' },
      { rule: 'self.s.isSorted()' },
      { rule: "quantity(self.s) == 1" },
    ])),
    expect: 'rejected',
  },
  {
    name: 'compile errors: types across operators, presence tests, literals the environment validates',
    crd: smallCrd('celchecks', withRules([
      { rule: 'self.a == 1.0' },
      { rule: 'has(self.a.b)' },
      { rule: '1 in self.m' },
      { rule: "self.l.map(x, x + 'a').size() > 0" },
      { rule: "self.s.matches('(a')" },
      { rule: "duration('1x') > duration('1s')" },
      { rule: "timestamp('yesterday') < timestamp('2024-01-01T00:00:00Z')" },
      { rule: "self.m.b == 1" },
      { rule: "self.l[0] == 'a'" },
      { rule: "{'a': 1, 'b': 'c'}.size() == 2" },
      { rule: "self.s.find('[') == ''" },
    ])),
    expect: 'rejected',
  },
  {
    name: 'rule fields: reason, fieldPath, message, messageExpression, optionalOldSelf',
    crd: smallCrd('celfields', withRules([
      { rule: 'self.a > 0', reason: 'Bogus' },
      { rule: 'self.a > 0', fieldPath: '.b' },
      { rule: 'self.a > 0', fieldPath: "['a'" },
      { rule: 'self.a > 0', message: 'two\nlines' },
      { rule: 'self.a > 0', message: '  ' },
      { rule: 'self.a > 0', messageExpression: '  ' },
    ])),
    expect: 'rejected',
  },
  {
    name: 'messageExpression must be a string, optionalOldSelf needs oldSelf',
    crd: smallCrd('celmessages', withRules([
      { rule: 'self.a > 0', messageExpression: '1' },
      { rule: 'self.a > 0', messageExpression: 'self.b' },
      { rule: 'self.a > 0', optionalOldSelf: true },
      { rule: 'self.a > 0', messageExpression: "'a is ' + self.a" },
    ])),
    expect: 'rejected',
  },
  { name: 'oldSelf inside a set list', crd: smallCrd('celsets', fields), expect: 'rejected' },
  {
    name: 'per-rule cost: a loop in a loop over unbounded lists',
    crd: smallCrd('celcostnested', { ...unboundedStrings, 'x-kubernetes-validations': [{ rule: 'self.all(x, self.all(y, x == y))' }] }),
    expect: 'rejected',
  },
  {
    name: 'per-rule cost: regular expressions over long strings, with the factor',
    crd: smallCrd('celcostregex', boundedList(20000, 1000, "self.all(x, x.matches('^[a-z]+$'))")),
    expect: 'rejected',
  },
  {
    name: 'per-rule cost: a little over the limit, the factor to six places',
    crd: smallCrd('celcostedge', boundedList(13000, 1000, "self.all(x, x.matches('^[a-z]+$'))")),
    expect: 'rejected',
  },
  {
    name: 'per-rule cost: a rule under a list runs once per item',
    crd: smallCrd('celcostcardinality', { type: 'array', maxItems: 5000, items: { type: 'object', properties: { names: boundedList(100, 200, "self.all(x, x.startsWith('a') && x.contains('b'))") } } }),
    expect: 'rejected',
  },
  { name: 'per-CRD cost: twelve rules together over the limit', crd: crdCostTotal, expect: 'rejected' },
  {
    name: 'costs just inside the limits are accepted',
    crd: smallCrd('celcostfits', boundedList(2000, 1000, "self.all(x, x.matches('^[a-z]+$'))")),
    expect: 'accepted',
  },
];

/** The Gateway API CRDs, vendored with their licence (gateway-api/README.md says from where). */
function vendored(file: string): Record<string, unknown> {
  return parse(readFileSync(join(HERE, 'gateway-api', file), 'utf8')) as Record<string, unknown>;
}

const GW = 'gateway.networking.k8s.io/v1';
const gateway = (spec: unknown) => obj('Gateway', GW, spec);
const route = (spec: unknown) => obj('HTTPRoute', GW, spec);
const tlsRoute = (spec: unknown) => obj('TLSRoute', GW, spec);
const parentRefs = [{ name: 'gw' }];

const gatewayApi: CrdCase[] = [
  {
    name: 'Gateway API: Gateway',
    crd: vendored('gateway.networking.k8s.io_gateways.yaml'),
    expect: 'accepted',
    resource: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways', kind: 'Gateway' },
    objects: [
      { name: 'a valid Gateway', object: gateway({ gatewayClassName: 'example', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }), expect: 'accepted' },
      {
        name: 'tls on an HTTP listener',
        object: gateway({ gatewayClassName: 'example', listeners: [{ name: 'http', port: 80, protocol: 'HTTP', tls: { mode: 'Terminate', certificateRefs: [{ name: 'c' }] } }] }),
        expect: 'rejected',
      },
      { name: 'hostname on a TCP listener', object: gateway({ gatewayClassName: 'example', listeners: [{ name: 'tcp', port: 9000, protocol: 'TCP', hostname: 'a.example' }] }), expect: 'rejected' },
      {
        name: 'port, protocol and hostname must be unique',
        object: gateway({ gatewayClassName: 'example', listeners: [{ name: 'a', port: 80, protocol: 'HTTP' }, { name: 'b', port: 80, protocol: 'HTTP' }] }),
        expect: 'rejected',
      },
      {
        name: 'infrastructure label keys',
        object: gateway({ gatewayClassName: 'example', infrastructure: { labels: { 'Bad Key': 'v' } }, listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }),
        expect: 'rejected',
      },
    ],
  },
  {
    name: 'Gateway API: HTTPRoute',
    crd: vendored('gateway.networking.k8s.io_httproutes.yaml'),
    expect: 'accepted',
    resource: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes', kind: 'HTTPRoute' },
    objects: [
      {
        name: 'a valid HTTPRoute',
        object: route({ parentRefs, hostnames: ['app.example'], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'api', port: 8080 }] }] }),
        expect: 'accepted',
      },
      { name: 'a path that is not absolute', object: route({ parentRefs, rules: [{ matches: [{ path: { type: 'PathPrefix', value: 'api' } }] }] }), expect: 'rejected' },
      { name: 'a path with //', object: route({ parentRefs, rules: [{ matches: [{ path: { type: 'Exact', value: '/a//b' } }] }] }), expect: 'rejected' },
      {
        name: 'a repeated RequestRedirect filter',
        object: route({ parentRefs, rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { port: 8443 } }, { type: 'RequestRedirect', requestRedirect: { port: 8444 } }] }] }),
        expect: 'rejected',
      },
      { name: 'a filter without its settings', object: route({ parentRefs, rules: [{ filters: [{ type: 'RequestRedirect' }] }] }), expect: 'rejected' },
      { name: 'a backend timeout longer than the request timeout', object: route({ parentRefs, rules: [{ timeouts: { request: '10s', backendRequest: '1m' } }] }), expect: 'rejected' },
      { name: 'a Service backend without a port', object: route({ parentRefs, rules: [{ backendRefs: [{ name: 'api' }] }] }), expect: 'rejected' },
    ],
  },
  {
    name: 'Gateway API: TLSRoute',
    crd: vendored('gateway.networking.k8s.io_tlsroutes.yaml'),
    expect: 'accepted',
    resource: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'tlsroutes', kind: 'TLSRoute' },
    objects: [
      { name: 'a valid TLSRoute', object: tlsRoute({ parentRefs, hostnames: ['secure.example'], rules: [{ backendRefs: [{ name: 'tls', port: 443 }] }] }), expect: 'accepted' },
      { name: 'an IP address as a hostname', object: tlsRoute({ parentRefs, hostnames: ['10.0.0.1'], rules: [{ backendRefs: [{ name: 'tls', port: 443 }] }] }), expect: 'rejected' },
      { name: 'a wildcard not in front', object: tlsRoute({ parentRefs, hostnames: ['a.*.example'], rules: [{ backendRefs: [{ name: 'tls', port: 443 }] }] }), expect: 'rejected' },
    ],
  },
];

export const crdCases: CrdCase[] = [
  {
    name: 'rules over every CEL library',
    crd: rulesCrd,
    expect: 'accepted',
    resource: { group: GROUP, version: 'v1', plural: 'celrules', kind: 'CelRule' },
    objects: ruleObjects,
  },
  {
    name: 'CEL semantics: errors in logic, numbers, strings, regex, lists, maps, time, library types',
    crd: semanticsCrd,
    expect: 'accepted',
    resource: { group: GROUP, version: 'v1', plural: 'celsemantics', kind: 'Celsemantic' },
    objects: [
      { name: 'every rule holds', object: semanticsObject(semanticsSpec), expect: 'accepted' },
      { name: 'rules that see the data fail', object: semanticsObject({ ...semanticsSpec, l: [3, 2, 1], m: { a: 'x' }, when: '2019-01-01T00:00:00Z' }), expect: 'rejected' },
    ],
  },
  ...refusedCrds,
  ...gatewayApi,
];
