// Which objects a ProxyRoute reads, from its spec as stored (read defensively: a stored object may
// predate a schema change). Used to map a changed Secret, Host or Workspace to the routes that must
// be reconciled again, so a renewed certificate is applied without waiting for a poll.
import type { ObjectKey } from '../../controller/index.ts';
import type { ProxyRoute } from '../../crds/index.ts';

type Loose = { [k: string]: unknown };

const nameOf = (ref: unknown): string | undefined => {
  const name = (ref as Loose | undefined)?.name;
  return typeof name === 'string' ? name : undefined;
};

export function hostOfRoute(route: Pick<ProxyRoute, 'spec'>): string | undefined {
  return nameOf((route.spec as unknown as Loose | undefined)?.hostRef);
}

/** Secrets the route reads: the TLS pair and the htpasswd file. */
export function secretsOfRoute(route: Pick<ProxyRoute, 'spec'>): string[] {
  const spec = (route.spec ?? {}) as unknown as { tls?: { secretRef?: unknown }; access?: { basicAuth?: { secretRef?: unknown } } };
  return [nameOf(spec.tls?.secretRef), nameOf(spec.access?.basicAuth?.secretRef)].filter((n): n is string => n !== undefined);
}

/** Workspaces whose ports the route sends requests to. */
export function workspacesOfRoute(route: Pick<ProxyRoute, 'spec'>): string[] {
  const routes = (route.spec as unknown as { routes?: unknown } | undefined)?.routes;
  if (!Array.isArray(routes)) return [];
  return [...new Set(routes.map((r) => nameOf((r as { upstream?: { workspaceRef?: unknown } } | undefined)?.upstream?.workspaceRef)).filter((n): n is string => n !== undefined))];
}

/** Keys of the routes in `namespace` for which `uses(route)` names `name`. */
export function routesUsing(routes: readonly ProxyRoute[], namespace: string | undefined, name: string | undefined, uses: (r: ProxyRoute) => string[] | string | undefined): ObjectKey[] {
  if (!name) return [];
  return routes
    .filter((r) => r.metadata.namespace === namespace)
    .filter((r) => {
      const used = uses(r);
      return Array.isArray(used) ? used.includes(name) : used === name;
    })
    .map((r) => ({ namespace: r.metadata.namespace, name: r.metadata.name ?? '' }));
}
