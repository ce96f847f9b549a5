// The ProxyRoute controller: the reconciler, one nginx applier per Host, and the watches that bring a
// route back when something it reads changes (its Host, its Secrets, its Workspaces).
import type { Controller, ObjectKey } from '../../controller/index.ts';
import type { Host, ProxyRoute, Workspace } from '../../crds/index.ts';
import { proxyRouteRef, workspaceRef } from '../common/kinds.ts';
import type { SecretObject } from '../common/secrets.ts';
import type { Platform } from '../platform.ts';
import { HostNginxRegistry, type HostNginxOptions } from './host-nginx.ts';
import { ProxyRouteReconciler } from './reconciler.ts';
import { hostOfRoute, routesUsing, secretsOfRoute, workspacesOfRoute } from './references.ts';

export { ProxyRouteReconciler } from './reconciler.ts';
export { HostNginxRegistry, HostNginx, type HostNginxOptions, type HostFailure } from './host-nginx.ts';
export { routeStatus, routeConditions, type RouteOutcome } from './status.ts';

export interface ProxyRouteControllerOptions extends HostNginxOptions {
  /** Concurrent reconciles (default 4): a reconcile never waits for a host, only for the API. */
  workers?: number;
  /** Routes with upstream host names are resolved again this often (default 60 s), besides every reconcile. */
  upstreamRefreshMs?: number;
}

export interface ProxyRouteController {
  controller: Controller<ProxyRoute>;
  /** Per-Host appliers: reload and apply counts, failures (for tests and the benchmark). */
  hostNginx: HostNginxRegistry;
}

const DEFAULT_QUARANTINE_RETRY_MS = 300_000;
const DEFAULT_UPSTREAM_REFRESH_MS = 60_000;

export function addProxyRouteController(platform: Platform, opts: ProxyRouteControllerOptions = {}): ProxyRouteController {
  const { manager } = platform;
  const routes = manager.informer<ProxyRoute>(proxyRouteRef, { namespace: platform.namespace });
  const workspaces = manager.informer<Workspace>(workspaceRef, { namespace: platform.namespace });
  let controller: Controller<ProxyRoute> | undefined;
  // The Host reconciler writes status now and then; only a new Host, a spec change or a deletion
  // concerns the routes on it.
  const hostGenerations = new Map<string, number | undefined>();
  const hostSpecChanged = (h: Host): boolean => {
    const key = `${h.metadata.namespace}/${h.metadata.name}`;
    const gone = !platform.hosts.get(key) || Boolean(h.metadata.deletionTimestamp);
    const changed = gone || !hostGenerations.has(key) || hostGenerations.get(key) !== h.metadata.generation;
    if (gone) hostGenerations.delete(key);
    else hostGenerations.set(key, h.metadata.generation);
    return changed;
  };
  const quarantineRetryMs = opts.quarantineRetryMs ?? DEFAULT_QUARANTINE_RETRY_MS;
  const hostNginx = new HostNginxRegistry(
    {
      hosts: platform.hosts, connections: platform.connections, enqueue: (key) => controller?.enqueue(key), log: manager.log.child({ controller: 'proxyroute', component: 'nginx' }),
      // Only a synced cache may call a route unwanted; until then every live route is kept.
      routeWanted: (key) => {
        if (!routes.hasSynced()) return true;
        const route = routes.get(`${key.namespace}/${key.name}`);
        return route !== undefined && !route.metadata.deletionTimestamp;
      },
    },
    { ...opts, quarantineRetryMs },
  );
  manager.once('stopped', () => hostNginx.closeAll());
  // Leftovers of routes deleted while no controller ran are found by checking every Host with nginx
  // once this process leads and its caches are complete, and every Host added later.
  let sweeping = false;
  manager.once('leading', () => {
    void Promise.all([routes.waitForSync(), platform.hosts.waitForSync()]).then(() => {
      sweeping = true;
      for (const h of platform.hosts.list()) hostNginx.sweep(h);
    });
  });
  platform.hosts.addHandler({
    onAdd: (h) => { if (sweeping) hostNginx.sweep(h); },
    onDelete: (h) => hostNginx.drop(`${h.metadata.namespace}/${h.metadata.name}`),
  });
  const reconciler = new ProxyRouteReconciler({
    client: manager.client<ProxyRoute>(proxyRouteRef),
    cache: routes,
    hosts: platform.hosts,
    workspaces,
    secrets: platform.secretReader,
    registry: hostNginx,
    events: manager.events,
    quarantineRetryMs,
    outbound: platform.outbound,
    upstreamRefreshMs: opts.upstreamRefreshMs ?? DEFAULT_UPSTREAM_REFRESH_MS,
    clock: manager.clock,
  });
  controller = manager.addController<ProxyRoute>({
    name: 'proxyroute',
    informer: routes,
    reconciler,
    workers: opts.workers ?? 4,
    watches: [
      { informer: platform.secrets, map: (s: SecretObject): ObjectKey[] => routesUsing(routes.list(), s.metadata.namespace, s.metadata.name, secretsOfRoute) },
      { informer: platform.hosts, map: (h: Host): ObjectKey[] => (hostSpecChanged(h) ? routesUsing(routes.list(), h.metadata.namespace, h.metadata.name, hostOfRoute) : []) },
      { informer: workspaces, map: (w: Workspace): ObjectKey[] => routesUsing(routes.list(), w.metadata.namespace, w.metadata.name, workspacesOfRoute) },
    ],
  });
  return { controller, hostNginx };
}

export const proxyRouteRegistration = { kind: 'ProxyRoute', register: (platform: Platform): void => { addProxyRouteController(platform); } };
