// Resolving a ProxyRoute's references from the informer caches: the TLS pair and htpasswd file from
// Secrets in the route's namespace, and Workspace ports to the address and port they are published
// on. A Workspace that is not Ready yet is a reason to wait, not a failure. Errors name the field and
// never carry a Secret's content.
import { OutriggerError, TerminalError, getCondition, type Condition, type Informer } from '../../controller/index.ts';
import { ErrorCodes } from '../common/reasons.ts';
import type { ProxyRouteSpec, Workspace } from '../../crds/index.ts';
import type { ResolvedReferences } from '../nginx/index.ts';
import { upstreamAddressProblem, portProblem } from '../nginx/validate.ts';
import type { SecretReader } from '../common/secrets.ts';

export interface ResolvedUpstream {
  path: string;
  address: string;
  port: number;
}

export type Resolution =
  | { ok: true; resolved: ResolvedReferences; upstreams: ResolvedUpstream[] }
  /** Something the route needs is not there yet; the route waits (and is reconciled when it changes). */
  | { ok: false; reason: string; message: string };

export interface ResolveDeps {
  secrets: SecretReader;
  workspaces: Informer<Workspace>;
}

const TLS_SECRET_TYPE = 'kubernetes.io/tls';

function resolveTls(namespace: string, secretName: string, secrets: SecretReader): { certificate: string; privateKey: string } {
  const field = 'spec.tls.secretRef';
  const secret = secrets.secret(namespace, secretName, field);
  if (secret.type !== TLS_SECRET_TYPE) {
    throw new TerminalError(ErrorCodes.InvalidSpec, `${field}: Secret "${secretName}" has type ${secret.type ?? 'Opaque'}; a ${TLS_SECRET_TYPE} Secret with tls.crt and tls.key is needed (cert-manager writes one)`, { field });
  }
  return {
    certificate: secrets.text(namespace, { name: secretName, key: 'tls.crt' }, field),
    privateKey: secrets.text(namespace, { name: secretName, key: 'tls.key' }, field),
  };
}

function workspaceEndpoint(namespace: string, index: number, ref: { name: string; port: string }, workspaces: Informer<Workspace>): { address: string; port: number } | { wait: string; message: string } {
  const field = `spec.routes[${index}].upstream.workspaceRef`;
  const ws = workspaces.get(`${namespace}/${ref.name}`);
  if (!ws) return { wait: 'WorkspaceNotFound', message: `${field}: Workspace "${ref.name}" does not exist in namespace "${namespace}" yet; the route is applied once it is Ready` };
  const ready = getCondition(ws.status?.conditions as Condition[] | undefined, 'Ready');
  if (ready?.status !== 'True') {
    const why = ready ? `${ready.reason}: ${ready.message}` : `phase ${ws.status?.phase ?? 'unknown'}`;
    return { wait: 'WorkspaceNotReady', message: `${field}: Workspace "${ref.name}" is not Ready (${why}); the route is applied once it is` };
  }
  const endpoint = ws.status?.endpoints?.find((e) => e.name === ref.port);
  if (!endpoint || endpoint.host === undefined || endpoint.port === undefined) {
    const names = (ws.status?.endpoints ?? []).map((e) => e.name).join(', ') || 'none';
    return { wait: 'WorkspaceEndpointMissing', message: `${field}: Workspace "${ref.name}" publishes no endpoint "${ref.port}" with an address and port (it has: ${names})` };
  }
  // The endpoint comes from another object's status: it gets the same scrutiny as a user's upstream.
  const problem = upstreamAddressProblem(endpoint.host) ?? (portProblem(endpoint.port) ? `port ${portProblem(endpoint.port)}` : null);
  if (problem) {
    throw new TerminalError('UpstreamRejected', `${field}: Workspace "${ref.name}" endpoint "${ref.port}" points at an address that ${problem}`, { field });
  }
  return { address: endpoint.host, port: endpoint.port };
}

/** Resolves every reference of a validated spec; throws OutriggerError for missing or unusable Secrets. */
export function resolveReferences(namespace: string, spec: ProxyRouteSpec, deps: ResolveDeps): Resolution {
  const upstreams: ResolvedUpstream[] = [];
  for (const [i, r] of spec.routes.entries()) {
    const ws = r.upstream.workspaceRef;
    if (ws) {
      const at = workspaceEndpoint(namespace, i, ws, deps.workspaces);
      if ('wait' in at) return { ok: false, reason: at.wait, message: at.message };
      upstreams.push({ path: r.path, ...at });
    } else if (r.upstream.address !== undefined && r.upstream.port !== undefined) {
      upstreams.push({ path: r.path, address: r.upstream.address, port: r.upstream.port });
    } else {
      throw new TerminalError(ErrorCodes.InvalidSpec, `spec.routes[${i}].upstream: set either address and port, or workspaceRef`, { field: `spec.routes[${i}].upstream` });
    }
  }
  const resolved: ResolvedReferences = { upstreams: upstreams.map(({ address, port }) => ({ address, port })) };
  if (spec.tls) resolved.tls = resolveTls(namespace, spec.tls.secretRef.name, deps.secrets);
  const auth = spec.access?.basicAuth;
  if (auth) resolved.htpasswd = deps.secrets.text(namespace, { name: auth.secretRef.name, key: auth.secretRef.key }, 'spec.access.basicAuth.secretRef');
  return { ok: true, resolved, upstreams };
}

export function isMissingReference(err: unknown): boolean {
  return err instanceof OutriggerError && [ErrorCodes.SecretNotFound, ErrorCodes.SecretKeyMissing, ErrorCodes.ReferenceNotFound].includes(err.code as never);
}
