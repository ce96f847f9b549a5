// The app factory: builds the request handler of the embedded API server from its parts. It
// opens no socket (start.ts does), so tests can drive it on any server they like.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ObjectStore, KubeObject } from './storage/store.ts';
import type { Registry } from './kinds/registry.ts';
import type { ResourceType } from './kinds/types.ts';
import { ApiError, badRequest, internalError, isApiError, methodNotSupported, notAcceptable, resourceNotServed, serviceUnavailable, unauthorized } from './api/errors.ts';
import { ResourceService, PATCH_CONTENT_TYPES, qualified, type DeleteOptions, type Scope, type Subresource, type WriteOptions } from './api/service.ts';
import { WatchHub, validateWatchParams, type WatchEventType } from './api/watch.ts';
import { OpenApi } from './api/openapi.ts';
import { aggregatedContentType, aggregatedDiscovery, apiGroupDoc, apiGroupList, apiResourceList, apiVersions } from './api/discovery.ts';
import { toPartialMetadata, toTable, type IncludeObject } from './api/table.ts';
import { parseRequestInfo, type ResourceRequest } from './http/request-info.ts';
import { decodeBody, mediaTypeOf, readBody } from './http/body.ts';
import { negotiateDiscovery, negotiateShape, shapeContentType, type ResponseShape } from './http/negotiate.ts';
import { sendJson, sendStatus, sendText } from './http/respond.ts';
import { boolParam, dryRunParam, fieldManagerParam, fieldValidationParam, intParam } from './http/query.ts';
import { tokenChecker } from './http/auth.ts';
import { PROTOBUF_MEDIA_TYPE } from './http/protobuf.ts';

export const SERVER_VERSION = {
  major: '1',
  minor: '36',
  gitVersion: 'v1.36.0+outrigger.embedded',
  gitCommit: '',
  gitTreeState: 'clean',
  buildDate: '1970-01-01T00:00:00Z',
  goVersion: 'n/a',
  compiler: 'node',
  platform: `${process.platform}/${process.arch}`,
};

export interface RequestLog {
  method: string;
  path: string;
  code: number;
  ms: number;
}

export interface AppDeps {
  store: ObjectStore;
  registry: Registry;
  service: ResourceService;
  watches: WatchHub;
  openapi: OpenApi;
  /** The bearer token every API request must carry. */
  token: string;
  /** host:port clients reach the server at (for /api's serverAddressByClientCIDRs). */
  serverAddress: () => string;
  onRequest?: (entry: RequestLog) => void;
  onError?: (err: unknown) => void;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

const CREATE_TYPES = ['application/json', 'application/yaml', PROTOBUF_MEDIA_TYPE];
const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version', '/healthz/ping', '/livez/ping', '/readyz/ping']);

export function createApiHandler(deps: AppDeps): RequestHandler {
  const authenticated = tokenChecker(deps.token);
  return (req, res) => {
    const started = performance.now();
    res.on('finish', () => deps.onRequest?.({ method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, code: res.statusCode, ms: performance.now() - started }));
    handle(deps, authenticated, req, res).catch((err: unknown) => {
      if (!isApiError(err)) deps.onError?.(err);
      const apiErr = isApiError(err) ? err : internalError(err);
      if (!res.headersSent) sendStatus(res, apiErr, apiErr.warnings);
      else res.destroy();
    });
  };
}

async function handle(deps: AppDeps, authenticated: (req: IncomingMessage) => boolean, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://embedded.invalid');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (PUBLIC_PATHS.has(path) && req.method === 'GET') {
    if (path === '/version') return sendJson(res, 200, SERVER_VERSION);
    if (deps.store.failed) return sendText(res, 500, `[-]storage failed: ${deps.store.failed.message}\n`);
    return sendText(res, 200, 'ok');
  }
  if (!authenticated(req)) throw unauthorized();
  if (deps.store.failed) throw serviceUnavailable(deps.store.failed.message);

  if (path === '/openapi/v2' && req.method === 'GET') return serveOpenApiV2(deps, req, res);
  if (path === '/openapi/v3' && req.method === 'GET') return sendJson(res, 200, deps.openapi.v3Index());
  if (path.startsWith('/openapi/v3/') && req.method === 'GET') return serveOpenApiV3(deps, path.slice('/openapi/v3/'.length), url, res);

  const info = parseRequestInfo(req.method ?? 'GET', path, url.searchParams);
  if (info.kind === 'other') return serveDiscovery(deps, info.parts, req, res);
  return serveResource(deps, info, url.searchParams, req, res);
}

function serveOpenApiV2(deps: AppDeps, req: IncomingMessage, res: ServerResponse): void {
  const accept = req.headers.accept ?? '';
  // client-go asks for the protobuf form; it treats a failure here as "no v2 schema" and moves on.
  if (accept.includes('protobuf') && !accept.includes('json') && !accept.includes('*/*')) {
    throw notAcceptable(['application/json']);
  }
  sendJson(res, 200, deps.openapi.v2());
}

function serveOpenApiV3(deps: AppDeps, gvPathText: string, url: URL, res: ServerResponse): void {
  const found = deps.openapi.v3(gvPathText);
  if (!found) throw resourceNotServed();
  const hash = url.searchParams.get('hash');
  if (hash && hash !== found.hash) {
    res.writeHead(301, { Location: `/openapi/v3/${gvPathText}?hash=${found.hash}`, 'Cache-Control': 'no-cache, private' });
    res.end();
    return;
  }
  const text = JSON.stringify(found.doc);
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    ETag: `"${found.hash}"`,
    'Cache-Control': hash ? 'public, immutable' : 'no-cache, private',
  });
  res.end(text);
}

function serveDiscovery(deps: AppDeps, parts: string[], req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET') throw resourceNotServed();
  const { registry } = deps;
  const shape = negotiateDiscovery(req.headers.accept);
  if (parts.length === 1 && (parts[0] === 'api' || parts[0] === 'apis')) {
    if (shape !== 'legacy') {
      return sendJson(res, 200, aggregatedDiscovery(registry, parts[0] === 'api', shape), aggregatedContentType(shape));
    }
    return sendJson(res, 200, parts[0] === 'api' ? apiVersions(deps.serverAddress()) : apiGroupList(registry));
  }
  if (parts.length === 2 && parts[0] === 'api') {
    const doc = apiResourceList(registry, '', parts[1]!);
    if (doc) return sendJson(res, 200, doc);
  }
  if (parts.length === 2 && parts[0] === 'apis') {
    const doc = apiGroupDoc(registry, parts[1]!);
    if (doc) return sendJson(res, 200, doc);
  }
  if (parts.length === 3 && parts[0] === 'apis') {
    const doc = apiResourceList(registry, parts[1]!, parts[2]!);
    if (doc) return sendJson(res, 200, doc);
  }
  throw resourceNotServed();
}

function resolveScope(deps: AppDeps, info: ResourceRequest): Scope {
  const rt = deps.registry.lookup(info.group, info.version, info.resource);
  if (!rt) throw resourceNotServed();
  const sub = info.subresource;
  if (sub !== undefined) {
    const ok = (sub === 'status' && rt.statusSubresource) || (sub === 'finalize' && rt.storageResource === 'core/namespaces');
    if (!ok) throw resourceNotServed();
  }
  const needsName = ['get', 'update', 'patch', 'delete'].includes(info.verb);
  if (rt.namespaced && !info.namespace && (needsName || info.verb === 'create')) throw resourceNotServed();
  if (!rt.namespaced && info.namespace) throw resourceNotServed();
  if (sub === 'finalize' && info.verb !== 'update') throw methodNotSupported(qualified(rt), info.verb);
  if (sub && !['get', 'update', 'patch'].includes(info.verb)) throw methodNotSupported(qualified(rt), info.verb);
  if (!rt.verbs.includes(info.verb)) throw methodNotSupported(qualified(rt), info.verb);
  return { rt, namespace: info.namespace, ...(info.name !== undefined ? { name: info.name } : {}), ...(sub ? { subresource: sub as Subresource } : {}) };
}

function writeOptions(q: URLSearchParams, req: IncomingMessage, warnings: string[]): WriteOptions {
  const fieldManager = fieldManagerParam(q);
  const force = boolParam(q, 'force');
  return {
    dryRun: dryRunParam(q),
    ...(fieldManager ? { fieldManager } : {}),
    ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
    fieldValidation: fieldValidationParam(q),
    ...(force !== undefined ? { force } : {}),
    warnings,
  };
}

function deprecationWarnings(rt: ResourceType): string[] {
  if (!rt.deprecated) return [];
  return [rt.deprecationWarning ?? `${rt.group}/${rt.version} ${rt.kind} is deprecated`];
}

function includeObjectParam(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  if (v === null || v === '') return 'Metadata';
  if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
  throw badRequest(`includeObject: Unsupported value: ${JSON.stringify(v)}: supported values: "None", "Metadata", "Object"`);
}

function shaped(deps: AppDeps, rt: ResourceType, shape: ResponseShape, q: URLSearchParams, objects: KubeObject[], list: { resourceVersion: string; continue?: string; remainingItemCount?: number } | undefined): unknown {
  if (shape.as === 'Table') {
    const meta = list ?? { resourceVersion: String((objects[0]?.metadata as Record<string, unknown> | undefined)?.resourceVersion ?? '') };
    return toTable(rt, objects, meta, { includeObject: includeObjectParam(q), now: deps.service.now() });
  }
  if (shape.as === 'PartialObjectMetadata') return toPartialMetadata(objects[0]!);
  if (shape.as === 'PartialObjectMetadataList') {
    return { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: list ?? {}, items: objects.map(toPartialMetadata) };
  }
  if (list) {
    return {
      apiVersion: rt.group ? `${rt.group}/${rt.version}` : rt.version,
      kind: rt.listKind,
      metadata: {
        resourceVersion: list.resourceVersion,
        ...(list.continue ? { continue: list.continue } : {}),
        ...(list.remainingItemCount !== undefined ? { remainingItemCount: list.remainingItemCount } : {}),
      },
      items: objects,
    };
  }
  return objects[0];
}

async function serveResource(deps: AppDeps, info: ResourceRequest, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const scope = resolveScope(deps, info);
  const warnings = deprecationWarnings(scope.rt);
  try {
    await serveVerb(deps, info, scope, warnings, q, req, res);
  } catch (err) {
    if (isApiError(err)) err.warnings.push(...warnings);
    throw err;
  }
}

async function serveVerb(
  deps: AppDeps,
  info: ResourceRequest,
  scope: Scope,
  warnings: string[],
  q: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { rt } = scope;
  const { service, store } = deps;
  const isList = info.verb === 'list' || info.verb === 'watch';
  const shape = negotiateShape(req.headers.accept, isList && info.verb !== 'watch');
  if (!shape) throw notAcceptable(['application/json', 'application/yaml', 'application/json;as=Table;v=v1;g=meta.k8s.io']);

  switch (info.verb) {
    case 'get': {
      await store.settled();
      const obj = service.get(scope);
      return sendJson(res, 200, shaped(deps, rt, shape, q, [obj], undefined), shapeContentType(shape), warnings);
    }
    case 'list': {
      await store.settled();
      const limit = intParam(q, 'limit');
      const result = service.list(scope, {
        ...opt('labelSelector', q.get('labelSelector')),
        ...opt('fieldSelector', q.get('fieldSelector')),
        ...(limit !== undefined ? { limit } : {}),
        ...opt('continue', q.get('continue')),
        ...opt('resourceVersion', q.get('resourceVersion')),
        ...opt('resourceVersionMatch', q.get('resourceVersionMatch')),
      });
      return sendJson(res, 200, shaped(deps, rt, shape, q, result.items, result), shapeContentType(shape), warnings);
    }
    case 'watch':
      return serveWatch(deps, scope, shape, q, req, res);
    case 'create': {
      const body = decodeBody(await readBody(req), req.headers['content-type'], CREATE_TYPES, rt.kind);
      const opts = writeOptions(q, req, warnings);
      const obj = await service.create(scope, body, opts);
      return sendJson(res, 201, shaped(deps, rt, shape, q, [obj], undefined), shapeContentType(shape), warnings);
    }
    case 'update': {
      const body = decodeBody(await readBody(req), req.headers['content-type'], CREATE_TYPES, rt.kind);
      const opts = writeOptions(q, req, warnings);
      const { object, created } = await service.update(scope, body, opts);
      return sendJson(res, created ? 201 : 200, shaped(deps, rt, shape, q, [object], undefined), shapeContentType(shape), warnings);
    }
    case 'patch': {
      const media = mediaTypeOf(req.headers['content-type']);
      const type = PATCH_CONTENT_TYPES[media];
      const accepted = rt.strategicMerge ? Object.keys(PATCH_CONTENT_TYPES) : Object.keys(PATCH_CONTENT_TYPES).filter((t) => !t.includes('strategic'));
      if (!type || !accepted.includes(media)) {
        throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`);
      }
      const body = decodeBody(await readBody(req), media, accepted, rt.kind);
      const opts = writeOptions(q, req, warnings);
      if (type !== 'apply' && opts.force !== undefined) {
        throw invalidForce();
      }
      const { object, created } = await service.patch(scope, type, body, opts);
      return sendJson(res, created ? 201 : 200, shaped(deps, rt, shape, q, [object], undefined), shapeContentType(shape), warnings);
    }
    case 'delete':
    case 'deletecollection': {
      const buf = await readBody(req);
      const options = deleteOptions(buf, req, q);
      const opts = writeOptions(q, req, warnings);
      if (options.dryRun?.includes('All')) opts.dryRun = true;
      if (info.verb === 'delete') {
        const { code, body } = await service.delete(scope, options, opts);
        return sendJson(res, code, body, 'application/json', warnings);
      }
      const body = await service.deleteCollection(
        scope,
        { ...opt('labelSelector', q.get('labelSelector')), ...opt('fieldSelector', q.get('fieldSelector')) },
        options,
        opts,
      );
      return sendJson(res, 200, body, 'application/json', warnings);
    }
  }
}

function invalidForce(): ApiError {
  return new ApiError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch', {
    group: 'meta.k8s.io',
    kind: 'PatchOptions',
    causes: [{ reason: 'FieldValueForbidden', message: 'Forbidden: may not be specified for non-apply patch', field: 'force' }],
  });
}

function opt<K extends string>(key: K, value: string | null): { [P in K]?: string } {
  return (value === null || value === '' ? {} : { [key]: value }) as { [P in K]?: string };
}

function deleteOptions(buf: Buffer, req: IncomingMessage, q: URLSearchParams): DeleteOptions {
  let options: DeleteOptions = {};
  if (buf.length && buf.toString('utf8').trim()) {
    const parsed = decodeBody(buf, req.headers['content-type'], CREATE_TYPES);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('DeleteOptions must be a JSON object');
    options = parsed as DeleteOptions;
  }
  const policy = q.get('propagationPolicy');
  if (policy) options.propagationPolicy = policy;
  const grace = intParam(q, 'gracePeriodSeconds');
  if (grace !== undefined) options.gracePeriodSeconds = grace;
  const orphan = boolParam(q, 'orphanDependents');
  if (orphan !== undefined) options.orphanDependents = orphan;
  return options;
}

function serveWatch(deps: AppDeps, scope: Scope, shape: ResponseShape, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
  const { rt } = scope;
  const timeoutSeconds = intParam(q, 'timeoutSeconds');
  const allowWatchBookmarks = boolParam(q, 'allowWatchBookmarks');
  const sendInitialEvents = boolParam(q, 'sendInitialEvents');
  const params = {
    rt,
    namespace: scope.namespace,
    ...opt('resourceVersion', q.get('resourceVersion')),
    ...opt('resourceVersionMatch', q.get('resourceVersionMatch')),
    ...opt('labelSelector', q.get('labelSelector')),
    ...opt('fieldSelector', q.get('fieldSelector')),
    ...(allowWatchBookmarks !== undefined ? { allowWatchBookmarks } : {}),
    ...(sendInitialEvents !== undefined ? { sendInitialEvents } : {}),
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
  };
  validateWatchParams(params);
  deps.service.selectors(rt, params); // selector errors are plain 400s, before streaming starts
  const table = shape.as === 'Table';
  const includeObject = table ? includeObjectParam(q) : 'Metadata';
  res.writeHead(200, {
    'Content-Type': table ? shapeContentType(shape) : 'application/json',
    'Cache-Control': 'no-cache, private',
    'Transfer-Encoding': 'chunked',
  });
  res.flushHeaders();
  let first = true;
  const encode = (type: WatchEventType, object: unknown): unknown => {
    if (!table || type === 'ERROR' || type === 'BOOKMARK') return object;
    const obj = object as KubeObject;
    const rv = String((obj.metadata as Record<string, unknown> | undefined)?.resourceVersion ?? '');
    const t = toTable(rt, [obj], { resourceVersion: rv }, { includeObject, now: deps.service.now(), noHeaders: !first });
    first = false;
    return t;
  };
  const handle = deps.watches.start(params, {
    write: (type, object) => res.write(`${JSON.stringify({ type, object: encode(type, object) })}\n`),
    end: () => {
      if (!res.writableEnded) res.end();
    },
    buffered: () => res.writableLength,
  });
  req.on('close', () => handle.stop());
  res.on('close', () => handle.stop());
}
