// The built-in kinds: Namespaces, Secrets, ConfigMaps, Events (core/v1 and events.k8s.io/v1) and
// Leases, with the per-kind rules kube-apiserver applies to them.
import { fieldErr, type FieldError } from '../api/errors.ts';
import { ageOf } from '../api/human-duration.ts';
import type { KubeObject } from '../storage/store.ts';
import { configMapSchema, coreEventSchema, eventsV1EventSchema, leaseSchema, namespaceSchema, secretSchema } from './core-schemas.ts';
import { coreToEventsV1, eventsV1ToCore } from './events.ts';
import type { ResourceType } from './types.ts';

type Obj = Record<string, unknown>;
const meta = (o: KubeObject): Obj => (o.metadata ?? {}) as Obj;

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const MAX_DATA_BYTES = 1024 * 1024;

function configKeyErrors(key: string): string[] {
  const errs: string[] = [];
  if (key.length > 253) errs.push('must be no more than 253 characters');
  if (!CONFIG_KEY.test(key)) {
    errs.push(
      "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    );
  }
  if (key === '.' || key === '..') errs.push(`must not be '${key}'`);
  else if (key.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

function byteLength(values: Obj | undefined, base64: boolean): number {
  let n = 0;
  for (const v of Object.values(values ?? {})) n += base64 ? Buffer.from(String(v), 'base64').length : Buffer.byteLength(String(v));
  return n;
}

function immutableDataErrors(obj: KubeObject, old: KubeObject | undefined, fields: string[]): FieldError[] {
  if (!old || old.immutable !== true) return [];
  const errs: FieldError[] = [];
  if (obj.immutable !== true) errs.push(fieldErr.forbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const f of fields) {
    if (JSON.stringify(obj[f] ?? {}) !== JSON.stringify(old[f] ?? {})) {
      errs.push(fieldErr.forbidden(f, 'field is immutable when `immutable` is set'));
    }
  }
  return errs;
}

const ageColumn = { name: 'Age', type: 'string', description: 'Time since the object was created.' };
const age = (o: KubeObject, now: Date) => ageOf(meta(o).creationTimestamp, now);

export const namespaceType: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'Namespace',
  listKind: 'NamespaceList',
  plural: 'namespaces',
  singular: 'namespace',
  shortNames: ['ns'],
  categories: [],
  namespaced: false,
  storageResource: 'core/namespaces',
  storageVersion: 'v1',
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  statusSubresource: true,
  tracksGeneration: false,
  schema: namespaceSchema,
  builtin: true,
  nameRule: 'label',
  strategicMerge: true,
  returnDeletedObject: true,
  openapiName: 'io.k8s.api.core.v1.Namespace',
  fieldSelectors: { 'status.phase': (o) => (o.status as Obj | undefined)?.phase as string | undefined },
  table: {
    columns: [{ name: 'Status', type: 'string', description: 'The phase of the namespace.' }, ageColumn],
    cells: (o, now) => [(o.status as Obj | undefined)?.phase ?? '', age(o, now)],
  },
  strategy: {
    // The name label is a default (set while decoding), so the writer's managed fields own it.
    normalize: setNameLabel,
    prepareForCreate(obj) {
      obj.status = { phase: 'Active' };
      const spec = ((obj.spec as Obj | undefined) ??= {});
      const finalizers = (spec.finalizers as string[] | undefined) ?? [];
      if (!finalizers.includes('kubernetes')) spec.finalizers = [...finalizers, 'kubernetes'];
    },
    prepareForUpdate(obj, old) {
      // spec.finalizers only changes through /finalize, status only through /status.
      obj.spec = structuredClone(old.spec ?? {});
      obj.status = structuredClone(old.status ?? {});
      setNameLabel(obj);
    },
  },
};

function foldStringData(obj: KubeObject): void {
  const stringData = obj.stringData as Obj | undefined;
  if (!stringData) return;
  const data = { ...((obj.data as Obj | undefined) ?? {}) };
  for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(String(v ?? ''), 'utf8').toString('base64');
  obj.data = data;
  delete obj.stringData;
}

function setNameLabel(obj: KubeObject): void {
  const m = meta(obj);
  m.labels = { ...((m.labels as Obj | undefined) ?? {}), 'kubernetes.io/metadata.name': m.name };
}

export const secretType: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'Secret',
  listKind: 'SecretList',
  plural: 'secrets',
  singular: 'secret',
  shortNames: [],
  categories: [],
  namespaced: true,
  storageResource: 'core/secrets',
  storageVersion: 'v1',
  verbs: ALL_VERBS,
  statusSubresource: false,
  tracksGeneration: false,
  schema: secretSchema,
  builtin: true,
  nameRule: 'subdomain',
  strategicMerge: true,
  returnDeletedObject: false,
  openapiName: 'io.k8s.api.core.v1.Secret',
  fieldSelectors: { type: (o) => o.type as string | undefined },
  table: {
    columns: [
      { name: 'Type', type: 'string', description: 'The type of the secret.' },
      { name: 'Data', type: 'string', description: 'The number of entries in data.' },
      ageColumn,
    ],
    cells: (o, now) => [o.type ?? '', Object.keys((o.data as Obj | undefined) ?? {}).length, age(o, now)],
  },
  strategy: {
    normalize(obj) {
      if (!obj.type) obj.type = 'Opaque';
    },
    // stringData is folded into data after managed fields are recorded, as kube-apiserver does.
    prepareForCreate: foldStringData,
    prepareForUpdate: foldStringData,
    validate(obj, old) {
      const errs: FieldError[] = [];
      const data = (obj.data as Obj | undefined) ?? {};
      for (const key of Object.keys(data)) for (const e of configKeyErrors(key)) errs.push(fieldErr.invalid(`data[${key}]`, key, e));
      if (byteLength(data, true) > MAX_DATA_BYTES) errs.push(fieldErr.tooLong('data', `may not be more than ${MAX_DATA_BYTES} bytes`));
      if (old && obj.type !== old.type) errs.push(fieldErr.invalid('type', obj.type, 'field is immutable'));
      errs.push(...immutableDataErrors(obj, old, ['data']));
      return errs;
    },
  },
};

export const configMapType: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  listKind: 'ConfigMapList',
  plural: 'configmaps',
  singular: 'configmap',
  shortNames: ['cm'],
  categories: [],
  namespaced: true,
  storageResource: 'core/configmaps',
  storageVersion: 'v1',
  verbs: ALL_VERBS,
  statusSubresource: false,
  tracksGeneration: false,
  schema: configMapSchema,
  builtin: true,
  nameRule: 'subdomain',
  strategicMerge: true,
  returnDeletedObject: false,
  openapiName: 'io.k8s.api.core.v1.ConfigMap',
  table: {
    columns: [{ name: 'Data', type: 'string', description: 'Number of entries in data and binaryData.' }, ageColumn],
    cells: (o, now) => [
      Object.keys((o.data as Obj | undefined) ?? {}).length + Object.keys((o.binaryData as Obj | undefined) ?? {}).length,
      age(o, now),
    ],
  },
  strategy: {
    validate(obj, old) {
      const errs: FieldError[] = [];
      const data = (obj.data as Obj | undefined) ?? {};
      const binary = (obj.binaryData as Obj | undefined) ?? {};
      for (const key of Object.keys(data)) for (const e of configKeyErrors(key)) errs.push(fieldErr.invalid(`data[${key}]`, key, e));
      for (const key of Object.keys(binary)) {
        for (const e of configKeyErrors(key)) errs.push(fieldErr.invalid(`binaryData[${key}]`, key, e));
        if (key in data) errs.push(fieldErr.invalid(`binaryData[${key}]`, key, 'duplicate of key present in data'));
      }
      if (byteLength(data, false) + byteLength(binary, true) > MAX_DATA_BYTES) {
        errs.push(fieldErr.tooLong('[]', `may not be more than ${MAX_DATA_BYTES} bytes`));
      }
      errs.push(...immutableDataErrors(obj, old, ['data', 'binaryData']));
      return errs;
    },
  },
};

function eventObjectCell(o: KubeObject): string {
  const ref = (o.involvedObject as Obj | undefined) ?? {};
  return `${String(ref.kind ?? '').toLowerCase()}/${String(ref.name ?? '')}`;
}

function eventLastSeen(o: KubeObject, now: Date): string {
  const series = o.series as Obj | undefined;
  const t = series?.lastObservedTime ?? o.lastTimestamp ?? o.eventTime ?? meta(o).creationTimestamp;
  return ageOf(t, now);
}

const eventSelectors: Record<string, (o: KubeObject) => string | undefined> = {
  'involvedObject.kind': (o) => (o.involvedObject as Obj | undefined)?.kind as string | undefined,
  'involvedObject.namespace': (o) => (o.involvedObject as Obj | undefined)?.namespace as string | undefined,
  'involvedObject.name': (o) => (o.involvedObject as Obj | undefined)?.name as string | undefined,
  'involvedObject.uid': (o) => (o.involvedObject as Obj | undefined)?.uid as string | undefined,
  'involvedObject.apiVersion': (o) => (o.involvedObject as Obj | undefined)?.apiVersion as string | undefined,
  'involvedObject.resourceVersion': (o) => (o.involvedObject as Obj | undefined)?.resourceVersion as string | undefined,
  'involvedObject.fieldPath': (o) => (o.involvedObject as Obj | undefined)?.fieldPath as string | undefined,
  reason: (o) => o.reason as string | undefined,
  reportingComponent: (o) => o.reportingComponent as string | undefined,
  source: (o) => (o.source as Obj | undefined)?.component as string | undefined,
  type: (o) => o.type as string | undefined,
};

const eventTable = {
  columns: [
    { name: 'Last Seen', type: 'string', description: 'Time since the event last occurred.' },
    { name: 'Type', type: 'string', description: 'Normal or Warning.' },
    { name: 'Reason', type: 'string', description: 'Why the event happened.' },
    { name: 'Object', type: 'string', description: 'The object the event is about.' },
    { name: 'Message', type: 'string', description: 'Human-readable description.' },
  ],
  cells: (o: KubeObject, now: Date) => [eventLastSeen(o, now), o.type ?? '', o.reason ?? '', eventObjectCell(o), o.message ?? ''],
};

export const coreEventType: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'Event',
  listKind: 'EventList',
  plural: 'events',
  singular: 'event',
  shortNames: ['ev'],
  categories: [],
  namespaced: true,
  storageResource: 'core/events',
  storageVersion: 'v1',
  verbs: ALL_VERBS,
  statusSubresource: false,
  tracksGeneration: false,
  schema: coreEventSchema,
  builtin: true,
  nameRule: 'subdomain',
  strategicMerge: true,
  returnDeletedObject: false,
  openapiName: 'io.k8s.api.core.v1.Event',
  fieldSelectors: eventSelectors,
  table: eventTable,
  strategy: {
    validate(obj) {
      const errs: FieldError[] = [];
      const ref = (obj.involvedObject as Obj | undefined) ?? {};
      const ns = meta(obj).namespace;
      if (ref.namespace && ns && ref.namespace !== ns) {
        errs.push(fieldErr.invalid('involvedObject.namespace', ref.namespace, 'does not match event.namespace'));
      }
      return errs;
    },
  },
};

export const eventsV1EventType: ResourceType = {
  ...coreEventType,
  group: 'events.k8s.io',
  version: 'v1',
  schema: eventsV1EventSchema,
  openapiName: 'io.k8s.api.events.v1.Event',
  strategicMerge: true,
  fromStorage: coreToEventsV1,
  toStorage: eventsV1ToCore,
  table: {
    columns: eventTable.columns,
    cells: (o, now) => eventTable.cells(eventsV1ToCore(o), now),
  },
  strategy: {
    validate(obj) {
      const errs: FieldError[] = [];
      if (!obj.eventTime) errs.push(fieldErr.required('eventTime', ''));
      if (!obj.reportingController) errs.push(fieldErr.required('reportingController', ''));
      if (!obj.reportingInstance) errs.push(fieldErr.required('reportingInstance', ''));
      if (!obj.action) errs.push(fieldErr.required('action', ''));
      if (!obj.reason) errs.push(fieldErr.required('reason', ''));
      if (obj.type !== 'Normal' && obj.type !== 'Warning') errs.push(fieldErr.notSupported('type', obj.type ?? '', ['Normal', 'Warning']));
      return errs;
    },
  },
};

export const leaseType: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  listKind: 'LeaseList',
  plural: 'leases',
  singular: 'lease',
  shortNames: [],
  categories: [],
  namespaced: true,
  storageResource: 'coordination.k8s.io/leases',
  storageVersion: 'v1',
  verbs: ALL_VERBS,
  statusSubresource: false,
  tracksGeneration: false,
  schema: leaseSchema,
  builtin: true,
  nameRule: 'subdomain',
  strategicMerge: true,
  returnDeletedObject: false,
  openapiName: 'io.k8s.api.coordination.v1.Lease',
  table: {
    columns: [{ name: 'Holder', type: 'string', description: 'Identity of the current holder.' }, ageColumn],
    cells: (o, now) => [((o.spec as Obj | undefined)?.holderIdentity as string | undefined) ?? '', age(o, now)],
  },
  strategy: {},
};

export const BUILTIN_TYPES: ResourceType[] = [namespaceType, secretType, configMapType, coreEventType, eventsV1EventType, leaseType];
