// Reasons a ProxyRoute reports beyond the kit's and the nginx layer's.
import { defineReasons } from '../../controller/reasons.ts';

export const ProxyRouteReasons = defineReasons('proxyroute', {
  Applying: 'The route is queued for the next batched apply on its host',
  Applied: 'A changed configuration of the route went live on its host',
  Removed: "The route's configuration was taken off its host",
  HostGone: 'The Host the route named is gone: nothing was left to remove there',
  WorkspaceNotFound: 'A Workspace the route sends requests to does not exist yet',
  WorkspaceNotReady: 'A Workspace the route sends requests to is not Ready yet',
  WorkspaceEndpointMissing: 'A Workspace the route sends requests to does not publish the port it names yet',
  ServerNameConflict: 'Another ProxyRoute on the same Host already serves one of these server names and paths',
  NotReady: 'The route is not served yet; the message says why',
});
