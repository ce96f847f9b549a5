// Typed access to one kind of resource (group, version, plural) on a Kubernetes API server.
import type { KubeRest, Query } from './rest.ts';
import { ContentTypes } from './rest.ts';

export interface ResourceRef {
  group: string; // '' for the core group
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string | Date;
  creationTimestamp?: string | Date;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface ObjectList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface ObjectKey {
  namespace?: string;
  name: string;
}

export const apiVersionOf = (ref: ResourceRef): string => (ref.group ? `${ref.group}/${ref.version}` : ref.version);

export function objectKeyString(key: ObjectKey): string {
  return key.namespace ? `${key.namespace}/${key.name}` : key.name;
}

export function parseObjectKey(key: string): ObjectKey {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export function keyOf(obj: KubeObject): string {
  return objectKeyString({ namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' });
}

export class ResourceClient<T extends KubeObject = KubeObject> {
  readonly rest: KubeRest;
  readonly ref: ResourceRef;

  constructor(rest: KubeRest, ref: ResourceRef) {
    this.rest = rest;
    this.ref = ref;
  }

  /** The collection path; namespace undefined on a namespaced kind means all namespaces. */
  collectionPath(namespace?: string): string {
    const base = this.ref.group ? `/apis/${this.ref.group}/${this.ref.version}` : `/api/${this.ref.version}`;
    return this.ref.namespaced && namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${this.ref.plural}` : `${base}/${this.ref.plural}`;
  }

  objectPath(key: ObjectKey, subresource?: string): string {
    const path = `${this.collectionPath(key.namespace)}/${encodeURIComponent(key.name)}`;
    return subresource ? `${path}/${subresource}` : path;
  }

  list(namespace?: string, query: Query = {}, signal?: AbortSignal): Promise<ObjectList<T>> {
    return this.rest.request<ObjectList<T>>('GET', this.collectionPath(namespace), { query, signal, isList: true });
  }

  get(key: ObjectKey, signal?: AbortSignal): Promise<T> {
    return this.rest.request<T>('GET', this.objectPath(key), { signal });
  }

  create(obj: T, signal?: AbortSignal): Promise<T> {
    return this.rest.request<T>('POST', this.collectionPath(obj.metadata.namespace), { body: { apiVersion: apiVersionOf(this.ref), kind: this.ref.kind, ...obj }, signal });
  }

  replace(obj: T, signal?: AbortSignal): Promise<T> {
    return this.rest.request<T>('PUT', this.objectPath(keyFromObject(obj)), { body: obj, signal });
  }

  mergePatch(key: ObjectKey, patch: unknown, opts: { subresource?: string; signal?: AbortSignal } = {}): Promise<T> {
    return this.rest.request<T>('PATCH', this.objectPath(key, opts.subresource), { body: patch, contentType: ContentTypes.mergePatch, signal: opts.signal });
  }

  jsonPatch(key: ObjectKey, ops: unknown[], opts: { subresource?: string; signal?: AbortSignal } = {}): Promise<T> {
    return this.rest.request<T>('PATCH', this.objectPath(key, opts.subresource), { body: ops, contentType: ContentTypes.jsonPatch, signal: opts.signal });
  }

  apply(obj: T, fieldManager: string, opts: { force?: boolean; subresource?: string; signal?: AbortSignal } = {}): Promise<T> {
    return this.rest.request<T>('PATCH', this.objectPath(keyFromObject(obj), opts.subresource), {
      body: { apiVersion: apiVersionOf(this.ref), kind: this.ref.kind, ...obj },
      contentType: ContentTypes.applyPatch,
      query: { fieldManager, force: opts.force ? 'true' : undefined },
      signal: opts.signal,
    });
  }

  delete(key: ObjectKey, signal?: AbortSignal): Promise<unknown> {
    return this.rest.request('DELETE', this.objectPath(key), { signal });
  }

  watch(namespace: string | undefined, query: Query, signal: AbortSignal) {
    return this.rest.watch(this.collectionPath(namespace), query, signal);
  }
}

function keyFromObject(obj: KubeObject): ObjectKey {
  return { namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' };
}
