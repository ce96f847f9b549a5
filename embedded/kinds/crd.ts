// CustomResourceDefinitions: the CRD kind itself (apiextensions.k8s.io/v1), its validation and
// server-owned status, and turning a CRD into the resource types it serves.
import { OMIT_VALUE, fieldErr, type FieldError } from '../api/errors.ts';
import type { KubeObject } from '../storage/store.ts';
import { crdSchema, objectMetaSchema } from './core-schemas.ts';
import { dns1123LabelErrors, dns1123SubdomainErrors } from '../objects/meta.ts';
import type { JSONSchemaProps, PrinterColumn, ResourceType } from './types.ts';
import { crdSchemaErrors } from './crd-schema-checks.ts';

type Obj = Record<string, unknown>;

export const CRD_CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';
const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
/** The order kube-apiserver lists custom resource verbs in discovery. */
const CR_VERBS = ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'];

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  schema?: { openAPIV3Schema?: JSONSchemaProps };
  subresources?: { status?: Obj; scale?: Obj };
  additionalPrinterColumns?: PrinterColumn[];
  selectableFields?: { jsonPath: string }[];
}

export interface CrdSpec {
  group: string;
  names: { plural: string; singular?: string; kind: string; listKind?: string; shortNames?: string[]; categories?: string[] };
  scope: 'Namespaced' | 'Cluster';
  versions: CrdVersion[];
}

export function crdSpec(crd: KubeObject): CrdSpec {
  return crd.spec as CrdSpec;
}

function condition(type: string, status: string, reason: string, message: string, prev: Obj[] | undefined, now: string): Obj {
  const old = prev?.find((c) => c.type === type);
  const lastTransitionTime = old && old.status === status ? old.lastTransitionTime : now;
  return { type, status, lastTransitionTime, reason, message };
}

function computeStatus(crd: KubeObject, old: KubeObject | undefined, now: Date): Obj {
  const spec = crdSpec(crd);
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const prev = ((old?.status as Obj | undefined)?.conditions as Obj[] | undefined) ?? undefined;
  const conditions = [
    condition('NamesAccepted', 'True', 'NoConflicts', 'no conflicts found', prev, stamp),
    condition('Established', 'True', 'InitialNamesAccepted', 'the initial names have been accepted', prev, stamp),
  ];
  if ((crd.metadata as Obj | undefined)?.deletionTimestamp) {
    conditions.push(condition('Terminating', 'True', 'InstanceDeletionInProgress', 'CustomResource deletion is in progress', prev, stamp));
  }
  const storage = spec.versions.find((v) => v.storage)?.name;
  const stored = new Set<string>(((old?.status as Obj | undefined)?.storedVersions as string[] | undefined) ?? []);
  if (storage) stored.add(storage);
  return { conditions, acceptedNames: spec.names, storedVersions: [...stored] };
}

function defaultCrd(crd: KubeObject): void {
  const spec = crd.spec as CrdSpec | undefined;
  if (!spec || typeof spec !== 'object') return;
  const names = spec.names;
  if (names && typeof names === 'object' && typeof names.kind === 'string') {
    names.singular ??= names.kind.toLowerCase();
    names.listKind ??= `${names.kind}List`;
  }
  (spec as unknown as Obj).conversion ??= { strategy: 'None' };
}

function validateCrd(crd: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const spec = crd.spec as Partial<CrdSpec> | undefined;
  if (!spec) return [fieldErr.required('spec', '')];
  const name = String((crd.metadata as Obj | undefined)?.name ?? '');
  const group = spec.group ?? '';
  const plural = spec.names?.plural ?? '';
  if (name !== `${plural}.${group}`) errs.push(fieldErr.invalid('metadata.name', name, 'must be spec.names.plural+"."+spec.group'));
  if (!group) errs.push(fieldErr.required('spec.group', ''));
  else {
    for (const e of dns1123SubdomainErrors(group)) errs.push(fieldErr.invalid('spec.group', group, e));
    if (!group.includes('.')) errs.push(fieldErr.invalid('spec.group', group, 'should be a domain with at least one dot'));
  }
  for (const [field, value] of [
    ['plural', spec.names?.plural],
    ['singular', spec.names?.singular],
  ] as const) {
    if (!value) errs.push(fieldErr.required(`spec.names.${field}`, ''));
    else for (const e of dns1123LabelErrors(value)) errs.push(fieldErr.invalid(`spec.names.${field}`, value, e));
  }
  if (!spec.names?.kind) errs.push(fieldErr.required('spec.names.kind', ''));
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') {
    errs.push(fieldErr.notSupported('spec.scope', spec.scope ?? '', ['Cluster', 'Namespaced']));
  }
  const versions = spec.versions ?? [];
  if (versions.filter((v) => v.storage).length !== 1) {
    errs.push(fieldErr.invalid('spec.versions', OMIT_VALUE, 'must have exactly one version marked as storage version'));
  }
  // kube-apiserver reports a schema shared by every version under spec.validation.
  const schemas = versions.map((v) => JSON.stringify(v.schema?.openAPIV3Schema ?? null));
  const shared = versions.length > 0 && schemas.every((x) => x === schemas[0]);
  versions.forEach((v, i) => {
    if (!v.name) errs.push(fieldErr.required(`spec.versions[${i}].name`, ''));
    else for (const e of dns1123LabelErrors(v.name)) errs.push(fieldErr.invalid(`spec.versions[${i}].name`, v.name, e));
    const root = v.schema?.openAPIV3Schema;
    if (!root) errs.push(fieldErr.required(`spec.versions[${i}].schema.openAPIV3Schema`, 'schemas are required'));
    else if (!shared || i === 0) {
      errs.push(...crdSchemaErrors(root, shared ? 'spec.validation.openAPIV3Schema' : `spec.versions[${i}].schema.openAPIV3Schema`));
    }
  });
  if (old) {
    const oldSpec = crdSpec(old);
    if (oldSpec.scope !== spec.scope) errs.push(fieldErr.invalid('spec.scope', spec.scope, 'field is immutable'));
  }
  return errs;
}

export const crdType: ResourceType = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  kind: 'CustomResourceDefinition',
  listKind: 'CustomResourceDefinitionList',
  plural: 'customresourcedefinitions',
  singular: 'customresourcedefinition',
  shortNames: ['crd', 'crds'],
  categories: ['api-extensions'],
  namespaced: false,
  storageResource: 'apiextensions.k8s.io/customresourcedefinitions',
  storageVersion: 'v1',
  verbs: ALL_VERBS,
  statusSubresource: true,
  tracksGeneration: true,
  schema: crdSchema,
  builtin: true,
  nameRule: 'subdomain',
  strategicMerge: false,
  returnDeletedObject: true,
  openapiName: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition',
  table: {
    columns: [{ name: 'Created At', type: 'date', description: 'When the definition was created.' }],
    cells: (o) => [((o.metadata as Obj | undefined)?.creationTimestamp as string | undefined) ?? null],
  },
  strategy: {
    normalize: defaultCrd,
    prepareForCreate(obj, ctx) {
      const m = obj.metadata as Obj;
      const finalizers = (m.finalizers as string[] | undefined) ?? [];
      if (!finalizers.includes(CRD_CLEANUP_FINALIZER)) m.finalizers = [...finalizers, CRD_CLEANUP_FINALIZER];
      obj.status = computeStatus(obj, undefined, ctx.now);
    },
    prepareForUpdate(obj, old, ctx) {
      obj.status = computeStatus(obj, old, ctx.now);
    },
    validate: validateCrd,
  },
};

/** Recomputes server-owned CRD status (used by the status subresource and the lifecycle controller). */
export function crdStatus(crd: KubeObject, old: KubeObject | undefined, now: Date): Obj {
  return computeStatus(crd, old, now);
}

function reverseDomain(group: string): string {
  return group.split('.').reverse().join('.');
}

const DEFAULT_COLUMNS: PrinterColumn[] = [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }];

function selectorFor(jsonPath: string): (o: KubeObject) => string | undefined {
  const parts = jsonPath.replace(/^\./, '').split('.');
  return (o) => {
    let v: unknown = o;
    for (const p of parts) v = v && typeof v === 'object' ? (v as Obj)[p] : undefined;
    return v === undefined || v === null ? undefined : String(v);
  };
}

/** The resource types a CRD serves: one per served version. */
export function crdToResourceTypes(crd: KubeObject): ResourceType[] {
  const spec = crdSpec(crd);
  const name = String((crd.metadata as Obj).name);
  const storageVersion = spec.versions.find((v) => v.storage)?.name ?? spec.versions[0]?.name ?? 'v1';
  return spec.versions
    .filter((v) => v.served)
    .map((v): ResourceType => {
      const raw = v.schema?.openAPIV3Schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
      const schema: JSONSchemaProps = {
        ...raw,
        properties: {
          ...(raw.properties ?? {}),
          apiVersion: raw.properties?.apiVersion ?? { type: 'string', description: 'Versioned schema of this representation of the object.' },
          kind: raw.properties?.kind ?? { type: 'string', description: 'Kind of object this is.' },
          metadata: objectMetaSchema,
        },
      };
      const columns = v.additionalPrinterColumns?.length ? v.additionalPrinterColumns : DEFAULT_COLUMNS;
      const fieldSelectors: Record<string, (o: KubeObject) => string | undefined> = {};
      for (const f of v.selectableFields ?? []) fieldSelectors[f.jsonPath.replace(/^\./, '')] = selectorFor(f.jsonPath);
      return {
        group: spec.group,
        version: v.name,
        kind: spec.names.kind,
        listKind: spec.names.listKind ?? `${spec.names.kind}List`,
        plural: spec.names.plural,
        singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
        shortNames: spec.names.shortNames ?? [],
        categories: spec.names.categories ?? [],
        namespaced: spec.scope === 'Namespaced',
        storageResource: `${spec.group}/${spec.names.plural}`,
        storageVersion,
        verbs: CR_VERBS,
        statusSubresource: !!v.subresources?.status,
        tracksGeneration: true,
        schema,
        printerColumns: columns,
        builtin: false,
        crdName: name,
        nameRule: 'subdomain',
        strategicMerge: false,
        returnDeletedObject: false,
        openapiName: `${reverseDomain(spec.group)}.${v.name}.${spec.names.kind}`,
        fieldSelectors,
        ...(v.deprecated ? { deprecated: true } : {}),
        ...(v.deprecationWarning ? { deprecationWarning: v.deprecationWarning } : {}),
        strategy: {},
      };
    });
}
