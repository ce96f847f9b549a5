// Counts every request sent to a Docker engine, by operation ("GET /containers/json"), so tests and
// the benchmark can say how many Docker API calls a resync costs. Counting happens where dockerode
// dials, so no call can slip past it.
import type Dockerode from 'dockerode';

export interface ApiCallSnapshot {
  total: number;
  byOperation: Record<string, number>;
}

export class ApiCallCounter {
  private totalCalls = 0;
  private readonly operations = new Map<string, number>();
  private readonly listeners = new Set<(operation: string) => void>();

  record(operation: string): void {
    this.totalCalls += 1;
    this.operations.set(operation, (this.operations.get(operation) ?? 0) + 1);
    for (const listener of this.listeners) listener(operation);
  }

  get total(): number {
    return this.totalCalls;
  }

  count(operation: string): number {
    return this.operations.get(operation) ?? 0;
  }

  snapshot(): ApiCallSnapshot {
    return { total: this.totalCalls, byOperation: Object.fromEntries([...this.operations].sort(([a], [b]) => a.localeCompare(b))) };
  }

  /** Calls made since an earlier snapshot. */
  since(earlier: ApiCallSnapshot): ApiCallSnapshot {
    const byOperation: Record<string, number> = {};
    for (const [op, n] of this.operations) {
      const delta = n - (earlier.byOperation[op] ?? 0);
      if (delta > 0) byOperation[op] = delta;
    }
    return { total: this.totalCalls - earlier.total, byOperation };
  }

  /** Calls `listener` with the operation of every call from now on (for a Prometheus counter). */
  onCall(listener: (operation: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

const OBJECT_PATH = /^\/(containers|volumes|exec|networks|plugins)\/([^/?]+)(\/[^?]*)?$/;
const COLLECTION_VERBS = new Set(['json', 'create', 'prune']);

/** "GET /containers/{id}/json" from a request's method and path (API version and query dropped). */
export function operationOf(method: string, path: string): string {
  let p = path.split('?')[0] ?? path;
  p = p.replace(/^\/v[0-9.]+(?=\/)/, '');
  const object = OBJECT_PATH.exec(p);
  if (object && !COLLECTION_VERBS.has(object[2]!)) p = `/${object[1]}/{id}${object[3] ?? ''}`;
  else if (p.startsWith('/images/') && !/^\/images\/(json|create|load|get|search|prune)$/.test(p)) {
    const verb = /\/(json|history|push|tag|get)$/.exec(p);
    p = verb ? `/images/{name}/${verb[1]}` : '/images/{name}';
  }
  return `${method.toUpperCase()} ${p}`;
}

type Dial = (options: { method?: string; path?: string }, callback: unknown) => unknown;

/** Makes every request of this dockerode client count in `counter`. */
export function countApiCalls(docker: Dockerode, counter: ApiCallCounter): void {
  const modem = docker.modem as unknown as { dial: Dial };
  const dial = modem.dial.bind(modem);
  modem.dial = (options, callback) => {
    counter.record(operationOf(options.method ?? 'GET', options.path ?? '/'));
    return dial(options, callback);
  };
}
