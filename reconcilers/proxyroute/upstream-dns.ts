// Upstream host names are resolved here, on the controller, at every reconcile (and again every
// refresh interval), and every answer is judged by the guard under the upstream policy. The vetted
// addresses are pinned into the route's configuration, so nginx never resolves the name itself:
// a name that resolves to a forbidden address is never proxied to, and a refused answer leaves the
// version already live (with the addresses vetted before) untouched. IP literals pass unchanged;
// validate.ts judged them already.
import type { ProxyRouteSpec } from '../../crds/index.ts';
import type { ResolvedReferences } from '../nginx/index.ts';
import { isIpLiteral, upstreamPolicy, type OutboundGuard } from '../net/index.ts';

const NOT_APPLIED = 'this version of the route is not applied; nginx keeps serving the version applied before, if any';

export interface PinnedReferences {
  resolved: ResolvedReferences;
  /** Set when some upstream is a name: reconcile again after this long to follow DNS changes. */
  refreshAfterMs?: number;
}

/** Resolves and vets every upstream name; throws ForbiddenAddressError or NameNotResolvedError naming the field. */
export async function pinUpstreamNames(spec: ProxyRouteSpec, resolved: ResolvedReferences, guard: OutboundGuard, refreshMs: number): Promise<PinnedReferences> {
  const upstreamGuard = guard.withPolicy(upstreamPolicy);
  const lookups = new Map<string, Promise<string[]>>();
  const upstreams = await Promise.all(resolved.upstreams.map(async (u, i) => {
    if (isIpLiteral(u.address)) return u;
    const field = spec.routes[i]?.upstream.workspaceRef ? `spec.routes[${i}].upstream.workspaceRef` : `spec.routes[${i}].upstream.address`;
    // One lookup per name per reconcile, so two routes to one name pin the same answer.
    let addresses = lookups.get(u.address);
    if (!addresses) {
      addresses = upstreamGuard.vet(u.address, field, NOT_APPLIED).then((v) => v.addresses.map((a) => a.address));
      lookups.set(u.address, addresses);
    }
    return { ...u, addresses: await addresses };
  }));
  return { resolved: { ...resolved, upstreams }, ...(lookups.size > 0 ? { refreshAfterMs: refreshMs } : {}) };
}
