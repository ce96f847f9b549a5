// Static checks of the Helm chart that need no helm binary: the controller's RBAC list covers every
// resource the code touches, and values.schema.json describes values.yaml exactly and closes every
// object (unknown values are rejected). helm lint, rendering and installs are in
// test/integration/helm-chart.test.ts and helm.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import * as kindRefs from '../../reconcilers/common/kinds.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHART = join(ROOT, 'charts', 'outrigger');

interface Rule { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(ROOT, dir, f));
}

/** group/plural of every Kubernetes resource the controller process reaches, read from the code. */
function resourcesTouchedByCode(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const note = (key: string, file: string) => found.set(key, [...(found.get(key) ?? []), relative(ROOT, file)]);
  const refs = kindRefs as unknown as Record<string, { group?: string; plural?: string }>;
  for (const file of [...tsFiles('controller'), ...tsFiles('reconcilers')]) {
    const text = readFileSync(file, 'utf8');
    if (!file.endsWith(join('common', 'kinds.ts'))) {
      // ResourceRef literals: { group: 'x', version: 'v1', plural: 'ys', ... }
      for (const m of text.matchAll(/group:\s*'([^']*)',\s*version:\s*'[^']*',\s*plural:\s*'([^']+)'/g)) note(`${m[1]}/${m[2]}`, file);
    }
    // Refs imported from reconcilers/common/kinds.ts (hostRef, workspaceRef, secretRef, ...).
    for (const m of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'[^']*kinds\.ts'/g)) {
      for (const name of m[1]!.split(',').map((n) => n.trim().split(/\s+as\s+/)[0]!).filter(Boolean)) {
        const ref = refs[name];
        if (ref?.plural !== undefined) note(`${ref.group}/${ref.plural}`, file);
      }
    }
  }
  return found;
}

describe('chart: controller RBAC', () => {
  const rulesFile = parse(readFileSync(join(CHART, 'files', 'rbac', 'controller.yaml'), 'utf8')) as { watchedRules: Rule[]; leaderElectionRules: Rule[] };
  const rules = [...rulesFile.watchedRules, ...rulesFile.leaderElectionRules];
  const granted = new Set(rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}/${res}`))));

  it('grants something on every resource the controller or a reconciler touches', () => {
    const touched = resourcesTouchedByCode();
    assert.ok(touched.has('events.k8s.io/events') && touched.has('coordination.k8s.io/leases'), 'the scan finds the runtime\'s own resources');
    for (const [resource, files] of touched) {
      assert.ok(granted.has(resource), `${resource} is used in ${files.join(', ')} but charts/outrigger/files/rbac/controller.yaml grants nothing on it`);
    }
  });

  it('uses no wildcard and no verb beyond what the runtime calls', () => {
    const known = new Set(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']);
    for (const r of rules) {
      for (const v of [...r.apiGroups, ...r.resources, ...r.verbs, ...(r.resourceNames ?? [])]) assert.ok(!v.includes('*'), JSON.stringify(r));
      for (const v of r.verbs) assert.ok(known.has(v), `verb ${v}`);
    }
  });

  it('writes status only through the status subresource; of Secrets it may patch (the in-use finalizer) and create and update (a Lab\'s access Secret), never delete', () => {
    for (const r of rules) {
      if (r.resources.includes('secrets')) assert.deepEqual(r.verbs, ['get', 'list', 'watch', 'patch', 'create', 'update']);
      for (const res of r.resources.filter((x) => x.endsWith('/status'))) assert.deepEqual(r.verbs, ['update'], res);
    }
  });
});

type Schema = { type?: string; properties?: Record<string, Schema>; additionalProperties?: boolean | Schema; items?: Schema; oneOf?: Schema[] };

describe('chart: values.schema.json', () => {
  const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Schema;
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;

  it('declares every value in values.yaml, and values.yaml shows a default for every declared value', () => {
    const walk = (v: unknown, s: Schema | undefined, path: string): void => {
      assert.ok(s, `${path} is in values.yaml but not in values.schema.json`);
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !s.properties) return;
      for (const [k, child] of Object.entries(v)) walk(child, s.properties[k], `${path}.${k}`);
      // An empty map is a default of its own ("none"): issuerRef {} means a self-signed Issuer.
      if (Object.keys(v).length === 0) return;
      for (const k of Object.keys(s.properties)) {
        if (k !== 'global') assert.ok(k in (v as object), `${path}.${k} is declared in values.schema.json but has no default in values.yaml`);
      }
    };
    walk(values, schema, 'values');
  });

  it('rejects unknown keys everywhere except in free-form maps', () => {
    const freeForm = /\.(podAnnotations|podLabels|nodeSelector|annotations|labels|affinity|requests|limits|global)$/;
    const walk = (s: Schema, path: string): void => {
      if (s.type === 'object' && !freeForm.test(path)) {
        assert.equal(s.additionalProperties, false, `${path} must set additionalProperties: false`);
      }
      for (const [k, child] of Object.entries(s.properties ?? {})) walk(child, `${path}.${k}`);
      if (s.items) walk(s.items, `${path}[]`);
    };
    walk(schema, 'values');
  });
});
