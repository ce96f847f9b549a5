// ProxyRoute: an nginx server on a Host, reached over SSH. Everything here ends up in an nginx
// configuration file, so validation is strict: no character that nginx's syntax gives meaning to
// (; { } " ' \ $, whitespace or control characters) can pass where it could break out.
import { z } from 'zod';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { KindDefinition } from './kind.ts';
import {
  address,
  cidr,
  countSet,
  duration,
  FORBIDDEN_TARGET,
  immutable,
  listMap,
  listSet,
  localObjectReference,
  port,
  portName,
  secretKeyRef,
  secretReference,
  statusSchema,
  text,
  timestamp,
  withRules,
  objectName,
} from './common.ts';
import { hostWithNginx, secretRefTo, workspaceWithPort, type Reference } from './references.ts';

const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
/**
 * A server name: a lower-case DNS name, optionally with one leading `*.` wildcard label, or an
 * IPv4 address. No regex (`~`), no catch-all (`_`, `*`, empty), no trailing dot.
 */
export const SERVER_NAME = new RegExp(`^((\\*\\.)?(${LABEL}\\.)*[a-z]([-a-z0-9]*[a-z0-9])?|${OCTET}(\\.${OCTET}){3})$`);
/**
 * A URL path for an nginx location: starts with `/`, segments of unreserved characters and
 * `! & , = : @`, no `.` or `..` segment, no `//`, no `%` escapes (nginx matches the decoded path,
 * so an escape in a location could never match and only hides characters), and none of the regex
 * metacharacters or nginx syntax characters.
 */
const PATH_CHAR = '[A-Za-z0-9_~!&,=:@-]';
const PATH_CHAR_DOT = '[A-Za-z0-9._~!&,=:@-]';
const PATH_SEGMENT = `(${PATH_CHAR}${PATH_CHAR_DOT}*|\\.${PATH_CHAR}${PATH_CHAR_DOT}*|\\.\\.${PATH_CHAR_DOT}+)`;
export const ROUTE_PATH = new RegExp(`^(/|(/${PATH_SEGMENT})+/?)$`);
/** An HTTP header name (a subset of RFC 9110 token characters). */
export const HEADER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
/** A header value: printable ASCII without " ' ; { } \ $ ` (nginx syntax or variables). */
export const HEADER_VALUE = /^[A-Za-z0-9 _.,:/=+*!?@%&()<>[\]^|~#-]*$/;
const REALM = /^[A-Za-z0-9 ._-]+$/;

const serverName = () =>
  text(253, SERVER_NAME, 'must be a lower-case DNS name (optionally starting with "*.") or an IPv4 address; regex and catch-all names are not allowed');

const upstream = withRules(
  z
    .strictObject({
      address: withRules(
        address().describe(
          'Host name or IP address of the upstream, as seen from the Host running nginx. A name is resolved by the controller at every reconcile (and every minute); its addresses are checked and written into the configuration, so nginx itself never resolves it. A name without addresses, or with a link-local, unspecified or cloud metadata address among them, keeps this version of the route from being applied.',
        ),
        [
          {
            rule: `!self.matches(${JSON.stringify(FORBIDDEN_TARGET.source)})`,
            message: 'must not be a link-local, unspecified or cloud metadata address (169.254.0.0/16, fe80::/10, 0.0.0.0, ::, metadata names)',
            holds: (a) => !FORBIDDEN_TARGET.test(a),
          },
        ],
      ).optional(),
      port: port().optional().describe('Port of the upstream (with address).'),
      workspaceRef: z
        .strictObject({
          name: objectName().describe('Name of the Workspace in the same namespace.'),
          port: portName().describe('Name of the Workspace port: "editor", "ssh" or a name from its spec.ports.'),
        })
        .optional()
        .describe('A port of a Workspace in the same namespace, resolved to where it is published.'),
      protocol: z.enum(['HTTP', 'HTTPS']).default('HTTP').describe('Protocol nginx speaks to the upstream: HTTP (default) or HTTPS.'),
    })
    .describe('Where requests go: address and port, or a Workspace port (workspaceRef). Unix sockets are not allowed.'),
  [
    {
      rule: 'has(self.workspaceRef) ? !has(self.address) && !has(self.port) : has(self.address) && has(self.port)',
      message: 'set either address and port, or workspaceRef (not both)',
      holds: (u) => (u.workspaceRef !== undefined ? countSet(u.address, u.port) === 0 : countSet(u.address, u.port) === 2),
    },
  ],
);

const requestHeader = z
  .strictObject({
    name: text(128, HEADER_NAME, 'must be an HTTP header name: letters, digits and "-"').describe('Header name.'),
    value: text(1024, HEADER_VALUE, 'may hold only letters, digits, spaces and _ . , : / = + * ! ? @ % & ( ) < > [ ] ^ | ~ # - (no quotes, ;, braces, backslash or $)').describe(
      'Header value, taken literally (no nginx variables).',
    ),
  })
  .describe('A header set on requests passed to the upstream.');

const route = z
  .strictObject({
    path: text(1024, ROUTE_PATH, 'must be a path such as / or /api/v1: segments of A-Z a-z 0-9 _ ~ ! & , = : @ . -, no "." or ".." segments, no "//", no % escapes').describe(
      'Path this route matches.',
    ),
    pathType: z.enum(['Prefix', 'Exact']).default('Prefix').describe('Prefix (default): the path and everything below it. Exact: only the path itself.'),
    upstream,
    websocket: z.boolean().default(false).describe('Pass WebSocket upgrades through (needed for code-server and other live editors).'),
    timeouts: z
      .strictObject({
        connect: duration().optional().describe('Time to establish the upstream connection (nginx default 60s, at most 75s).'),
        read: duration().optional().describe('Time between two reads from the upstream (nginx default 60s).'),
        send: duration().optional().describe('Time between two writes to the upstream (nginx default 60s).'),
      })
      .optional()
      .describe('Upstream timeouts.'),
    requestHeaders: listMap(requestHeader, ['name'], 32).optional().describe('Headers set on requests to the upstream.'),
  })
  .describe('One location of the server and where it sends requests.');

export const proxyRouteSpecSchema = z
  .strictObject({
    hostRef: immutable(
      localObjectReference('Host').describe('The Host whose nginx serves this route (its spec.nginx and spec.ssh must be set). Immutable: to move a route, create it on the new Host and delete the old one.'),
      'hostRef',
    ),
    serverNames: listSet(serverName(), 32)
      .min(1)
      .describe('Host names this server answers for, such as app.example.com or *.example.com. Regex and catch-all names are not allowed.'),
    tls: z
      .strictObject({
        secretRef: secretReference().describe(
          'A kubernetes.io/tls Secret in the same namespace (what cert-manager writes): tls.crt must cover every server name and tls.key must match it.',
        ),
        redirectHTTP: z.boolean().default(true).describe('Redirect plain HTTP to HTTPS (default true).'),
        hsts: z
          .strictObject({
            maxAgeSeconds: z.number().int().min(0).max(63072000).default(31536000).describe('max-age in seconds (default one year).'),
            includeSubDomains: z.boolean().default(false).describe('Add includeSubDomains.'),
            preload: z.boolean().default(false).describe('Add preload.'),
          })
          .optional()
          .describe('Send Strict-Transport-Security on HTTPS responses.'),
      })
      .optional()
      .describe('Serve HTTPS with a certificate from a Secret. Without tls the server listens on HTTP only.'),
    routes: listMap(route, ['path', 'pathType'], 64).min(1).describe('Locations of the server. Each path and pathType appears once.'),
    access: z
      .strictObject({
        allowCIDRs: listSet(cidr(), 64)
          .optional()
          .describe('Client networks allowed in, such as 10.0.0.0/8. When set, every other client gets 403.'),
        basicAuth: z
          .strictObject({
            secretRef: secretKeyRef('auth').describe('An htpasswd file (bcrypt or SHA hashes) in a key of a Secret in the same namespace (default key auth).'),
            realm: text(64, REALM, 'may hold only letters, digits, spaces, ".", "_" and "-"').default('Restricted').describe('Realm shown by the browser.'),
          })
          .optional()
          .describe('Require HTTP basic authentication.'),
      })
      .optional()
      .describe('Who may use the server.'),
    rateLimit: z
      .strictObject({
        requestsPerSecond: z.number().int().min(1).max(100000).describe('Sustained requests per second allowed from one client address.'),
        burst: z.number().int().min(0).max(100000).default(0).describe('Requests above the rate accepted at once before requests are refused with 429.'),
      })
      .optional()
      .describe('Limit requests per client address.'),
  })
  .describe('Desired state of a ProxyRoute: an nginx server on a Host.');

export const proxyRouteStatusSchema = statusSchema('Observed state of a ProxyRoute.', {
  appliedConfigHash: text(128).optional().describe('Hash of the configuration last applied on the host.'),
  lastReload: z
    .strictObject({
      time: timestamp().optional().describe('When nginx was last reloaded for this route.'),
      result: z.enum(['Succeeded', 'Failed']).optional().describe('Succeeded or Failed.'),
      message: text(4096).optional().describe('nginx\'s message when the reload or the configuration test failed.'),
    })
    .optional()
    .describe('The last reload that carried a change to this route.'),
  certificate: z
    .strictObject({
      notBefore: timestamp().optional().describe('Start of the certificate\'s validity.'),
      notAfter: timestamp().optional().describe('When the certificate expires.'),
      dnsNames: z.array(text(253)).max(100).optional().describe('Names the certificate covers.'),
      serialNumber: text(128).optional().describe('Serial number of the served certificate.'),
    })
    .optional()
    .describe('The certificate live on the host.'),
  upstreams: z
    .array(
      z
        .strictObject({
          path: text(1024).optional().describe('Route path.'),
          address: text(253).optional().describe('Address nginx sends to.'),
          port: port().optional().describe('Port nginx sends to.'),
        })
        .describe('Where one route resolved to.'),
    )
    .max(64)
    .optional()
    .describe('Upstreams as resolved at the last apply (workspaceRef routes included).'),
});

export type ProxyRouteSpec = z.infer<typeof proxyRouteSpecSchema>;
export type ProxyRouteStatus = z.infer<typeof proxyRouteStatusSchema>;
export interface ProxyRoute {
  apiVersion: 'outrigger.dev/v1alpha1';
  kind: 'ProxyRoute';
  metadata: V1ObjectMeta;
  spec: ProxyRouteSpec;
  status?: ProxyRouteStatus;
}

/** What a ProxyRoute names: its Host (protected: the route is taken off it), Workspaces and Secrets. */
export function proxyRouteReferences(spec: ProxyRouteSpec): Reference[] {
  const refs: Reference[] = [{ field: 'spec.hostRef', kind: 'Host', name: spec.hostRef.name, protects: true, check: hostWithNginx(spec.hostRef.name) }];
  spec.routes.forEach((route, i) => {
    const ws = route.upstream.workspaceRef;
    if (ws) refs.push({ field: `spec.routes[${i}].upstream.workspaceRef`, kind: 'Workspace', name: ws.name, detail: ws.port, check: workspaceWithPort(ws.name, ws.port) });
  });
  refs.push(...secretRefTo('spec.tls.secretRef', spec.tls?.secretRef));
  refs.push(...secretRefTo('spec.access.basicAuth.secretRef', spec.access?.basicAuth?.secretRef));
  return refs;
}

export const proxyRouteKind: KindDefinition<typeof proxyRouteSpecSchema, typeof proxyRouteStatusSchema> = {
  kind: 'ProxyRoute',
  plural: 'proxyroutes',
  singular: 'proxyroute',
  listKind: 'ProxyRouteList',
  shortNames: ['proute'],
  description:
    'A ProxyRoute is an nginx server on a Host, configured over SSH: server names, TLS from a kubernetes.io/tls Secret, locations proxied to addresses or Workspace ports, access rules and a rate limit. A route that nginx rejects is quarantined without affecting the others.',
  spec: proxyRouteSpecSchema,
  status: proxyRouteStatusSchema,
  references: proxyRouteReferences,
  printerColumns: [
    { name: 'Host', type: 'string', jsonPath: '.spec.hostRef.name', description: 'Host running nginx.' },
    { name: 'Server Names', type: 'string', jsonPath: '.spec.serverNames', description: 'Host names served.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition.' },
    { name: 'Cert Expires', type: 'string', jsonPath: '.status.certificate.notAfter', description: 'Expiry of the served certificate.' },
    { name: 'Last Reload', type: 'date', jsonPath: '.status.lastReload.time', priority: 1, description: 'Last reload carrying a change to this route.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
