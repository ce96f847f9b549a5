// Inhibition: a target that is down says so once. While containerDown fires for a Workspace, the
// errorRate alerts of the ProxyRoutes that send to it, and the httpProbe alerts whose URL host is
// one of those routes' server names, are inhibited: kept in status, not notified (as Alertmanager's
// inhibit rules mute the consequences of a cause). Within one Alert. Pure.
import type { AlertRecord } from './series.ts';

export interface RouteFacts {
  /** ProxyRoute name (same namespace). */
  name: string;
  serverNames: string[];
  /** Workspaces its locations send to. */
  workspaces: string[];
}

export function inhibitedFingerprints(records: Iterable<AlertRecord>, routes: readonly RouteFacts[]): Set<string> {
  const all = [...records];
  const down = new Set(all.filter((r) => r.identity.type === 'containerDown' && r.state === 'Firing').map((r) => r.identity.target));
  const out = new Set<string>();
  if (down.size === 0) return out;
  const affectedRoutes = routes.filter((r) => r.workspaces.some((w) => down.has(`Workspace/${w}`)));
  const routeTargets = new Set(affectedRoutes.map((r) => `ProxyRoute/${r.name}`));
  const names = new Set(affectedRoutes.flatMap((r) => r.serverNames));
  for (const r of all) {
    if (r.identity.type === 'errorRate' && routeTargets.has(r.identity.target)) out.add(r.fingerprint);
    if (r.identity.type === 'httpProbe' && names.has(hostOf(r.identity.target))) out.add(r.fingerprint);
  }
  return out;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}
