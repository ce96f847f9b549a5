// Watches: a stream of {type, object} lines. A watch starts from the current state (synthetic
// ADDED events), from a resourceVersion (replayed from the change history, or ERROR 410 Expired
// when the history no longer reaches back that far), or with sendInitialEvents (the state, then a
// BOOKMARK marked k8s.io/initial-events-end). Bookmarks carry the latest resourceVersion.
import type { Change } from '../storage/history.ts';
import type { KubeObject, ObjectStore } from '../storage/store.ts';
import { apiVersionOf, type ResourceType } from '../kinds/types.ts';
import { ApiError, badRequest, expired, invalid } from './errors.ts';
import { parseResourceVersion, tooLargeResourceVersion, type ResourceService } from './service.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchSink {
  /** Writes one encoded event; returns false when the client is not keeping up. */
  write(type: WatchEventType, object: unknown): boolean;
  end(): void;
  /** Bytes queued but not yet sent to the client. */
  buffered(): number;
}

export interface WatchParams {
  rt: ResourceType;
  namespace: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
  timeoutSeconds?: number;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface WatchOptions {
  bookmarkIntervalMs: number;
  /** A client this far behind is disconnected (it can resume from its last resourceVersion). */
  maxBufferedBytes: number;
  /** Default watch length when the client gives no timeoutSeconds. */
  defaultTimeoutMs: () => number;
}

export interface WatchHandle {
  stop(): void;
}

type Obj = Record<string, unknown>;

/** Checks parameters before any byte of the response is written, so errors are plain HTTP errors. */
export function validateWatchParams(p: WatchParams): void {
  if (p.sendInitialEvents !== undefined) {
    const errs = [];
    if (p.resourceVersionMatch !== 'NotOlderThan') {
      errs.push({ type: 'FieldValueForbidden' as const, field: 'resourceVersionMatch', detail: 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan' });
    }
    if (p.sendInitialEvents && !p.allowWatchBookmarks) {
      errs.push({ type: 'FieldValueForbidden' as const, field: 'allowWatchBookmarks', detail: 'sendInitialEvents requires setting allowWatchBookmarks=true' });
    }
    if (errs.length) throw invalid('meta.k8s.io', 'ListOptions', '', errs);
  } else if (p.resourceVersionMatch) {
    throw invalid('meta.k8s.io', 'ListOptions', '', [
      { type: 'FieldValueForbidden', field: 'resourceVersionMatch', detail: 'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided' },
    ]);
  }
  if (p.resourceVersion && p.resourceVersion !== '0') parseResourceVersion(p.resourceVersion);
  if (p.timeoutSeconds !== undefined && (!Number.isFinite(p.timeoutSeconds) || p.timeoutSeconds < 0)) {
    throw badRequest('timeoutSeconds must be a non-negative number');
  }
}

export class WatchHub {
  readonly #store: ObjectStore;
  readonly #service: ResourceService;
  readonly #opts: WatchOptions;
  readonly #active = new Set<WatchHandle>();
  readonly #servedSince: (resource: string) => number;

  constructor(store: ObjectStore, service: ResourceService, opts: WatchOptions) {
    this.#store = store;
    this.#service = service;
    this.#opts = opts;
    this.#servedSince = (r) => service.registry.servedSince(r);
  }

  get activeCount(): number {
    return this.#active.size;
  }

  /** Ends every watch (server shutdown). */
  stopAll(): void {
    for (const h of [...this.#active]) h.stop();
  }

  start(p: WatchParams, sink: WatchSink): WatchHandle {
    const { rt } = p;
    const sel = this.#service.selectors(rt, p);
    const prefix = rt.namespaced && p.namespace ? `${p.namespace}/` : '';
    const inScope = (key: string) => !prefix || key.startsWith(prefix);
    const view = (o: KubeObject) => this.#service.fromStorage(rt, o);
    let stopped = false;
    let timers: NodeJS.Timeout[] = [];
    let unsubscribe: () => void = () => {};
    const handle: WatchHandle = {
      stop: () => {
        if (stopped) return;
        stopped = true;
        unsubscribe();
        for (const t of timers) clearTimeout(t);
        timers = [];
        this.#active.delete(handle);
        sink.end();
      },
    };
    this.#active.add(handle);

    const send = (type: WatchEventType, object: unknown): void => {
      if (stopped) return;
      sink.write(type, object);
      if (sink.buffered() > this.#opts.maxBufferedBytes) handle.stop();
    };
    const sendError = (err: ApiError): void => {
      send('ERROR', err.status);
      handle.stop();
    };
    const deliver = (c: Change): void => {
      if (c.resource !== rt.storageResource || !inScope(c.key)) return;
      const nowMatches = c.type !== 'DELETED' && sel.matches(c.object);
      const wasMatching = c.prev !== undefined && sel.matches(c.prev);
      if (c.type === 'ADDED') {
        if (nowMatches) send('ADDED', view(c.object));
      } else if (c.type === 'MODIFIED') {
        if (nowMatches && wasMatching) send('MODIFIED', view(c.object));
        else if (nowMatches) send('ADDED', view(c.object));
        else if (wasMatching) send('DELETED', view(c.object));
      } else if (wasMatching) {
        send('DELETED', view(c.object));
      }
    };
    const bookmark = (extra?: Obj): void => {
      send('BOOKMARK', {
        kind: rt.kind,
        apiVersion: apiVersionOf(rt),
        metadata: { resourceVersion: String(this.#store.durableResourceVersion), ...(extra ? { annotations: extra } : {}) },
      });
    };

    const timeoutMs = p.timeoutSeconds !== undefined ? p.timeoutSeconds * 1000 : this.#opts.defaultTimeoutMs();
    if (timeoutMs > 0) timers.push(setTimeout(() => handle.stop(), timeoutMs));
    if (p.allowWatchBookmarks) {
      const tick = (): void => {
        if (stopped) return;
        bookmark();
        timers.push(setTimeout(tick, this.#opts.bookmarkIntervalMs).unref());
      };
      timers.push(setTimeout(tick, this.#opts.bookmarkIntervalMs).unref());
    }

    // Start only from durable state; everything newer arrives through the subscription.
    const begin = (): void => {
      if (stopped) return;
      const durable = this.#store.durableResourceVersion;
      const requested = p.resourceVersion;
      const fromState = p.sendInitialEvents === true || (p.sendInitialEvents === undefined && (!requested || requested === '0'));
      let startRv: number;
      if (fromState) {
        startRv = durable;
        const state = this.#store.stateAt(rt.storageResource, durable);
        const entries = [...state.entries()].filter(([k]) => inScope(k)).sort((a, b) => (a[0] < b[0] ? -1 : 1));
        for (const [, obj] of entries) if (sel.matches(obj)) send('ADDED', view(obj));
        if (p.sendInitialEvents === true) bookmark({ 'k8s.io/initial-events-end': 'true' });
      } else {
        const rv = requested && requested !== '0' ? Number(requested) : durable;
        const floor = Math.max(this.#store.history.floorRv, this.#servedSince(rt.storageResource));
        if (rv < floor) {
          sendError(expired(`too old resource version: ${rv} (${floor + 1})`));
          return;
        }
        for (const c of this.#store.history.since(rv, rt.storageResource)) deliver(c);
        startRv = Math.max(rv, durable);
      }
      unsubscribe = this.#store.subscribe((changes) => {
        for (const c of changes) if (c.rv > startRv) deliver(c);
      });
    };

    const asked = p.resourceVersion && p.resourceVersion !== '0' ? Number(p.resourceVersion) : 0;
    if (asked > this.#store.resourceVersion && p.sendInitialEvents === undefined) {
      // A resourceVersion from the future (e.g. another server's): wait briefly, like the watch cache.
      const deadline = Date.now() + 3000;
      const wait = (): void => {
        if (stopped) return;
        if (this.#store.durableResourceVersion >= asked) begin();
        else if (Date.now() > deadline) sendError(tooLargeResourceVersion(asked, this.#store.resourceVersion));
        else timers.push(setTimeout(wait, 50));
      };
      wait();
    } else {
      begin();
    }
    return handle;
  }
}
