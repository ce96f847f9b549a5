// Generates one CustomResourceDefinition YAML per kind from the zod schemas:
// `npm run generate` writes crds/<plural>.outrigger.dev.yaml, and renderCrds() returns the same
// text so a test can check that the committed files are current.
//
// zod's JSON Schema is post-processed into a structural schema (what kube-apiserver accepts):
// every node has a type, no $schema/$ref/additionalProperties:false/const/nullable, and the only
// anyOf is Kubernetes' int-or-string form. Anything else is an error naming the schema path, so
// a schema that kube would reject never reaches a file.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { Document } from 'yaml';
import { API_VERSION, CATEGORY, GROUP, VERSION, type KindDefinition } from './kind.ts';
import { allKinds } from './index.ts';

type JsonSchema = Record<string, unknown>;

const CRD_DIR = dirname(fileURLToPath(import.meta.url));

// Keys kept from zod's output, in the order they are written (description first reads best in
// YAML; x-kubernetes-* last).
const KEY_ORDER = [
  'description',
  'type',
  'format',
  'default',
  'enum',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
  'required',
  'properties',
  'items',
  'anyOf',
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-validations',
] as const;
const ALLOWED = new Set<string>(KEY_ORDER);
/** zod writes these on every .int(); they say nothing kube needs. */
const SAFE_INT_BOUNDS = new Set([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);

export class SchemaConversionError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'SchemaConversionError';
  }
}

/** Converts one zod schema to a structural OpenAPI v3 schema for a CRD. */
export function toStructuralSchema(schema: z.ZodType, path: string): JsonSchema {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', reused: 'inline', unrepresentable: 'throw' }) as JsonSchema;
  delete json.$schema;
  return structural(json, path, false);
}

function structural(node: JsonSchema, path: string, isProperty: boolean): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'additionalProperties' && value === false) continue; // pruning drops unknown fields
    if (SAFE_INT_BOUNDS.has(value as number) && (key === 'minimum' || key === 'maximum')) continue;
    if (!ALLOWED.has(key)) throw new SchemaConversionError(path, `"${key}" cannot be expressed in a structural CRD schema`);
    out[key] = value;
  }

  if (out['x-kubernetes-int-or-string'] === true) {
    intOrString(out, path);
  } else if (out.anyOf !== undefined) {
    throw new SchemaConversionError(path, 'unions are not structural: use optional fields with an exactly-one rule instead');
  } else if (typeof out.type !== 'string') {
    throw new SchemaConversionError(path, 'has no type');
  }
  if (isProperty && typeof out.description !== 'string') {
    throw new SchemaConversionError(path, 'has no description (kubectl explain shows it): add .describe()');
  }
  if (out.type === 'string' && out.enum === undefined && typeof out.maxLength !== 'number') {
    throw new SchemaConversionError(path, 'string without maxLength (CEL cost estimation needs one)');
  }
  if (out.type === 'array' && typeof out.maxItems !== 'number') {
    throw new SchemaConversionError(path, 'array without maxItems (CEL cost estimation needs one)');
  }

  if (out.properties !== undefined) {
    const props: JsonSchema = {};
    for (const [name, child] of Object.entries(out.properties as Record<string, JsonSchema>)) {
      props[name] = structural(child, `${path}.${name}`, true);
    }
    out.properties = props;
    if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  }
  if (out.items !== undefined) out.items = structural(out.items as JsonSchema, `${path}[]`, false);
  return ordered(out);
}

/**
 * Kubernetes' own form for quantities: `anyOf: [{type: integer}, {type: string}]` exactly (kube
 * allows nothing else in those branches), with x-kubernetes-int-or-string. The branches' value
 * validations move up a level, where each applies only to values of its type (pattern and
 * maxLength to strings, minimum and maximum to numbers).
 */
function intOrString(out: JsonSchema, path: string): void {
  const branches = (out.anyOf as JsonSchema[] | undefined) ?? [];
  const types = branches.map((b) => b.type).sort();
  if (branches.length !== 2 || types[0] !== 'integer' || types[1] !== 'string') {
    throw new SchemaConversionError(path, 'x-kubernetes-int-or-string needs exactly an integer and a string branch');
  }
  for (const branch of branches) {
    for (const [key, value] of Object.entries(branch)) {
      if (key === 'type' || (SAFE_INT_BOUNDS.has(value as number) && (key === 'minimum' || key === 'maximum'))) continue;
      if (out[key] !== undefined && out[key] !== value) throw new SchemaConversionError(path, `int-or-string branches disagree on ${key}`);
      out[key] = value;
    }
  }
  out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  delete out.type;
}

function ordered(node: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const key of KEY_ORDER) if (node[key] !== undefined) out[key] = node[key];
  return out;
}

export function crdName(def: KindDefinition): string {
  return `${def.plural}.${GROUP}`;
}

/** The CustomResourceDefinition object for one kind. */
export function buildCrd(def: KindDefinition): JsonSchema {
  const spec = toStructuralSchema(def.spec, `${def.kind}.spec`);
  const status = toStructuralSchema(def.status, `${def.kind}.status`);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: crdName(def),
      labels: { 'app.kubernetes.io/part-of': 'outrigger' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: def.listKind,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: [CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
          schema: {
            openAPIV3Schema: {
              description: def.description,
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: {
                  description: `APIVersion of this object: ${API_VERSION}.`,
                  type: 'string',
                },
                kind: {
                  description: `Kind of this object: ${def.kind}.`,
                  type: 'string',
                },
                // kube allows nothing else here: metadata is ObjectMeta, which kubectl explain knows.
                metadata: { type: 'object' },
                spec,
                status,
              },
            },
          },
        },
      ],
    },
  };
}

export function crdFileName(def: KindDefinition): string {
  return `${crdName(def)}.yaml`;
}

/** Every CRD as the YAML text `npm run generate` writes, in allKinds order. */
export function renderCrds(): { file: string; yaml: string }[] {
  return allKinds.map((def) => {
    const doc = new Document(buildCrd(def));
    doc.commentBefore = ` Generated by crds/generate.ts from the zod schema of ${def.kind}. Do not edit: change the schema and run npm run generate.`;
    return { file: crdFileName(def), yaml: doc.toString({ lineWidth: 0 }) };
  });
}

if (import.meta.main) {
  // --out=DIR writes elsewhere (to try a schema change against an apiserver before committing).
  const outArg = process.argv.find((a) => a.startsWith('--out='));
  const outDir = outArg ? outArg.slice('--out='.length) : CRD_DIR;
  for (const { file, yaml } of renderCrds()) {
    writeFileSync(join(outDir, file), yaml);
    console.log(`wrote ${join(outDir, file)}`);
  }
}
