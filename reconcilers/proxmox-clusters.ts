// From a ProxmoxCluster object to a live client and VM provider: the cluster found in the informer
// cache (a wait, naming the field, while it is missing), its API token from its Secret, its TLS
// settings and vmidRange, handed to the provider's registry (one client and pool per cluster, made
// again when any of that changes). The one place Labs (and later Workspaces and the cluster's own
// reconciler) turn a clusterRef into a connection.
import { TerminalError, type Informer } from '../controller/index.ts';
import type { ProxmoxCluster } from '../crds/index.ts';
import { ErrorCodes } from './common/reasons.ts';
import type { SecretReader } from './common/secrets.ts';
import { WaitingForReferent } from './common/waiting.ts';
import { ProxmoxClusters, type ClusterConnection, type ClusterHandle } from './proxmox/registry.ts';
import type { SnippetStore } from './proxmox/snippets.ts';
import type { VmTimeouts } from './proxmox/vm.ts';

export interface ProxmoxConnectionsOptions {
  secrets: SecretReader;
  registry?: ProxmoxClusters;
  /** Where a cluster's user-data snippets go (packages and commands); none: such machines are refused with a message. */
  snippets?: (cluster: ProxmoxCluster) => SnippetStore | undefined;
  timeouts?: Partial<VmTimeouts>;
  /** Extra client settings (tests: faster retries). */
  client?: Partial<Pick<ClusterConnection, 'concurrency' | 'requestTimeoutMs' | 'retry' | 'lookup' | 'clock'>>;
}

/** The ProxmoxCluster a resource names, from the informer cache; `field` names the reference for the message. */
export function resolveProxmoxCluster(clusters: Informer<ProxmoxCluster>, namespace: string, name: string, field: string): ProxmoxCluster {
  const cluster = clusters.get(`${namespace}/${name}`);
  if (!cluster) {
    throw new WaitingForReferent(ErrorCodes.ReferenceNotFound, { kind: 'ProxmoxCluster', namespace, name }, `${field}: ProxmoxCluster "${name}" not found in namespace "${namespace}"; create it or fix the reference`, { field });
  }
  return cluster;
}

export class ProxmoxConnections {
  readonly registry: ProxmoxClusters;
  private readonly opts: ProxmoxConnectionsOptions;

  constructor(opts: ProxmoxConnectionsOptions) {
    this.opts = opts;
    this.registry = opts.registry ?? new ProxmoxClusters();
  }

  /** The client and VM provider of the cluster (the same one while its settings and token are unchanged). */
  handle(cluster: ProxmoxCluster): ClusterHandle {
    return this.registry.get(cluster.metadata.uid ?? `${cluster.metadata.namespace}/${cluster.metadata.name}`, this.connection(cluster));
  }

  connection(cluster: ProxmoxCluster): ClusterConnection {
    const namespace = cluster.metadata.namespace ?? 'default';
    const where = `ProxmoxCluster ${namespace}/${cluster.metadata.name}`;
    const spec = cluster.spec;
    if (!spec.vmidRange) {
      throw new TerminalError(ErrorCodes.InvalidSpec, `${where} has no spec.vmidRange: set the VMIDs Outrigger may use there (for example start: 9000, end: 9499)`, { field: 'spec.vmidRange' });
    }
    const secret = this.opts.secrets.text(namespace, { name: spec.tokenSecretRef.name, key: spec.tokenSecretRef.key ?? 'token' }, `${where} spec.tokenSecretRef`).trim();
    const tls = spec.tls?.caBundle ? { caBundle: spec.tls.caBundle } : spec.tls?.insecureSkipVerify ? { insecureSkipVerify: true } : undefined;
    const snippets = this.opts.snippets?.(cluster);
    return {
      endpoint: spec.endpoint.replace(/\/$/, ''),
      credentials: { kind: 'token', tokenId: spec.tokenId, secret },
      ...(tls ? { tls } : {}),
      vmidRange: spec.vmidRange,
      ...(snippets ? { snippets } : {}),
      ...(this.opts.timeouts ? { timeouts: this.opts.timeouts } : {}),
      ...this.opts.client,
    };
  }

  /** The cluster is gone: its pool closes. */
  release(cluster: ProxmoxCluster): Promise<void> {
    return this.registry.release(cluster.metadata.uid ?? `${cluster.metadata.namespace}/${cluster.metadata.name}`);
  }

  closeAll(): Promise<void> {
    return this.registry.closeAll();
  }
}
