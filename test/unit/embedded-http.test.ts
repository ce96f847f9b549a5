// The HTTP edge of the embedded API server: URL → request info, content negotiation, bodies
// (JSON, YAML, kubectl's protobuf), selectors, tables and continue tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequestInfo } from '../../embedded/http/request-info.ts';
import { negotiateDiscovery, negotiateShape } from '../../embedded/http/negotiate.ts';
import { decodeBody } from '../../embedded/http/body.ts';
import { decodeProtobufObject } from '../../embedded/http/protobuf.ts';
import { checkFieldSelector, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from '../../embedded/api/selectors.ts';
import { evaluateJsonPath, parseJsonPath } from '../../embedded/api/jsonpath.ts';
import { humanDuration } from '../../embedded/api/human-duration.ts';
import { decodeContinue, encodeContinue } from '../../embedded/api/pagination.ts';
import { rowCells, columnsOf } from '../../embedded/api/table.ts';
import { crdToResourceTypes } from '../../embedded/kinds/crd.ts';

const q = new URLSearchParams();

test('request info: namespaced, cluster-scoped, subresources, namespace subresources, watch', () => {
  assert.deepEqual(parseRequestInfo('GET', '/apis/outrigger.dev/v1alpha1/namespaces/ns/workspaces/w/status', q), {
    kind: 'resource', group: 'outrigger.dev', version: 'v1alpha1', namespace: 'ns', resource: 'workspaces', name: 'w', subresource: 'status', verb: 'get',
  });
  assert.deepEqual(parseRequestInfo('PUT', '/api/v1/namespaces/ns/finalize', q), {
    kind: 'resource', group: '', version: 'v1', namespace: '', resource: 'namespaces', name: 'ns', subresource: 'finalize', verb: 'update',
  });
  assert.equal((parseRequestInfo('GET', '/api/v1/secrets', new URLSearchParams('watch=true')) as { verb: string }).verb, 'watch');
  assert.equal((parseRequestInfo('GET', '/api/v1/watch/namespaces/a/secrets', q) as { verb: string }).verb, 'watch');
  assert.equal((parseRequestInfo('DELETE', '/api/v1/namespaces/a/configmaps', q) as { verb: string }).verb, 'deletecollection');
  assert.deepEqual(parseRequestInfo('GET', '/apis/outrigger.dev', q), { kind: 'other', parts: ['apis', 'outrigger.dev'] });
});

test('negotiation: tables, partial metadata, aggregated discovery with JSON fallback', () => {
  assert.deepEqual(negotiateShape('application/json;as=Table;v=v1;g=meta.k8s.io,application/json', true), { as: 'Table', version: 'v1' });
  assert.deepEqual(negotiateShape('application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io', true), { as: 'PartialObjectMetadataList', version: 'v1' });
  assert.deepEqual(negotiateShape('application/vnd.kubernetes.protobuf, */*', false), { as: 'object' });
  assert.equal(negotiateShape('text/html', false), undefined);
  assert.equal(negotiateDiscovery('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'), 'v2');
  assert.equal(negotiateDiscovery('application/json'), 'legacy');
});

test('bodies: JSON and YAML; parse errors are 400 with kube-apiserver’s wording; wrong types 415', () => {
  assert.deepEqual(decodeBody(Buffer.from('{"a":1}'), 'application/json', ['application/json']), { a: 1 });
  assert.deepEqual(decodeBody(Buffer.from('a: 1\n'), 'application/yaml', ['application/yaml']), { a: 1 });
  assert.throws(() => decodeBody(Buffer.from('{"apiVersion": "x", '), 'application/json', ['application/json'], 'Widget'), (e: { code: number; message: string }) => {
    assert.equal(e.code, 400);
    assert.equal(e.message, 'the object provided is unrecognized (must be of type Widget): couldn\'t get version/kind; json parse error: unexpected end of JSON input ({"apiVersion": "x", )');
    return true;
  });
  assert.throws(() => decodeBody(Buffer.from('a: [x\n'), 'application/yaml', ['application/yaml'], 'Widget'), (e: { code: number; message: string }) => e.code === 400 && /^the object provided is unrecognized \(must be of type Widget\): yaml: line/.test(e.message));
  assert.throws(() => decodeBody(Buffer.from('x'), 'text/plain', ['application/json']), (e: { code: number; reason: string }) => e.code === 415 && e.reason === 'UnsupportedMediaType');
});

test('protobuf: kubectl create namespace/configmap/secret bodies decode to their JSON form', () => {
  // Hand-encoded like kubectl: magic, Unknown{typeMeta{apiVersion:"v1",kind:"ConfigMap"}, raw: ConfigMap{metadata{name:"c"}, data{"k":"v"}}}
  const field = (n: number, bytes: Buffer) => Buffer.concat([Buffer.from([(n << 3) | 2, bytes.length]), bytes]);
  const str = (n: number, s: string) => field(n, Buffer.from(s));
  const typeMeta = Buffer.concat([str(1, 'v1'), str(2, 'ConfigMap')]);
  const cm = Buffer.concat([field(1, str(1, 'c')), field(2, Buffer.concat([str(1, 'k'), str(2, 'v')]))]);
  const body = Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00]), field(1, typeMeta), field(2, cm)]);
  assert.deepEqual(decodeProtobufObject(body), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { k: 'v' } });
  const unknownKind = Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00]), field(1, Buffer.concat([str(1, 'apps/v1'), str(2, 'Deployment')]))]);
  assert.throws(() => decodeProtobufObject(unknownKind), (e: { code: number }) => e.code === 415);
});

test('label selectors: the whole grammar, and parse errors as kube-apiserver words them', () => {
  const sel = parseLabelSelector('tier in (front, back), env, !legacy, version>2');
  assert.equal(matchesLabels(sel, { tier: 'front', env: 'x', version: '3' }), true);
  assert.equal(matchesLabels(sel, { tier: 'front', env: 'x', version: '2' }), false);
  assert.equal(matchesLabels(sel, { tier: 'front', env: 'x', legacy: '', version: '3' }), false);
  assert.equal(matchesLabels(parseLabelSelector('a!=b'), {}), true, '!= matches objects without the label');
  assert.equal(matchesLabels(parseLabelSelector('a notin (b)'), { a: 'c' }), true);
  assert.throws(() => parseLabelSelector('tier===x'), /unable to parse requirement: found '=', expected: identifier/);
  assert.throws(() => parseLabelSelector('a in b'), /unable to parse requirement/);
});

test('field selectors: =, ==, !=, escapes, and unsupported fields', () => {
  const reqs = parseFieldSelector('metadata.name=a\\,b,metadata.namespace!=kube-system');
  assert.deepEqual(reqs, [
    { field: 'metadata.name', op: '=', value: 'a,b' },
    { field: 'metadata.namespace', op: '!=', value: 'kube-system' },
  ]);
  assert.equal(matchesFields(reqs, (f) => (f === 'metadata.name' ? 'a,b' : 'default')), true);
  assert.throws(() => checkFieldSelector(parseFieldSelector('spec.x=1'), (f) => f.startsWith('metadata.')), /field label not supported: spec.x/);
});

test('JSONPath for printer columns, including filters', () => {
  const obj = { status: { conditions: [{ type: 'Synced', status: 'False' }, { type: 'Ready', status: 'True' }] }, spec: { 'a.b': 1, l: [1, 2] } };
  assert.deepEqual(evaluateJsonPath(parseJsonPath('.status.conditions[?(@.type=="Ready")].status'), obj), ['True']);
  assert.deepEqual(evaluateJsonPath(parseJsonPath("{.spec['a.b']}"), obj), [1]);
  assert.deepEqual(evaluateJsonPath(parseJsonPath('.spec.l[*]'), obj), [1, 2]);
  assert.deepEqual(evaluateJsonPath(parseJsonPath('.spec.missing'), obj), []);
});

test('ages print like kubectl', () => {
  const cases: [number, string][] = [
    [5_000, '5s'],
    [119_000, '119s'],
    [125_000, '2m5s'],
    [600_000, '10m'],
    [3 * 3600_000 + 60_000, '3h1m'],
    [10 * 3600_000, '10h'],
    [50 * 3600_000, '2d2h'],
    [400 * 24 * 3600_000, '400d'],
    [3 * 365 * 24 * 3600_000, '3y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
});

test('tables: Name first, then the CRD columns with typed cells', () => {
  const [rt] = crdToResourceTypes({
    metadata: { name: 'widgets.example.com' },
    spec: {
      group: 'example.com',
      names: { plural: 'widgets', kind: 'Widget' },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object' } },
          additionalPrinterColumns: [
            { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  });
  assert.deepEqual(columnsOf(rt!).map((c) => c.name), ['Name', 'Replicas', 'Ready', 'Age']);
  const now = new Date('2024-01-01T00:10:00Z');
  const cells = rowCells(rt!, { metadata: { name: 'w', creationTimestamp: '2024-01-01T00:00:00Z' }, spec: { replicas: 3 } }, now);
  assert.deepEqual(cells, ['w', 3, null, '10m']);
});

test('continue tokens round-trip and reject garbage with 400', () => {
  const token = encodeContinue(42, 'ns/name');
  assert.deepEqual(decodeContinue(token), { rv: 42, start: 'ns/name\u0000' });
  assert.throws(() => decodeContinue('bm90IGpzb24='), (e: { code: number }) => e.code === 400);
});
