// The ProxyRoute controller: the reconciler, one nginx applier per Host, and the watches that bring a
// route back when something it reads changes (its Host, its Secrets, its Workspaces).
import { parseObjectKey, type Controller, type KubeObject, type ObjectKey } from '../../controller/index.ts';
import { proxyRouteKind, type Host, type ProxyRoute, type Workspace } from '../../crds/index.ts';
import { proxyRouteRef, workspaceRef } from '../common/kinds.ts';
import type { SecretObject } from '../common/secrets.ts';
import type { Platform } from '../platform.ts';
import { HostNginxRegistry, requestOfRouteKey, type HostNginxOptions } from './host-nginx.ts';
import { referentChanged } from '../common/references.ts';
import { ProxyRouteReconciler } from './reconciler.ts';

export { ProxyRouteReasons } from './reasons.ts';
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
  platform.references.track(proxyRouteKind, routes as never);
  const dependants = (referent: KubeObject, kind: string) => platform.references.dependantKeys(proxyRouteKind.kind, referent, kind);
  const quarantineRetryMs = opts.quarantineRetryMs ?? DEFAULT_QUARANTINE_RETRY_MS;
  const routeWanted = (key: ObjectKey): boolean => {
    if (!routes.hasSynced()) return true;
    const route = routes.get(`${key.namespace}/${key.name}`);
    return route !== undefined && !route.metadata.deletionTimestamp;
  };
  const hostNginx = new HostNginxRegistry(
    {
      hosts: platform.hosts, connections: platform.connections, enqueue: (key) => controller?.enqueue(key), log: manager.log.child({ controller: 'proxyroute', component: 'nginx' }),
      // Only a synced cache may call a route unwanted; until then every live route is kept.
      routeWanted,
      // A route is off its host: the Host may be waiting for that to finish its deletion.
      onRemoved: (hostKey) => platform.protection.Host?.enqueue(parseObjectKey(hostKey)),
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
  // A Host being deleted waits while its nginx still serves routes whose ProxyRoute is gone.
  platform.holders.push((kind, namespace, name) => {
    if (kind !== 'Host') return [];
    const wanted = (key: string) => routeWanted(requestOfRouteKey(key));
    return (hostNginx.get(`${namespace}/${name}`)?.pendingRemovals(wanted) ?? []).map((k) => `ProxyRoute ${requestOfRouteKey(k).name} (being taken off the host)`);
  });
  platform.hosts.addHandler({
    onAdd: (h) => { if (sweeping) hostNginx.sweep(h); },
    // Deletion started: leftovers of routes deleted while no controller ran go first.
    onUpdate: (old, h) => { if (sweeping && !old.metadata.deletionTimestamp && h.metadata.deletionTimestamp) hostNginx.sweep(h); },
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
      { informer: platform.secrets, predicate: referentChanged, map: (s: SecretObject): ObjectKey[] => dependants(s, 'Secret') },
      // The Host reconciler writes status now and then: only a new Host, a spec change, a deletion
      // or Ready flipping (back from an outage) concerns the routes on it.
      {
        informer: platform.hosts,
        predicate: referentChanged,
        map: (h: Host): ObjectKey[] => {
          if (h.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) hostNginx.get(`${h.metadata.namespace}/${h.metadata.name}`)?.hostRecovered();
          return dependants(h, 'Host');
        },
      },
      // A Workspace's status (Ready, endpoints) decides where its routes send requests.
      { informer: workspaces, map: (w: Workspace): ObjectKey[] => dependants(w, 'Workspace') },
    ],
  });
  return { controller, hostNginx };
}

export const proxyRouteRegistration = { kind: 'ProxyRoute', register: (platform: Platform): void => { addProxyRouteController(platform); } };
