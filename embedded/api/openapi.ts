// OpenAPI documents generated from the registry: v3 per group-version (what kubectl explain,
// client-side apply and field-validation detection read) and v2 as one JSON document.
// Documents are rebuilt only when the registry changes (a CRD is added, changed or removed).
import { createHash } from 'node:crypto';
import type { Registry } from '../kinds/registry.ts';
import { objectMetaSchema } from '../kinds/core-schemas.ts';
import type { JSONSchemaProps, ResourceType } from '../kinds/types.ts';

type Obj = Record<string, unknown>;

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const LIST_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta';
const STATUS = 'io.k8s.apimachinery.pkg.apis.meta.v1.Status';
const PATCH = 'io.k8s.apimachinery.pkg.apis.meta.v1.Patch';
const DELETE_OPTIONS = 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions';
const VERSION = 'v1.36.0';

export function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

function gvk(rt: ResourceType): Obj {
  return { group: rt.group, kind: rt.kind, version: rt.version };
}

/** A kind's schema as published: metadata by reference, GVK extension attached. */
function publishedSchema(rt: ResourceType, ref: (name: string) => string): Obj {
  const s = structuredClone(rt.schema) as Obj;
  const props = ((s.properties as Obj | undefined) ?? {}) as Obj;
  props.metadata = {
    description: "Standard object's metadata.",
    allOf: [{ $ref: ref(OBJECT_META) }],
  };
  s.properties = props;
  s['x-kubernetes-group-version-kind'] = [gvk(rt)];
  return s;
}

function listSchema(rt: ResourceType, ref: (name: string) => string): Obj {
  return {
    description: `${rt.listKind} is a list of ${rt.kind}`,
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: { type: 'string', description: 'Versioned schema of this representation of the object.' },
      kind: { type: 'string', description: 'Kind of object this is.' },
      items: { type: 'array', description: `List of ${rt.plural}.`, items: { $ref: ref(rt.openapiName) } },
      metadata: { description: 'Standard list metadata.', allOf: [{ $ref: ref(LIST_META) }] },
    },
    'x-kubernetes-group-version-kind': [{ ...gvk(rt), kind: rt.listKind }],
  };
}

const commonSchemas: Record<string, JSONSchemaProps | Obj> = {
  [OBJECT_META]: objectMetaSchema,
  [LIST_META]: {
    type: 'object',
    description: 'Metadata of a list.',
    properties: {
      resourceVersion: { type: 'string', description: 'Version of the list, for watches.' },
      continue: { type: 'string', description: 'Token for the next page of a paginated list.' },
      remainingItemCount: { type: 'integer', format: 'int64', description: 'Items after this page.' },
    },
  },
  [STATUS]: {
    type: 'object',
    description: 'Result of an operation that returns no object.',
    properties: {
      status: { type: 'string' },
      message: { type: 'string' },
      reason: { type: 'string' },
      code: { type: 'integer', format: 'int32' },
      details: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
  },
  [PATCH]: { type: 'object', description: 'A patch body (JSON patch, merge patch, strategic merge patch or apply configuration).' },
  [DELETE_OPTIONS]: {
    type: 'object',
    description: 'Options for deletion.',
    properties: {
      propagationPolicy: { type: 'string' },
      gracePeriodSeconds: { type: 'integer', format: 'int64' },
      preconditions: { type: 'object', properties: { uid: { type: 'string' }, resourceVersion: { type: 'string' } } },
      dryRun: { type: 'array', items: { type: 'string' } },
    },
  },
};

const QUERY_PARAMS: Record<string, Obj> = {
  dryRun: { name: 'dryRun', in: 'query', description: 'When All, the request is validated but not persisted.', schema: { type: 'string', uniqueItems: true } },
  fieldManager: { name: 'fieldManager', in: 'query', description: 'Name of the actor making the change.', schema: { type: 'string', uniqueItems: true } },
  fieldValidation: {
    name: 'fieldValidation',
    in: 'query',
    description: 'Ignore, Warn (default) or Strict handling of unknown or duplicate fields.',
    schema: { type: 'string', uniqueItems: true },
  },
  force: { name: 'force', in: 'query', description: 'Force apply requests to take conflicting fields.', schema: { type: 'boolean', uniqueItems: true } },
  labelSelector: { name: 'labelSelector', in: 'query', description: 'Filter by labels.', schema: { type: 'string', uniqueItems: true } },
  fieldSelector: { name: 'fieldSelector', in: 'query', description: 'Filter by fields.', schema: { type: 'string', uniqueItems: true } },
  limit: { name: 'limit', in: 'query', description: 'Page size.', schema: { type: 'integer', uniqueItems: true } },
  continue: { name: 'continue', in: 'query', description: 'Token of the next page.', schema: { type: 'string', uniqueItems: true } },
  resourceVersion: { name: 'resourceVersion', in: 'query', description: 'Consistency for reads, start for watches.', schema: { type: 'string', uniqueItems: true } },
  watch: { name: 'watch', in: 'query', description: 'Stream changes.', schema: { type: 'boolean', uniqueItems: true } },
  allowWatchBookmarks: { name: 'allowWatchBookmarks', in: 'query', description: 'Request BOOKMARK events.', schema: { type: 'boolean', uniqueItems: true } },
  sendInitialEvents: { name: 'sendInitialEvents', in: 'query', description: 'Start a watch with the current state.', schema: { type: 'boolean', uniqueItems: true } },
  timeoutSeconds: { name: 'timeoutSeconds', in: 'query', description: 'Timeout for list/watch.', schema: { type: 'integer', uniqueItems: true } },
};

const WRITE_PARAMS = ['dryRun', 'fieldManager', 'fieldValidation'];
const LIST_PARAMS = ['allowWatchBookmarks', 'continue', 'fieldSelector', 'labelSelector', 'limit', 'resourceVersion', 'sendInitialEvents', 'timeoutSeconds', 'watch'];

function params(names: string[]): Obj[] {
  return names.map((n) => QUERY_PARAMS[n]!);
}

function pathParam(name: string, description: string): Obj {
  return { name, in: 'path', required: true, description, schema: { type: 'string', uniqueItems: true } };
}

function json(ref: string): Obj {
  return { 'application/json': { schema: { $ref: ref } }, 'application/yaml': { schema: { $ref: ref } } };
}

/** Paths of one resource (and its subresources) for an OpenAPI v3 document. */
function resourcePaths(rt: ResourceType, ref: (n: string) => string): Record<string, Obj> {
  const prefix = `/${gvPath(rt.group, rt.version)}`;
  const nsPart = rt.namespaced ? '/namespaces/{namespace}' : '';
  const kindRef = ref(rt.openapiName);
  const listRef = ref(`${rt.openapiName}List`);
  const scope = rt.namespaced ? 'Namespaced' : '';
  const ext = (action: string) => ({ 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk(rt) });
  const nsParam = rt.namespaced ? [pathParam('namespace', 'object name and auth scope, such as for teams and projects')] : [];
  const patchContent: Obj = {
    'application/json-patch+json': { schema: { $ref: ref(PATCH) } },
    'application/merge-patch+json': { schema: { $ref: ref(PATCH) } },
    ...(rt.strategicMerge ? { 'application/strategic-merge-patch+json': { schema: { $ref: ref(PATCH) } } } : {}),
    'application/apply-patch+yaml': { schema: { $ref: ref(PATCH) } },
  };
  const ok = (r: string) => ({ '200': { description: 'OK', content: json(r) } });
  const collection: Obj = {
    get: { description: `list or watch objects of kind ${rt.kind}`, operationId: `list${scope}${rt.kind}`, parameters: params(LIST_PARAMS), responses: ok(listRef), ...ext('list') },
    post: {
      description: `create a ${rt.kind}`,
      operationId: `create${scope}${rt.kind}`,
      parameters: params(WRITE_PARAMS),
      requestBody: { content: json(kindRef), required: true },
      responses: { ...ok(kindRef), '201': { description: 'Created', content: json(kindRef) }, '202': { description: 'Accepted', content: json(kindRef) } },
      ...ext('post'),
    },
    delete: {
      description: `delete collection of ${rt.kind}`,
      operationId: `deleteCollection${scope}${rt.kind}`,
      parameters: params([...LIST_PARAMS, 'dryRun']),
      requestBody: { content: json(ref(DELETE_OPTIONS)) },
      responses: ok(ref(STATUS)),
      ...ext('deletecollection'),
    },
    parameters: nsParam,
  };
  const item = (sub?: string): Obj => {
    const suffix = sub ? ` ${sub} of` : '';
    const what = sub ? `${rt.kind}${sub[0]!.toUpperCase()}${sub.slice(1)}` : rt.kind;
    return {
      get: { description: `read${suffix} the specified ${rt.kind}`, operationId: `read${scope}${what}`, responses: ok(kindRef), ...ext('get') },
      put: {
        description: `replace${suffix} the specified ${rt.kind}`,
        operationId: `replace${scope}${what}`,
        parameters: params(WRITE_PARAMS),
        requestBody: { content: json(kindRef), required: true },
        responses: { ...ok(kindRef), '201': { description: 'Created', content: json(kindRef) } },
        ...ext('put'),
      },
      patch: {
        description: `partially update${suffix} the specified ${rt.kind}`,
        operationId: `patch${scope}${what}`,
        parameters: params([...WRITE_PARAMS, 'force']),
        requestBody: { content: patchContent, required: true },
        responses: { ...ok(kindRef), '201': { description: 'Created', content: json(kindRef) } },
        ...ext('patch'),
      },
      ...(sub
        ? {}
        : {
            delete: {
              description: `delete a ${rt.kind}`,
              operationId: `delete${scope}${what}`,
              parameters: params(['dryRun']),
              requestBody: { content: json(ref(DELETE_OPTIONS)) },
              responses: { ...ok(ref(STATUS)), '202': { description: 'Accepted', content: json(ref(STATUS)) } },
              ...ext('delete'),
            },
          }),
      parameters: [pathParam('name', `name of the ${rt.kind}`), ...nsParam],
    };
  };
  const paths: Record<string, Obj> = {
    [`${prefix}${nsPart}/${rt.plural}`]: collection,
    [`${prefix}${nsPart}/${rt.plural}/{name}`]: item(),
  };
  if (rt.statusSubresource) paths[`${prefix}${nsPart}/${rt.plural}/{name}/status`] = item('status');
  if (rt.namespaced) {
    paths[`${prefix}/${rt.plural}`] = {
      get: { description: `list or watch objects of kind ${rt.kind} in all namespaces`, operationId: `list${rt.kind}ForAllNamespaces`, parameters: params(LIST_PARAMS), responses: ok(listRef), ...ext('list') },
    };
  }
  return paths;
}

function hashOf(doc: unknown): string {
  return createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase();
}

export class OpenApi {
  readonly #registry: Registry;
  #generation = -1;
  #v3 = new Map<string, { doc: Obj; hash: string }>();
  #v2: Obj | undefined;

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  #refresh(): void {
    if (this.#generation === this.#registry.generation) return;
    this.#generation = this.#registry.generation;
    this.#v3.clear();
    this.#v2 = undefined;
    const groups = new Map<string, ResourceType[]>();
    for (const rt of this.#registry.all()) {
      const key = gvPath(rt.group, rt.version);
      groups.set(key, [...(groups.get(key) ?? []), rt]);
    }
    const ref3 = (n: string) => `#/components/schemas/${n}`;
    for (const [key, types] of groups) {
      const schemas: Obj = { ...commonSchemas };
      let paths: Obj = {};
      for (const rt of types) {
        schemas[rt.openapiName] = publishedSchema(rt, ref3);
        schemas[`${rt.openapiName}List`] = listSchema(rt, ref3);
        paths = { ...paths, ...resourcePaths(rt, ref3) };
      }
      const doc = { openapi: '3.0.0', info: { title: 'Kubernetes', version: VERSION }, paths, components: { schemas } };
      this.#v3.set(key, { doc, hash: hashOf(doc) });
    }
  }

  /** GET /openapi/v3 */
  v3Index(): Obj {
    this.#refresh();
    const paths: Obj = {};
    for (const [key, { hash }] of [...this.#v3].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
    }
    return { paths };
  }

  /** GET /openapi/v3/<api/v1 | apis/g/v> */
  v3(path: string): { doc: Obj; hash: string } | undefined {
    this.#refresh();
    return this.#v3.get(path);
  }

  /** GET /openapi/v2 (JSON). */
  v2(): Obj {
    this.#refresh();
    if (this.#v2) return this.#v2;
    const definitions: Obj = { ...commonSchemas };
    const paths: Obj = {};
    const ref2 = (n: string) => `#/definitions/${n}`;
    for (const rt of this.#registry.all()) {
      definitions[rt.openapiName] = publishedSchema(rt, ref2);
      definitions[`${rt.openapiName}List`] = listSchema(rt, ref2);
      for (const [p, item] of Object.entries(resourcePaths(rt, ref2))) paths[p] = toSwaggerPathItem(item);
    }
    this.#v2 = { swagger: '2.0', info: { title: 'Kubernetes', version: VERSION }, paths, definitions };
    return this.#v2;
  }
}

/** OpenAPI v3 operation → Swagger 2.0 operation (parameters carry `type`, bodies become `in: body`). */
function toSwaggerPathItem(item: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(item)) {
    if (k === 'parameters') {
      out.parameters = (v as Obj[]).map(v2Param);
      continue;
    }
    const op = { ...(v as Obj) };
    const parameters = ((op.parameters as Obj[] | undefined) ?? []).map(v2Param);
    const body = op.requestBody as Obj | undefined;
    if (body) {
      const content = body.content as Record<string, Obj>;
      const first = Object.values(content)[0];
      parameters.push({ name: 'body', in: 'body', required: !!body.required, schema: first?.schema ?? {} });
      op.consumes = Object.keys(content);
      delete op.requestBody;
    }
    op.parameters = parameters;
    const responses: Obj = {};
    for (const [code, r] of Object.entries((op.responses as Record<string, Obj>) ?? {})) {
      const content = r.content as Record<string, Obj> | undefined;
      responses[code] = { description: r.description, ...(content ? { schema: Object.values(content)[0]?.schema } : {}) };
    }
    op.responses = responses;
    op.produces = ['application/json', 'application/yaml'];
    out[k] = op;
  }
  return out;
}

function v2Param(p: Obj): Obj {
  const { schema, ...rest } = p;
  return { ...rest, ...(schema as Obj) };
}
