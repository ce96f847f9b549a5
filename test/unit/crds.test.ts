// The API's single source of truth holds together: the committed CRD YAML is what the zod schemas
// generate, the schemas accept every example and reject each bad input naming the field, every
// field is described, and the examples' references resolve within examples/.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, globSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import {
  allKinds,
  API_VERSION,
  kindDefinition,
  parseDuration,
  parseQuantity,
  validateManifest,
  VALIDATIONS_KEY,
  withRules,
  type CelValidation,
} from '../../crds/index.ts';
import { buildCrd, renderCrds, toStructuralSchema, SchemaConversionError } from '../../crds/generate.ts';
import { EXAMPLES_DIR, invalidCases, loadExamples, type Manifest } from './crds-cases.ts';

const CRD_DIR = join(EXAMPLES_DIR, '..', 'crds');

describe('generated CRDs', () => {
  it('the committed YAML is exactly what the schemas generate', () => {
    const stale: string[] = [];
    for (const { file, yaml } of renderCrds()) {
      const path = join(CRD_DIR, file);
      if (!existsSync(path) || readFileSync(path, 'utf8') !== yaml) stale.push(file);
    }
    assert.deepEqual(stale, [], `crds/ is out of date with the zod schemas (${stale.join(', ')}): run npm run generate and commit the result`);
  });

  it('crds/ holds no CRD file that no kind generates', () => {
    const expected = new Set(renderCrds().map((c) => c.file));
    const extra = globSync(join(CRD_DIR, '*.yaml')).map((p) => basename(p)).filter((f) => !expected.has(f));
    assert.deepEqual(extra, [], 'remove CRD files for kinds that no longer exist');
  });

  it('one CRD per kind, namespaced, with status subresource, category, short names and Ready/Age columns', () => {
    for (const def of allKinds) {
      const crd = buildCrd(def) as any;
      assert.equal(crd.metadata.name, `${def.plural}.outrigger.dev`);
      assert.equal(crd.spec.scope, 'Namespaced');
      assert.deepEqual(crd.spec.names.categories, ['outrigger']);
      assert.ok(def.shortNames.length > 0, `${def.kind} has a short name`);
      const version = crd.spec.versions[0];
      assert.equal(version.name, 'v1alpha1');
      assert.deepEqual(version.subresources, { status: {} });
      const columns = version.additionalPrinterColumns.map((c: any) => `${c.name}=${c.jsonPath}`);
      // A Lab's READY says how many machines are, as a Pod's says how many containers (3/5).
      const ready = def.kind === 'Lab' ? 'Ready=.status.readyMachines' : 'Ready=.status.conditions[?(@.type=="Ready")].status';
      assert.ok(columns.includes(ready), `${def.kind} has a Ready column`);
      assert.ok(columns.includes('Age=.metadata.creationTimestamp'), `${def.kind} has an Age column`);
    }
  });

  it('every field in every schema has a description (kubectl explain)', () => {
    const undocumented: string[] = [];
    const walk = (node: any, path: string) => {
      for (const [name, child] of Object.entries<any>(node.properties ?? {})) {
        // The root's metadata may carry nothing but its type (kube-apiserver rejects more).
        if (path.endsWith('.yaml') && name === 'metadata') continue;
        if (typeof child.description !== 'string' || child.description.length < 3) undocumented.push(`${path}.${name}`);
        walk(child, `${path}.${name}`);
      }
      if (node.items) walk(node.items, `${path}[]`);
    };
    for (const { yaml, file } of renderCrds()) {
      const crd = parseYaml(yaml) as any;
      walk(crd.spec.versions[0].schema.openAPIV3Schema, file);
    }
    assert.deepEqual(undocumented, []);
  });

  it('the conversion refuses what kube would reject, naming the schema path', () => {
    const cases: [string, z.ZodType, RegExp][] = [
      ['a union', z.strictObject({ a: z.union([z.string().max(3), z.number()]).describe('a') }), /T\.a: unions are not structural/],
      ['a field without description', z.strictObject({ a: z.string().max(3) }), /T\.a: has no description/],
      ['a string without maxLength', z.strictObject({ a: z.string().describe('a') }), /T\.a: string without maxLength/],
      ['an array without maxItems', z.strictObject({ a: z.array(z.boolean()).describe('a') }), /T\.a: array without maxItems/],
      ['a record', z.strictObject({ a: z.record(z.string().max(3), z.string().max(3)).describe('a') }), /T\.a: "additionalProperties"|T\.a: "propertyNames"/],
    ];
    for (const [what, schema, message] of cases) {
      assert.throws(() => toStructuralSchema(schema, 'T'), (err: unknown) => err instanceof SchemaConversionError && message.test(err.message), what);
    }
  });

  it('rules added in two steps are both written once, and both enforced by zod', () => {
    const a = { rule: 'self.x > 0', message: 'x must be positive', holds: (v: { x: number }) => v.x > 0 };
    const b = { rule: 'self.x < 10', message: 'x must be below 10', holds: (v: { x: number }) => v.x < 10 };
    const schema = withRules(withRules(z.strictObject({ x: z.number().int().describe('x') }).describe('t'), [a]), [b]);
    const json = toStructuralSchema(schema, 'T');
    assert.deepEqual(json[VALIDATIONS_KEY], [
      { rule: 'self.x > 0', message: 'x must be positive' },
      { rule: 'self.x < 10', message: 'x must be below 10' },
    ]);
    assert.equal(json.description, 't');
    assert.deepEqual(schema.safeParse({ x: 0 }).error?.issues.map((i) => i.message), ['x must be positive']);
    assert.deepEqual(schema.safeParse({ x: 10 }).error?.issues.map((i) => i.message), ['x must be below 10']);
  });

  it('CEL rules travel into the CRD next to the TypeScript rule', () => {
    const crd = renderCrds().find((c) => c.file === 'proxyroutes.outrigger.dev.yaml')!;
    assert.match(crd.yaml, /x-kubernetes-validations:\n\s+- rule: "has\(self.workspaceRef\)/);
    const workspace = allKinds.find((k) => k.kind === 'Workspace')!;
    const rules = (z.globalRegistry.get(workspace.spec)?.[VALIDATIONS_KEY] ?? []) as CelValidation[];
    assert.ok(rules.length > 0 && rules.every((r) => typeof r.rule === 'string' && typeof r.message === 'string'));
  });
});

describe('examples', () => {
  const examples = loadExamples();

  it('cover every kind and are valid manifests of it', () => {
    const kinds = new Set(examples.map((e) => e.manifest.kind));
    for (const def of allKinds) assert.ok(kinds.has(def.kind), `examples/ has a ${def.kind}`);
    for (const { file, manifest } of examples) {
      if (manifest.apiVersion !== API_VERSION) continue;
      const def = kindDefinition(manifest.kind);
      assert.ok(def, `${file}: unknown kind ${manifest.kind}`);
      const result = validateManifest(def, manifest);
      assert.ok(result.ok, `${file} ${manifest.kind}/${manifest.metadata.name}: ${result.ok ? '' : JSON.stringify(result.errors)}`);
    }
  });

  it('set no namespace, so they apply into any namespace', () => {
    for (const { file, manifest } of examples) assert.equal(manifest.metadata.namespace, undefined, `${file} ${manifest.metadata.name}`);
  });

  it('reference only Secrets, keys and objects that examples/ defines', () => {
    const secrets = new Map<string, Set<string>>();
    const objects = new Set<string>();
    for (const { manifest } of examples) {
      if (manifest.kind === 'Secret') secrets.set(manifest.metadata.name, new Set(Object.keys({ ...manifest.data, ...manifest.stringData })));
      else objects.add(`${manifest.kind}/${manifest.metadata.name}`);
    }
    const problems: string[] = [];
    const refKinds: Record<string, string> = { hostRef: 'Host', clusterRef: 'ProxmoxCluster', workspaceRef: 'Workspace' };
    const visit = (value: unknown, path: string, owner: Manifest) => {
      if (Array.isArray(value)) return value.forEach((v, i) => visit(v, `${path}[${i}]`, owner));
      if (typeof value !== 'object' || value === null) return;
      for (const [key, child] of Object.entries(value as Record<string, any>)) {
        const here = `${owner.kind}/${owner.metadata.name} ${path}.${key}`;
        if (/SecretRef$|^secretRef$|^secretKeyRef$/.test(key)) {
          const keys = secrets.get(child.name);
          if (!keys) problems.push(`${here}: no Secret ${child.name}`);
          else if (child.key !== undefined && !keys.has(child.key)) problems.push(`${here}: Secret ${child.name} has no key ${child.key}`);
        } else if (refKinds[key] && !objects.has(`${refKinds[key]}/${child.name}`)) {
          problems.push(`${here}: no ${refKinds[key]} ${child.name}`);
        }
        visit(child, `${path}.${key}`, owner);
      }
    };
    for (const { manifest } of examples) if (manifest.apiVersion === API_VERSION) visit(manifest.spec, 'spec', manifest);
    assert.deepEqual(problems, []);
  });

  it('is documented: examples/README.md names every file', () => {
    const readme = readFileSync(join(EXAMPLES_DIR, 'README.md'), 'utf8');
    for (const file of new Set(examples.map((e) => e.file))) assert.ok(readme.includes(file), `README.md mentions ${file}`);
  });
});

describe('invalid manifests are rejected by zod, naming the field', () => {
  for (const c of invalidCases()) {
    it(`${c.manifest.kind}: ${c.name} -> ${c.path}`, () => {
      const result = validateManifest(kindDefinition(c.manifest.kind)!, c.manifest);
      assert.equal(result.ok, false, 'accepted');
      if (result.ok) return;
      const paths = result.errors.map((e) => e.path);
      assert.ok(paths.includes(c.path), `expected an error at ${c.path}, got ${JSON.stringify(result.errors)}`);
      for (const e of result.errors) assert.ok(e.message.length > 0);
    });
  }

  it('the table is large and covers every kind', () => {
    const cases = invalidCases();
    assert.ok(cases.length >= 60);
    for (const def of allKinds) assert.ok(cases.some((c) => c.manifest.kind === def.kind), def.kind);
    assert.ok(cases.filter((c) => c.manifest.kind === 'ProxyRoute').length >= 20, 'at least 20 hostile ProxyRoute inputs');
  });
});

describe('validateManifest', () => {
  it('never throws on input of the wrong shape: every field of every example replaced by each wrong type', () => {
    const wrongTypes: unknown[] = [5, 'x', [], {}, null, true, [1], { a: 1 }];
    const fieldPaths = function* (value: unknown, path: (string | number)[]): Generator<(string | number)[]> {
      if (typeof value !== 'object' || value === null) return;
      for (const [key, child] of Object.entries(value)) {
        const here = [...path, Array.isArray(value) ? Number(key) : key];
        yield here;
        yield* fieldPaths(child, here);
      }
    };
    let checked = 0;
    for (const { manifest } of loadExamples()) {
      const def = kindDefinition(manifest.kind);
      if (!def) continue;
      for (const path of [[], ...fieldPaths(manifest.spec, [])]) {
        for (const wrong of wrongTypes) {
          const copy = structuredClone(manifest) as Record<string, any>;
          const full = ['spec', ...path];
          let parent = copy;
          for (const key of full.slice(0, -1)) parent = parent[key];
          parent[full.at(-1)!] = wrong;
          const result = validateManifest(def, copy); // must return, not throw
          checked++;
          if (result.ok) continue;
          assert.ok(result.errors.every((e) => e.path.startsWith('spec') && e.message.length > 0));
        }
      }
    }
    assert.ok(checked > 1000, `checked ${checked} variants`);
  });

  const host = loadExamples().find((e) => e.manifest.kind === 'Host')!.manifest;

  it('checks apiVersion, kind and metadata.name, and fills defaults', () => {
    const bad = validateManifest(kindDefinition('Host')!, { ...host, apiVersion: 'outrigger.dev/v1', metadata: { name: 'Bad_Name' } });
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.deepEqual(bad.errors.map((e) => e.path).sort(), ['apiVersion', 'metadata.name']);
    const good = validateManifest(kindDefinition('Host')!, { ...host, spec: { docker: { unix: {} } } });
    assert.ok(good.ok);
    if (good.ok) assert.deepEqual(good.value, { docker: { unix: { path: '/var/run/docker.sock' } } });
  });

  it('reports unknown fields on the field itself', () => {
    const result = validateManifest(kindDefinition('Host')!, { ...host, spec: { docker: { unix: {}, socket: '/x' } } });
    assert.equal(result.ok, false);
    if (!result.ok) assert.deepEqual(result.errors.map((e) => e.path), ['spec.docker.socket']);
  });
});

describe('duration and quantity parsing', () => {
  it('parses what the patterns accept', () => {
    const durations: [string, number][] = [
      ['30s', 30_000],
      ['5m', 300_000],
      ['1h30m', 5_400_000],
      ['7d', 604_800_000],
      ['1m500ms', 60_500],
      ['0s', 0],
    ];
    for (const [text, ms] of durations) assert.equal(parseDuration(text), ms, text);
    for (const bad of ['', 'm', '30', '1.5h', '30m1h', '-5s', '5 m']) assert.throws(() => parseDuration(bad), RangeError, bad);
    const quantities: [string | number, number][] = [
      [2, 2],
      ['500m', 0.5],
      ['1.5', 1.5],
      ['512Mi', 512 * 2 ** 20],
      ['4Gi', 4 * 2 ** 30],
      ['20G', 20e9],
    ];
    for (const [text, value] of quantities) assert.equal(parseQuantity(text), value, String(text));
    for (const bad of ['lots', '1Qi', '-1', '1e3']) assert.throws(() => parseQuantity(bad), RangeError, bad);
  });
});
