// What the nginx layer needs to render one ProxyRoute: the spec with every reference already resolved
// by the reconciler (Workspace ports to address and port, Secrets to their contents). It mirrors the
// ProxyRoute spec field for field, so validation errors can name the user's fields.
import type { ProxyRouteSpec } from '../../crds/proxyroute.ts';

export interface NginxUpstream {
  address: string;
  port: number;
  /**
   * For a host name: the addresses the controller resolved it to and vetted. They are pinned into
   * the configuration, so nginx never resolves the name (see README: "Upstream names").
   */
  addresses?: string[];
  protocol?: 'HTTP' | 'HTTPS';
}

export interface NginxLocationInput {
  path: string;
  pathType?: 'Prefix' | 'Exact';
  upstream: NginxUpstream;
  websocket?: boolean;
  timeouts?: { connect?: string; read?: string; send?: string };
  requestHeaders?: Array<{ name: string; value: string }>;
}

export interface NginxRouteInput {
  /** The ProxyRoute's namespace and name: they name its files on the host. */
  namespace: string;
  name: string;
  serverNames: string[];
  tls?: {
    /** PEM chain from the Secret's tls.crt (leaf first). */
    certificate: string;
    /** PEM private key from tls.key. Never logged, never in an error or status. */
    privateKey: string;
    redirectHTTP?: boolean;
    hsts?: { maxAgeSeconds?: number; includeSubDomains?: boolean; preload?: boolean };
  };
  routes: NginxLocationInput[];
  access?: {
    allowCIDRs?: string[];
    /** htpasswd file content from the Secret, and the realm. */
    basicAuth?: { htpasswd: string; realm?: string };
  };
  rateLimit?: { requestsPerSecond: number; burst?: number };
}

/** The values the reconciler resolved from references, in the spec's route order. */
export interface ResolvedReferences {
  /** One upstream per spec.routes entry (workspaceRef routes resolved, address routes copied). */
  upstreams: Array<{ address: string; port: number; addresses?: string[] }>;
  tls?: { certificate: string; privateKey: string };
  htpasswd?: string;
}

/** Builds the render input from a (schema-validated) spec and what its references resolved to. */
export function routeInputFromSpec(namespace: string, name: string, spec: ProxyRouteSpec, resolved: ResolvedReferences): NginxRouteInput {
  return {
    namespace,
    name,
    serverNames: [...spec.serverNames],
    ...(spec.tls && resolved.tls
      ? { tls: { certificate: resolved.tls.certificate, privateKey: resolved.tls.privateKey, redirectHTTP: spec.tls.redirectHTTP, ...(spec.tls.hsts ? { hsts: { ...spec.tls.hsts } } : {}) } }
      : {}),
    routes: spec.routes.map((r, i) => ({
      path: r.path,
      pathType: r.pathType,
      upstream: {
        address: resolved.upstreams[i]?.address ?? r.upstream.address ?? '',
        port: resolved.upstreams[i]?.port ?? r.upstream.port ?? 0,
        protocol: r.upstream.protocol,
        ...(resolved.upstreams[i]?.addresses ? { addresses: [...resolved.upstreams[i]!.addresses!] } : {}),
      },
      websocket: r.websocket,
      ...(r.timeouts ? { timeouts: { ...r.timeouts } } : {}),
      ...(r.requestHeaders ? { requestHeaders: r.requestHeaders.map((h) => ({ name: h.name, value: h.value })) } : {}),
    })),
    ...(spec.access
      ? {
        access: {
          ...(spec.access.allowCIDRs ? { allowCIDRs: [...spec.access.allowCIDRs] } : {}),
          ...(spec.access.basicAuth ? { basicAuth: { htpasswd: resolved.htpasswd ?? '', realm: spec.access.basicAuth.realm } } : {}),
        },
      }
      : {}),
    ...(spec.rateLimit ? { rateLimit: { requestsPerSecond: spec.rateLimit.requestsPerSecond, burst: spec.rateLimit.burst } } : {}),
  };
}
