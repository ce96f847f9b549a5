// No two ProxyRoutes on one Host may claim the same server name. Every ProxyRoute's nginx server
// listens on port 80 (plain HTTP or the redirect to HTTPS) for each of its names, and nginx serves a
// name from one server block only, so two routes sharing a name collide whatever their paths:
// the nginx applier would keep the first and mark the other Conflict. Rejecting it here tells the
// user at `kubectl apply` instead. Concurrent creates can still race past this check; the applier
// remains the final judge.
import type { KubeObject } from '../controller/kube/resource.ts';
import type { ProxyRouteSpec } from '../crds/index.ts';
import type { FieldError } from '../crds/validate.ts';
import type { ObjectLookup } from './lookup.ts';

interface RouteLike {
  metadata: { name?: string; deletionTimestamp?: unknown };
  spec?: { hostRef?: { name?: string }; serverNames?: string[]; routes?: Array<{ path?: string }> };
}

/**
 * Errors for server names of `spec` (ProxyRoute `name` in `namespace`) that another ProxyRoute on
 * the same Host already serves. Only names new to this object are checked (`previousNames` are
 * the names it had before an update): a name it already holds was checked when it was added.
 */
export async function serverNameConflicts(
  target: { namespace: string; name?: string },
  spec: ProxyRouteSpec,
  previousNames: readonly string[],
  lookup: ObjectLookup,
  signal: AbortSignal,
): Promise<FieldError[]> {
  const held = new Set(previousNames);
  const fresh = spec.serverNames.map((name, index) => ({ name, index })).filter((n) => !held.has(n.name));
  if (fresh.length === 0) return [];
  const others = (await lookup.list('ProxyRoute', target.namespace, signal)) as Array<KubeObject & RouteLike>;
  const owners = new Map<string, RouteLike>();
  for (const other of others) {
    if (other.metadata.name === target.name || other.metadata.deletionTimestamp) continue;
    if (other.spec?.hostRef?.name !== spec.hostRef.name) continue;
    for (const n of other.spec.serverNames ?? []) if (!owners.has(n)) owners.set(n, other);
  }
  return fresh.flatMap(({ name, index }) => {
    const owner = owners.get(name);
    if (!owner) return [];
    const ownerName = owner.metadata.name ?? '';
    const paths = (owner.spec?.routes ?? []).map((r) => r.path).filter(Boolean).join(', ');
    return [{
      path: `spec.serverNames[${index}]`,
      message:
        `"${name}" is already served on Host "${spec.hostRef.name}" by ProxyRoute "${ownerName}" (paths ${paths}); ` +
        `a server name belongs to one ProxyRoute per Host: add your paths to spec.routes of ProxyRoute "${ownerName}" or choose another name`,
    }];
  });
}
