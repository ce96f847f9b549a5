// Turns a URL path into what is being asked for, as kube-apiserver's RequestInfoFactory does:
// /api/v1/namespaces/ns/secrets/name/status → group "", version v1, namespace ns, resource
// secrets, name, subresource status. Namespaces' own subresources (status, finalize) are kept
// apart from resources inside a namespace.

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface ResourceRequest {
  kind: 'resource';
  group: string;
  version: string;
  namespace: string;
  resource: string;
  name?: string;
  subresource?: string;
  verb: Verb;
}

export interface OtherRequest {
  kind: 'other';
  /** Path segments after stripping the leading slash. */
  parts: string[];
}

export type RequestInfo = ResourceRequest | OtherRequest;

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

function isWatch(q: URLSearchParams): boolean {
  const w = q.get('watch');
  return w === 'true' || w === '1';
}

export function parseRequestInfo(method: string, pathname: string, query: URLSearchParams): RequestInfo {
  const parts = pathname.split('/').filter((p) => p.length > 0).map(decodeURIComponent);
  let rest: string[];
  let group = '';
  let version: string;
  if (parts[0] === 'api' && parts.length >= 2) {
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else {
    return { kind: 'other', parts };
  }
  if (rest.length === 0) return { kind: 'other', parts };

  let legacyWatch = false;
  if (rest[0] === 'watch') {
    legacyWatch = true;
    rest = rest.slice(1);
    if (rest.length === 0) return { kind: 'other', parts };
  }

  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1]!;
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
  }
  const resource = rest[0]!;
  let name: string | undefined;
  let subresource: string | undefined;
  if (resource === 'namespaces' && rest.length > 1) {
    // The namespace object itself: /namespaces/{name}[/status|/finalize]
    name = rest[1];
    subresource = rest[2];
    namespace = '';
  } else {
    name = rest[1];
    subresource = rest[2];
  }
  if (rest.length > 3) return { kind: 'other', parts };

  let verb: Verb;
  switch (method) {
    case 'GET':
    case 'HEAD':
      verb = legacyWatch || isWatch(query) ? 'watch' : name ? 'get' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      return { kind: 'other', parts };
  }
  return {
    kind: 'resource',
    group,
    version,
    namespace,
    resource,
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
    verb,
  };
}
