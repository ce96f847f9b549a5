// The ProxyRoute's ExternalClient over its host's batching nginx applier: observe reads what the
// applier last found on the host for this route (queueing nothing), create and update hand the
// applier the desired version (the apply runs batched, later; its result brings the route back),
// delete queues the route's removal. None of them waits for the host.
import type { NginxRouteInput, RouteObservation } from '../nginx/index.ts';
import type { ExternalClient, Observation } from '../common/managed.ts';
import type { HostNginx } from './host-nginx.ts';

export type RouteFacts = { route: RouteObservation };

export function routeClient<T extends { metadata: { namespace?: string; name?: string } }>(nginx: HostNginx, input: NginxRouteInput): ExternalClient<T, RouteFacts> {
  const observe = async (): Promise<Observation<RouteFacts>> => {
    const route = nginx.observe(input);
    return { exists: route.result !== undefined && route.result.state !== 'Removed', upToDate: !route.pending, facts: { route } };
  };
  return {
    observe,
    create: async () => { nginx.ensure(input); },
    update: async () => { nginx.ensure(input); },
    delete: async (obj) => { nginx.ensureRemoved(obj.metadata.namespace ?? 'default', obj.metadata.name ?? ''); },
  };
}
