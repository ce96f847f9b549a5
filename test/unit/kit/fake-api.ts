// An in-memory stand-in for the Kubernetes API as the kit uses it: GET, JSON patch (with `test`),
// merge patch and PUT of the status subresource with resourceVersion preconditions, finalizers
// holding a deleted object until the last one goes. Counts writes, so tests can assert "no write".
import fastJsonPatch from 'fast-json-patch';
import { KubeApiError, ResourceClient, type KubeObject, type KubeRest, type ResourceRef } from '../../../controller/index.ts';

export const thingRef: ResourceRef = { group: 'test.outrigger.dev', version: 'v1', plural: 'things', kind: 'Thing', namespaced: true };

type Stored = KubeObject & { spec?: unknown; status?: unknown };

export class FakeApi {
  readonly objects = new Map<string, Stored>();
  writes: Array<{ method: string; path: string; body: unknown }> = [];
  private rv = 100;
  /** Makes the next write to this path fail with this status code. */
  failNext = new Map<string, number>();

  client<T extends KubeObject>(ref: ResourceRef = thingRef): ResourceClient<T> {
    return new ResourceClient<T>(this as unknown as KubeRest, ref);
  }

  put(obj: Stored): Stored {
    const stored = structuredClone({ ...obj, metadata: { generation: 1, uid: `uid-${obj.metadata.name}`, ...obj.metadata, resourceVersion: String(++this.rv) } });
    this.objects.set(`${obj.metadata.namespace}/${obj.metadata.name}`, stored);
    return structuredClone(stored);
  }

  get(namespace: string, name: string): Stored | undefined {
    const o = this.objects.get(`${namespace}/${name}`);
    return o ? structuredClone(o) : undefined;
  }

  /** Starts deletion as the API server does: a deletionTimestamp while finalizers remain. */
  delete(namespace: string, name: string): void {
    const o = this.objects.get(`${namespace}/${name}`);
    if (!o) return;
    if (!o.metadata.finalizers?.length) this.objects.delete(`${namespace}/${name}`);
    else {
      o.metadata.deletionTimestamp = '2030-01-01T00:00:00Z';
      o.metadata.resourceVersion = String(++this.rv);
    }
  }

  async request<T>(method: string, path: string, opts: { body?: unknown; contentType?: string } = {}): Promise<T> {
    const m = /\/namespaces\/([^/]+)\/[^/]+\/([^/]+)(\/status)?$/.exec(path);
    if (!m) throw new Error(`fake API: unexpected path ${path}`);
    const key = `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
    const status = Boolean(m[3]);
    const current = this.objects.get(key);
    if (method === 'GET') {
      if (!current) throw new KubeApiError(method, path, 404, { reason: 'NotFound' });
      return structuredClone(current) as T;
    }
    this.writes.push({ method, path, body: opts.body });
    const injected = this.failNext.get(path);
    if (injected) {
      this.failNext.delete(path);
      throw new KubeApiError(method, path, injected, { reason: 'Injected' });
    }
    if (!current) throw new KubeApiError(method, path, 404, { reason: 'NotFound' });
    let next: Stored;
    if (method === 'PUT' && status) {
      const body = opts.body as Stored;
      if (body.metadata.resourceVersion !== current.metadata.resourceVersion) throw new KubeApiError(method, path, 409, { reason: 'Conflict' });
      next = { ...structuredClone(current), status: structuredClone(body.status) };
    } else if (method === 'PATCH' && opts.contentType?.includes('json-patch')) {
      try {
        next = fastJsonPatch.applyPatch(structuredClone(current), opts.body as never, true, false).newDocument;
      } catch {
        throw new KubeApiError(method, path, 422, { reason: 'Invalid', message: 'the test operation failed' });
      }
    } else if (method === 'PATCH') {
      next = mergePatch(structuredClone(current), opts.body) as Stored;
    } else {
      throw new Error(`fake API: unexpected ${method} ${path}`);
    }
    next.metadata.resourceVersion = String(++this.rv);
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) {
      this.objects.delete(key);
      return structuredClone(next) as T;
    }
    this.objects.set(key, next);
    return structuredClone(next) as T;
  }
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
