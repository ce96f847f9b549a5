// The REST semantics of one resource, independent of HTTP: get, list, create, update, patch
// (JSON, merge, strategic, apply) and delete, in the order kube-apiserver applies its rules:
// decode (prune, strict field validation, defaults) → managed fields → system fields and the
// kind's strategy → validation → namespace lifecycle → storage with optimistic concurrency.
import { randomUUID } from 'node:crypto';
import type { ObjectStore, KubeObject } from '../storage/store.ts';
import type { Registry } from '../kinds/registry.ts';
import { apiVersionOf, type ResourceType } from '../kinds/types.ts';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  expired,
  forbidden,
  invalid,
  methodNotSupported,
  notFound,
  staleResourceVersion,
  unsupportedMediaType,
  type QualifiedResource,
} from './errors.ts';
import { generateName, managerFromUserAgent, validateObjectMeta, validateObjectMetaUpdate } from '../objects/meta.ts';
import { prune } from '../objects/schema/prune.ts';
import { applyDefaults } from '../objects/schema/defaults.ts';
import { validateValue } from '../objects/schema/validate.ts';
import { deepEqual, isObject } from '../objects/schema/walk.ts';
import { applyMergePatch } from '../objects/patch/merge-patch.ts';
import { applyJsonPatch, parseJsonPatch } from '../objects/patch/json-patch.ts';
import { applyStrategicMergePatch } from '../objects/patch/strategic.ts';
import {
  decodeManagedFields,
  encodeManagedFields,
  ApplyConflictError,
  recordApply,
  recordUpdate,
  type Actor,
  type FieldScope,
  type ManagerEntry,
} from '../objects/apply/managed.ts';
import { checkFieldSelector, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { decodeContinue, encodeContinue } from './pagination.ts';
import { toFieldSet } from '../objects/apply/typed.ts';
import { RULES_NOT_CHECKED, blocksRules, hasCelRules, validateCel } from '../objects/schema/cel.ts';

type Obj = Record<string, unknown>;

export type Subresource = 'status' | 'finalize' | undefined;

export interface Scope {
  rt: ResourceType;
  /** The request's namespace ('' for cluster-scoped kinds and all-namespace lists). */
  namespace: string;
  name?: string;
  subresource?: Subresource;
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
  userAgent?: string;
  fieldValidation?: FieldValidation;
  force?: boolean;
  /** Warning headers for the response. */
  warnings: string[];
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface DeleteOptions {
  propagationPolicy?: string;
  orphanDependents?: boolean;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: string[];
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export const PATCH_CONTENT_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

export interface ServiceDeps {
  store: ObjectStore;
  registry: Registry;
  now?: () => Date;
  /** Largest object the store accepts, like etcd's request limit (default 1.5 MiB). */
  maxObjectBytes?: number;
}

const NAMESPACES = 'core/namespaces';
const STANDARD_FINALIZERS = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

export function qualified(rt: ResourceType): QualifiedResource {
  return { group: rt.group, resource: rt.plural };
}

export function storageKey(rt: ResourceType, namespace: string, name: string): string {
  return rt.namespaced ? `${namespace}/${name}` : name;
}

function metaOf(o: KubeObject | Obj): Obj {
  return ((o as Obj).metadata ?? {}) as Obj;
}

/** RFC 3339 with second precision, as metav1.Time serializes. */
export function timestamp(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

export class ResourceService {
  readonly store: ObjectStore;
  readonly registry: Registry;
  readonly now: () => Date;
  readonly maxObjectBytes: number;

  constructor(deps: ServiceDeps) {
    this.store = deps.store;
    this.registry = deps.registry;
    this.now = deps.now ?? (() => new Date());
    this.maxObjectBytes = deps.maxObjectBytes ?? 1.5 * 1024 * 1024;
  }

  // ---- version conversion ----

  fromStorage(rt: ResourceType, stored: KubeObject): KubeObject {
    if (rt.fromStorage) return rt.fromStorage(stored);
    const apiVersion = apiVersionOf(rt);
    return stored.apiVersion === apiVersion ? stored : { ...stored, apiVersion };
  }

  toStorage(rt: ResourceType, obj: KubeObject): KubeObject {
    if (rt.toStorage) return rt.toStorage(obj);
    const apiVersion = rt.group ? `${rt.group}/${rt.storageVersion}` : rt.storageVersion;
    return obj.apiVersion === apiVersion ? obj : { ...obj, apiVersion };
  }

  // ---- reads ----

  getStored(rt: ResourceType, namespace: string, name: string): KubeObject | undefined {
    return this.store.get(rt.storageResource, storageKey(rt, namespace, name));
  }

  get(scope: Scope): KubeObject {
    const { rt, namespace, name } = scope;
    const stored = this.getStored(rt, namespace, name ?? '');
    if (!stored) throw notFound(qualified(rt), name ?? '');
    return this.fromStorage(rt, stored);
  }

  /** Parses selectors once for list and watch. */
  selectors(rt: ResourceType, opts: { labelSelector?: string; fieldSelector?: string }) {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector);
    checkFieldSelector(fields, (f) => f === 'metadata.name' || f === 'metadata.namespace' || !!rt.fieldSelectors?.[f]);
    return {
      matches: (obj: KubeObject): boolean =>
        matchesLabels(labels, metaOf(obj).labels as Record<string, string> | undefined) &&
        matchesFields(fields, (f) => {
          if (f === 'metadata.name') return metaOf(obj).name as string | undefined;
          if (f === 'metadata.namespace') return (metaOf(obj).namespace as string | undefined) ?? '';
          return rt.fieldSelectors?.[f]?.(obj);
        }),
      /** A name pinned by `metadata.name=` narrows the scan to one key. */
      pinnedName: fields.find((f) => f.field === 'metadata.name' && f.op === '=')?.value,
    };
  }

  list(scope: Scope, opts: ListOptions): ListResult {
    const { rt, namespace } = scope;
    const sel = this.selectors(rt, opts);
    if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 0)) throw badRequest('limit must be a non-negative integer');
    let rv = this.store.resourceVersion;
    let start = '';
    let state: Map<string, KubeObject> | IterableIterator<[string, KubeObject]>;
    if (opts.continue) {
      const token = decodeContinue(opts.continue);
      if (opts.resourceVersion && opts.resourceVersion !== '0') {
        throw badRequest('specifying resource version is not allowed when using continue');
      }
      try {
        state = this.store.stateAt(rt.storageResource, token.rv);
      } catch (err) {
        if (err instanceof ApiError && err.code === 410) {
          throw expired(
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
          );
        }
        throw err;
      }
      rv = token.rv;
      start = token.start;
    } else if (opts.resourceVersion && opts.resourceVersion !== '0') {
      const asked = parseResourceVersion(opts.resourceVersion);
      if (opts.resourceVersionMatch === 'Exact') {
        if (asked > this.store.resourceVersion) throw tooLargeResourceVersion(asked, this.store.resourceVersion);
        state = this.store.stateAt(rt.storageResource, asked);
        rv = asked;
      } else {
        if (asked > this.store.resourceVersion) throw tooLargeResourceVersion(asked, this.store.resourceVersion);
        state = this.store.entries(rt.storageResource);
      }
    } else {
      if (opts.resourceVersionMatch && opts.resourceVersionMatch !== 'NotOlderThan' && opts.resourceVersionMatch !== 'Exact') {
        throw badRequest(`resourceVersionMatch: Unsupported value: "${opts.resourceVersionMatch}"`);
      }
      state = this.store.entries(rt.storageResource);
    }
    const prefix = rt.namespaced && namespace ? `${namespace}/` : '';
    const keys: [string, KubeObject][] = [];
    for (const [k, v] of state instanceof Map ? state.entries() : state) {
      if (prefix && !k.startsWith(prefix)) continue;
      if (start && k < start) continue;
      if (sel.pinnedName !== undefined && metaOf(v).name !== sel.pinnedName) continue;
      keys.push([k, v]);
    }
    keys.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
    const items: KubeObject[] = [];
    let lastKey = '';
    let i = 0;
    for (; i < keys.length && items.length < limit; i++) {
      const [k, v] = keys[i]!;
      if (!sel.matches(v)) continue;
      items.push(this.fromStorage(rt, v));
      lastKey = k;
    }
    const result: ListResult = { items, resourceVersion: String(rv) };
    if (items.length >= limit) {
      const rest = keys.slice(i).filter(([, v]) => sel.matches(v)).length;
      if (rest > 0) {
        result.continue = encodeContinue(rv, lastKey);
        if (!opts.labelSelector && !opts.fieldSelector) result.remainingItemCount = rest;
      }
    }
    return result;
  }

  // ---- decoding ----

  #checkTypeMeta(rt: ResourceType, body: Obj, required: boolean): void {
    const apiVersion = body.apiVersion;
    const kind = body.kind;
    if (required || apiVersion !== undefined || kind !== undefined) {
      if (!kind) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body).slice(0, 1024)}'`);
      if (!apiVersion) throw badRequest(`Object 'apiVersion' is missing in '${JSON.stringify(body).slice(0, 1024)}'`);
      if (apiVersion !== apiVersionOf(rt)) {
        throw badRequest(`the API version in the data (${String(apiVersion)}) does not match the expected API version (${apiVersionOf(rt)})`);
      }
      if (kind !== rt.kind) {
        const name = String((body.metadata as Obj | undefined)?.name ?? '');
        throw invalid(rt.group, String(kind), name, [{ type: 'FieldValueInvalid', field: 'kind', badValue: kind, detail: `must be ${rt.kind}` }]);
      }
    }
  }

  /**
   * Turns a request body into a private, pruned, defaulted object of this version. Unknown fields
   * are an error in Strict mode and a warning in Warn mode, as with kube-apiserver's
   * fieldValidation.
   */
  decode(rt: ResourceType, body: unknown, opts: WriteOptions): KubeObject {
    if (!isObject(body)) throw badRequest(`${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: the request body must be a JSON object`);
    this.#checkTypeMeta(rt, body, !rt.builtin);
    const obj = clone(body) as KubeObject;
    obj.apiVersion = apiVersionOf(rt);
    obj.kind = rt.kind;
    if (obj.metadata !== undefined && !isObject(obj.metadata)) {
      throw badRequest(`${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: metadata must be an object`);
    }
    obj.metadata ??= {};
    this.#checkDecodableTypes(rt, obj);
    const dropped = prune(obj, rt.schema);
    const mode = opts.fieldValidation ?? 'Warn';
    if (dropped.length && mode === 'Strict') {
      throw badRequest(
        `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: strict decoding error: ${dropped.map((d) => `unknown field "${d}"`).join(', ')}`,
      );
    }
    if (dropped.length && mode === 'Warn') for (const d of dropped) opts.warnings.push(`unknown field "${d}"`);
    rt.strategy.normalize?.(obj);
    applyDefaults(obj, rt.schema);
    return obj;
  }

  /** Non-standard finalizers without a domain, newly added by this request, earn a warning. */
  #warnFinalizers(obj: KubeObject, old: KubeObject | undefined, warnings: string[]): void {
    const before = new Set(((old ? metaOf(old).finalizers : undefined) as string[] | undefined) ?? []);
    for (const f of (metaOf(obj).finalizers as string[] | undefined) ?? []) {
      if (before.has(f) || typeof f !== 'string' || f.includes('/') || STANDARD_FINALIZERS.has(f)) continue;
      warnings.push(
        `metadata.finalizers: "${f}": prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers`,
      );
    }
  }

  /** Built-in kinds are Go structs: a value of the wrong JSON type cannot even be decoded (400). */
  #checkDecodableTypes(rt: ResourceType, obj: KubeObject): void {
    const meta = obj.metadata as Obj;
    for (const f of ['name', 'namespace', 'generateName', 'resourceVersion', 'uid']) {
      if (meta[f] !== undefined && meta[f] !== null && typeof meta[f] !== 'string') {
        throw badRequest(
          `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: json: cannot unmarshal ${jsonKind(meta[f])} into Go struct field ObjectMeta.metadata.${f} of type string`,
        );
      }
    }
    for (const f of ['labels', 'annotations']) {
      const m = meta[f];
      if (m === undefined || m === null) continue;
      if (!isObject(m) || Object.values(m).some((v) => typeof v !== 'string')) {
        throw badRequest(
          `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: json: cannot unmarshal ${isObject(m) ? 'number' : jsonKind(m)} into Go struct field ObjectMeta.metadata.${f} of type string`,
        );
      }
    }
    if (rt.builtin) {
      for (const f of ['data', 'binaryData']) {
        const m = obj[f];
        if (!isObject(m)) continue;
        const bytes = rt.schema.properties?.[f]?.additionalProperties;
        if (typeof bytes === 'object' && bytes.format === 'byte') {
          for (const v of Object.values(m)) {
            if (typeof v !== 'string' || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v)) {
              throw badRequest(`${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: illegal base64 data at input byte 0`);
            }
          }
        }
      }
    }
  }

  // ---- validation ----

  #validate(rt: ResourceType, obj: KubeObject, old: KubeObject | undefined, warnings: string[]): void {
    void warnings;
    const meta = metaOf(obj);
    const metaErrs = validateObjectMeta(meta, { namespaced: rt.namespaced, nameRule: rt.nameRule });
    if (old) metaErrs.push(...validateObjectMetaUpdate(meta, metaOf(old)));
    // On update kube-apiserver checks metadata twice (generic rules, then the kind's own), and
    // reports both: the causes list each such error twice while the message shows it once.
    const errs = old ? [...metaErrs, ...metaErrs] : [...metaErrs];
    errs.push(...validateValue(obj, rt.schema, '', { skipRootProperties: ['metadata', 'apiVersion', 'kind'] }));
    if (!rt.builtin && hasCelRules(rt.schema)) {
      if (blocksRules(errs)) errs.push(RULES_NOT_CHECKED);
      else errs.push(...validateCel(obj, old, rt.schema));
    }
    errs.push(...(rt.strategy.validate?.(obj, old) ?? []));
    if (errs.length) throw invalid(rt.group, rt.kind, String(meta.name ?? ''), errs);
  }

  /**
   * Objects beyond etcd's request limit (1.5 MiB) but within the 3 MiB body limit fail in
   * kube-apiserver with etcd's own error, a 500 without a reason; the same shape here.
   */
  #checkSize(obj: KubeObject): void {
    const size = Buffer.byteLength(JSON.stringify(obj));
    if (size > this.maxObjectBytes) {
      const err = new ApiError(500, '', 'etcdserver: request is too large');
      delete (err.status as { reason?: string }).reason;
      throw err;
    }
  }

  #checkNamespaceForCreate(rt: ResourceType, namespace: string, name: string): void {
    if (!rt.namespaced) return;
    const ns = this.store.get(NAMESPACES, namespace);
    if (!ns) throw notFound({ group: '', resource: 'namespaces' }, namespace);
    if (metaOf(ns).deletionTimestamp || (ns.status as Obj | undefined)?.phase === 'Terminating') {
      throw forbidden(qualified(rt), name, `unable to create new content in namespace ${namespace} because it is being terminated`, [
        { reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' },
      ]);
    }
  }

  // ---- managed fields ----

  #fieldScope(rt: ResourceType, subresource: Subresource): FieldScope {
    if (subresource === 'status') return (p) => p[0] === 'f:status';
    if (rt.statusSubresource) return (p) => p[0] !== 'f:status';
    return () => true;
  }

  #actor(rt: ResourceType, opts: WriteOptions, subresource: Subresource): Actor {
    return {
      manager: opts.fieldManager || managerFromUserAgent(opts.userAgent),
      apiVersion: apiVersionOf(rt),
      ...(subresource ? { subresource } : {}),
    };
  }

  /** The managers an update starts from: the request's own list if it changed it, else the live one. */
  #baseManagers(next: KubeObject, live: KubeObject | undefined): ManagerEntry[] {
    const asked = metaOf(next).managedFields;
    const current = live ? metaOf(live).managedFields : undefined;
    if (asked === undefined || deepEqual(asked, current)) return decodeManagedFields(current);
    try {
      return decodeManagedFields(asked);
    } catch {
      return []; // an invalid list is reset, as kube-apiserver does
    }
  }

  // ---- writes ----

  async #persist(rt: ResourceType, namespace: string, name: string, obj: KubeObject | null, dryRun: boolean): Promise<KubeObject | null> {
    if (dryRun) return obj;
    const key = storageKey(rt, namespace, name);
    const committed = this.store.commit(rt.storageResource, key, obj === null ? null : this.toStorage(rt, obj));
    await committed.durable;
    return committed.object;
  }

  async create(scope: Scope, body: unknown, opts: WriteOptions): Promise<KubeObject> {
    const { rt } = scope;
    if (scope.subresource) throw methodNotSupported(qualified(rt), 'create');
    if (rt.answer) return rt.answer(this.decode(rt, body, { ...opts, fieldValidation: 'Ignore' }));
    const obj = this.decode(rt, body, opts);
    this.#ensureNamespace(rt, obj, scope.namespace);
    const managers = recordUpdate({
      live: {},
      next: obj,
      schema: rt.schema,
      managers: [],
      actor: this.#actor(rt, opts, undefined),
      scope: this.#fieldScope(rt, undefined),
      now: this.now(),
    });
    return this.#createPrepared(scope, obj, managers, opts);
  }

  #ensureNamespace(rt: ResourceType, obj: KubeObject, requestNamespace: string): void {
    const meta = metaOf(obj);
    const objNs = (meta.namespace as string | undefined) ?? '';
    const expected = rt.namespaced ? requestNamespace : '';
    if (objNs === expected) return;
    if (!objNs) meta.namespace = expected;
    else if (!expected) delete meta.namespace;
    else throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    if (!meta.namespace) delete meta.namespace;
  }

  async #createPrepared(scope: Scope, obj: KubeObject, managers: ManagerEntry[], opts: WriteOptions): Promise<KubeObject> {
    const { rt } = scope;
    const meta = metaOf(obj);
    if (!meta.name && typeof meta.generateName === 'string' && meta.generateName) meta.name = generateName(meta.generateName);
    this.#warnFinalizers(obj, undefined, opts.warnings);
    const now = this.now();
    meta.uid = randomUUID();
    meta.creationTimestamp = timestamp(now);
    if (rt.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    for (const f of ['deletionTimestamp', 'deletionGracePeriodSeconds', 'resourceVersion', 'selfLink']) delete meta[f];
    if (rt.statusSubresource && !rt.builtin) delete obj.status;
    rt.strategy.prepareForCreate?.(obj, { now, warnings: opts.warnings });
    meta.managedFields = encodeManagedFields(managers);
    if (!(meta.managedFields as unknown[]).length) delete meta.managedFields;
    this.#validate(rt, obj, undefined, opts.warnings);
    const name = String(meta.name);
    this.#checkNamespaceForCreate(rt, String(meta.namespace ?? ''), name);
    if (this.getStored(rt, String(meta.namespace ?? ''), name)) throw alreadyExists(qualified(rt), name);
    if (rt.crdName) this.#checkCrdNotTerminating(rt, 'create');
    this.#checkSize(obj);
    const stored = await this.#persist(rt, String(meta.namespace ?? ''), name, obj, !!opts.dryRun);
    return this.fromStorage(rt, stored!);
  }

  #checkCrdNotTerminating(rt: ResourceType, verb: string): void {
    const crd = this.store.get('apiextensions.k8s.io/customresourcedefinitions', rt.crdName!);
    if (crd && metaOf(crd).deletionTimestamp) {
      throw new ApiError(405, 'MethodNotAllowed', `${verb} not allowed while custom resource definition is terminating`, {});
    }
  }

  async update(scope: Scope, body: unknown, opts: WriteOptions): Promise<{ object: KubeObject; created: boolean }> {
    const { rt, namespace, name = '' } = scope;
    const next = this.decode(rt, body, opts);
    const meta = metaOf(next);
    if (meta.name !== undefined && meta.name !== name) {
      throw badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    }
    meta.name = name;
    this.#ensureNamespace(rt, next, namespace);
    const current = this.getStored(rt, namespace, name);
    if (!current) throw notFound(qualified(rt), name);
    const rv = meta.resourceVersion as string | undefined;
    if (rv && rv !== metaOf(current).resourceVersion) throw staleResourceVersion(qualified(rt), name);
    const object = await this.#updateExisting(scope, current, next, opts, undefined);
    return { object, created: false };
  }

  /** Shared tail of update, patch and apply: subresource rules, managed fields, strategy, validation, storage. */
  async #updateExisting(
    scope: Scope,
    current: KubeObject,
    requested: KubeObject,
    opts: WriteOptions,
    applied: ManagerEntry[] | undefined,
  ): Promise<KubeObject> {
    const { rt, namespace, name = '', subresource } = scope;
    const old = this.fromStorage(rt, current);
    let next = requested;
    if (subresource === 'status') {
      next = clone(old) as KubeObject;
      if (requested.status !== undefined) next.status = clone(requested.status);
      else delete next.status;
      metaOf(next).managedFields = metaOf(requested).managedFields;
    } else if (subresource === 'finalize') {
      next = clone(old) as KubeObject;
      const spec = ((next.spec as Obj | undefined) ??= {});
      spec.finalizers = clone(((requested.spec as Obj | undefined)?.finalizers as unknown[] | undefined) ?? []);
      metaOf(next).managedFields = metaOf(requested).managedFields;
    } else if (rt.statusSubresource) {
      if (old.status !== undefined) next.status = clone(old.status);
      else delete next.status;
    }
    this.#warnFinalizers(next, old, opts.warnings);
    const now = this.now();
    const managers =
      applied ??
      recordUpdate({
        live: old,
        next,
        schema: rt.schema,
        managers: this.#baseManagers(next, old),
        actor: this.#actor(rt, opts, subresource),
        scope: this.#fieldScope(rt, subresource),
        now,
      });

    const meta = metaOf(next);
    const oldMeta = metaOf(old);
    if (!meta.uid) meta.uid = oldMeta.uid;
    meta.creationTimestamp = oldMeta.creationTimestamp;
    for (const f of ['deletionTimestamp', 'deletionGracePeriodSeconds']) {
      if (oldMeta[f] !== undefined) meta[f] = oldMeta[f];
    }
    if (oldMeta.generation !== undefined) meta.generation = oldMeta.generation;
    else delete meta.generation;
    meta.resourceVersion = oldMeta.resourceVersion;
    delete meta.selfLink;
    if (!subresource) rt.strategy.prepareForUpdate?.(next, old, { now, warnings: opts.warnings });
    if (rt.tracksGeneration && specChanged(rt, next, old)) meta.generation = Number(oldMeta.generation ?? 0) + 1;
    meta.managedFields = encodeManagedFields(managers);
    if (!(meta.managedFields as unknown[]).length) delete meta.managedFields;
    this.#validate(rt, next, old, opts.warnings);

    // An update that changes nothing is not written (and produces no watch event).
    if (deepEqual(withoutManagedFieldTimes(next), withoutManagedFieldTimes(old))) return old;
    this.#checkSize(next);
    if (meta.deletionTimestamp && !((meta.finalizers as unknown[] | undefined)?.length) && !namespaceFinalizersPending(rt, next)) {
      // The last finalizer is gone: the object goes, and the caller sees it as it was released.
      if (!meta.finalizers || !(meta.finalizers as unknown[]).length) delete meta.finalizers;
      const stored = await this.#persist(rt, namespace, name, null, !!opts.dryRun);
      const rv = (stored?.metadata as Record<string, unknown> | undefined)?.resourceVersion;
      return { ...next, metadata: { ...meta, ...(rv ? { resourceVersion: rv } : {}) } };
    }
    const stored = await this.#persist(rt, namespace, name, next, !!opts.dryRun);
    return this.fromStorage(rt, stored!);
  }

  async patch(scope: Scope, type: PatchType, body: unknown, opts: WriteOptions): Promise<{ object: KubeObject; created: boolean }> {
    const { rt, namespace, name = '' } = scope;
    if (type === 'strategic' && !rt.strategicMerge) {
      throw unsupportedMediaType('application/strategic-merge-patch+json', [
        'application/json-patch+json',
        'application/merge-patch+json',
        'application/apply-patch+yaml',
      ]);
    }
    if (type === 'apply') return this.#apply(scope, body, opts);
    const current = this.getStored(rt, namespace, name);
    if (!current) throw notFound(qualified(rt), name);
    const base = this.fromStorage(rt, current) as Obj;
    let patched: Obj;
    if (type === 'json') patched = applyJsonPatch(base, parseJsonPatch(body));
    else if (type === 'merge') {
      if (!isObject(body)) throw badRequest('merge patch must be a JSON object');
      patched = applyMergePatch(base, body) as Obj;
    } else patched = applyStrategicMergePatch(base, body, rt.schema);
    const pmeta = metaOf(patched);
    if (pmeta.name !== undefined && pmeta.name !== name) {
      throw badRequest(`the name of the object (${String(pmeta.name)}) does not match the name on the URL (${name})`);
    }
    if (pmeta.resourceVersion !== undefined && pmeta.resourceVersion !== metaOf(current).resourceVersion) {
      throw staleResourceVersion(qualified(rt), name);
    }
    const next = this.decode(rt, patched, opts);
    metaOf(next).name = name;
    this.#ensureNamespace(rt, next, namespace);
    const object = await this.#updateExisting(scope, current, next, opts, undefined);
    return { object, created: false };
  }

  async #apply(scope: Scope, body: unknown, opts: WriteOptions): Promise<{ object: KubeObject; created: boolean }> {
    const { rt, namespace, name = '', subresource } = scope;
    if (!opts.fieldManager) {
      throw invalid('meta.k8s.io', 'PatchOptions', '', [{ type: 'FieldValueRequired', field: 'fieldManager', detail: 'is required for apply patch' }]);
    }
    if (!isObject(body)) throw badRequest('error decoding YAML: the apply configuration must be an object');
    this.#checkTypeMeta(rt, body, true);
    const config = clone(body) as KubeObject;
    const cmeta = (config.metadata ??= {}) as Obj;
    if (!isObject(cmeta)) throw badRequest('metadata must be an object');
    if (cmeta.name !== undefined && cmeta.name !== name) {
      throw badRequest(`the name of the object (${String(cmeta.name)}) does not match the name on the URL (${name})`);
    }
    if (cmeta.namespace !== undefined && rt.namespaced && cmeta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    // Unknown fields in the configuration are handled like any request body's.
    const dropped = prune(config, rt.schema);
    if (dropped.length && opts.fieldValidation === 'Strict') {
      throw badRequest(`${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: strict decoding error: ${dropped.map((d) => `unknown field "${d}"`).join(', ')}`);
    }
    if (dropped.length && opts.fieldValidation !== 'Ignore') for (const d of dropped) opts.warnings.push(`unknown field "${d}"`);
    const actor = this.#actor(rt, opts, subresource);
    const fscope = this.#fieldScope(rt, subresource);
    const current = this.getStored(rt, namespace, name);
    if (rt.statusSubresource && !subresource) delete config.status;
    if (!current) {
      if (subresource) throw notFound(qualified(rt), name);
      const result = recordApply({ live: {}, config, schema: rt.schema, managers: [], actor, scope: fscope, force: !!opts.force, now: this.now() });
      const obj = this.decode(rt, { ...result.object, apiVersion: apiVersionOf(rt), kind: rt.kind }, { ...opts, fieldValidation: 'Ignore' });
      metaOf(obj).name = name;
      this.#ensureNamespace(rt, obj, namespace);
      return { object: await this.#createPrepared(scope, obj, result.managers, opts), created: true };
    }
    const live = this.fromStorage(rt, current) as Obj;
    const liveForMerge = clone(live);
    delete (liveForMerge.metadata as Obj).managedFields;
    const input = {
      live: liveForMerge,
      config,
      schema: rt.schema,
      managers: decodeManagedFields(metaOf(live).managedFields),
      actor,
      scope: fscope,
      force: !!opts.force,
      now: this.now(),
    };
    let result;
    try {
      result = recordApply(input);
    } catch (err) {
      if (!(err instanceof ApplyConflictError) || !upgradableFromClientSideApply(actor.manager, live, err, rt)) throw err;
      // kubectl moving from client-side to server-side apply takes over what its
      // last-applied-configuration says it set, as kube-apiserver's lastAppliedManager allows.
      result = recordApply({ ...input, force: true });
    }
    const next = this.decode(rt, result.object, { ...opts, fieldValidation: 'Ignore' });
    metaOf(next).name = name;
    this.#ensureNamespace(rt, next, namespace);
    const object = await this.#updateExisting(scope, current, next, opts, result.managers);
    return { object, created: false };
  }

  async delete(scope: Scope, options: DeleteOptions, opts: WriteOptions): Promise<{ code: number; body: unknown }> {
    const { rt, namespace, name = '' } = scope;
    const current = this.getStored(rt, namespace, name);
    if (!current) throw notFound(qualified(rt), name);
    const meta = metaOf(current);
    const pre = options.preconditions;
    // Precondition failures name the kind (Widget.group), not the resource, as the storage layer does.
    const kindRef = { group: rt.group, resource: rt.kind };
    if (pre?.uid && pre.uid !== meta.uid) {
      throw conflict(
        kindRef,
        name,
        `the UID in the precondition (${pre.uid}) does not match the UID in record (${String(meta.uid ?? '')}). The object might have been deleted and then recreated`,
      );
    }
    if (pre?.resourceVersion && pre.resourceVersion !== meta.resourceVersion) {
      throw conflict(
        kindRef,
        name,
        `the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${String(meta.resourceVersion ?? '')}). The object might have been modified`,
      );
    }
    const policy = options.propagationPolicy ?? (options.orphanDependents === true ? 'Orphan' : undefined);
    if (policy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(policy)) {
      throw invalid('meta.k8s.io', 'DeleteOptions', '', [
        { type: 'FieldValueNotSupported', field: 'propagationPolicy', badValue: policy, detail: 'supported values: "Foreground", "Background", "Orphan", "nil"' },
      ]);
    }
    const finalizers = [...((meta.finalizers as string[] | undefined) ?? [])];
    if (!meta.deletionTimestamp) {
      if (policy === 'Orphan' && !finalizers.includes('orphan')) finalizers.push('orphan');
      if (policy === 'Foreground' && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
    }
    const dryRun = !!opts.dryRun;
    if (finalizers.length > 0 || namespaceFinalizersPending(rt, current)) {
      if (meta.deletionTimestamp && finalizers.length === ((meta.finalizers as unknown[] | undefined)?.length ?? 0)) {
        return { code: 200, body: this.fromStorage(rt, current) };
      }
      const next = clone(current) as KubeObject;
      const nmeta = metaOf(next);
      if (!nmeta.deletionTimestamp) {
        if (typeof nmeta.generation === 'number' && nmeta.generation > 0) nmeta.generation += 1;
        nmeta.deletionTimestamp = timestamp(this.now());
        nmeta.deletionGracePeriodSeconds = 0;
      }
      if (finalizers.length) nmeta.finalizers = finalizers;
      if (rt.storageResource === NAMESPACES) next.status = { ...((next.status as Obj | undefined) ?? {}), phase: 'Terminating' };
      const stored = await this.#persist(rt, namespace, name, this.fromStorage(rt, next), dryRun);
      return { code: 200, body: this.fromStorage(rt, (stored ?? next) as KubeObject) };
    }
    const stored = (await this.#persist(rt, namespace, name, null, dryRun)) ?? current;
    if (rt.returnDeletedObject) return { code: 200, body: this.fromStorage(rt, stored) };
    return {
      code: 200,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, ...(rt.group ? { group: rt.group } : {}), kind: rt.plural, uid: meta.uid },
      },
    };
  }

  async deleteCollection(scope: Scope, listOpts: ListOptions, options: DeleteOptions, opts: WriteOptions): Promise<unknown> {
    const { items } = this.list(scope, { ...listOpts, limit: undefined, continue: undefined });
    const deleted: unknown[] = [];
    for (const item of items) {
      const m = metaOf(item);
      try {
        const r = await this.delete({ ...scope, namespace: String(m.namespace ?? ''), name: String(m.name) }, options, opts);
        deleted.push(r.body);
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
    if (scope.rt.returnDeletedObject) {
      return { apiVersion: apiVersionOf(scope.rt), kind: scope.rt.listKind, metadata: { resourceVersion: String(this.store.resourceVersion) }, items: deleted };
    }
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' };
  }
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** True when every conflict of kubectl's apply is a field its client-side last-applied configuration set. */
function upgradableFromClientSideApply(manager: string, live: Obj, err: ApplyConflictError, rt: ResourceType): boolean {
  if (manager !== 'kubectl') return false;
  const text = (metaOf(live).annotations as Record<string, string> | undefined)?.[LAST_APPLIED];
  if (!text) return false;
  let lastApplied: unknown;
  try {
    lastApplied = JSON.parse(text);
  } catch {
    return false;
  }
  const allowed = toFieldSet(lastApplied, rt.schema);
  return err.conflicts.every((c) => allowed.has(c.path));
}

function namespaceFinalizersPending(rt: ResourceType, obj: KubeObject): boolean {
  if (rt.storageResource !== NAMESPACES) return false;
  return (((obj.spec as Obj | undefined)?.finalizers as unknown[] | undefined)?.length ?? 0) > 0;
}

/** Spec changes bump generation: anything but metadata (and status, when it has its own subresource). */
function specChanged(rt: ResourceType, next: KubeObject, old: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const c: Obj = { ...o };
    delete c.metadata;
    delete c.apiVersion;
    delete c.kind;
    if (rt.statusSubresource) delete c.status;
    return c;
  };
  return !deepEqual(strip(next), strip(old));
}

function withoutManagedFieldTimes(o: KubeObject): unknown {
  const meta = { ...metaOf(o) };
  if (Array.isArray(meta.managedFields)) {
    meta.managedFields = (meta.managedFields as Obj[]).map((e) => {
      const { time: _t, ...rest } = e;
      return rest;
    });
  }
  return { ...o, metadata: meta };
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

export function parseResourceVersion(rv: string): number {
  if (!/^\d+$/.test(rv)) {
    throw new ApiError(400, 'BadRequest', `invalid resource version: ${JSON.stringify(rv)}`);
  }
  return Number(rv);
}

export function tooLargeResourceVersion(asked: number, current: number): ApiError {
  return new ApiError(504, 'Timeout', `Too large resource version: ${asked}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}
