// One client (so one connection pool and one concurrency limit) and one VM provider per
// ProxmoxCluster, shared by every reconcile: keyed by the cluster's uid, replaced (the old pool
// closed) when its connection settings or credentials change, closed when the cluster goes away.
// VMID reservations outlive a replacement, so creations in flight keep their ids.
import { createHash } from 'node:crypto';
import { ProxmoxClient, type ProxmoxClientOptions } from './client.ts';
import type { SnippetStore } from './snippets.ts';
import { ProxmoxVms, type VmTimeouts } from './vm.ts';
import { VmidReservations, type VmidRange } from './vmid.ts';

export interface ClusterConnection extends ProxmoxClientOptions {
  vmidRange: VmidRange;
  snippets?: SnippetStore;
  timeouts?: Partial<VmTimeouts>;
}

export interface ClusterHandle {
  client: ProxmoxClient;
  vms: ProxmoxVms;
}

/** A fingerprint of what the connection depends on; secrets enter only hashed. */
export function connectionKey(c: ClusterConnection): string {
  const creds = c.credentials.kind === 'token'
    ? ['token', c.credentials.tokenId, c.credentials.secret]
    : ['ticket', c.credentials.username, c.credentials.password];
  return createHash('sha256').update(JSON.stringify([
    c.endpoint, creds, c.tls?.caBundle ?? null, c.tls?.insecureSkipVerify ?? false, c.vmidRange, c.concurrency ?? null,
    c.requestTimeoutMs ?? null, c.lookup ? 'lookup' : null,
  ])).digest('hex');
}

export class ProxmoxClusters {
  private readonly clusters = new Map<string, { key: string; handle: ClusterHandle }>();
  private readonly reservations = new Map<string, VmidReservations>();

  /** The handle for this cluster: the existing one if nothing changed, else a new one. */
  get(clusterUid: string, connection: ClusterConnection): ClusterHandle {
    const key = connectionKey(connection);
    const existing = this.clusters.get(clusterUid);
    if (existing?.key === key) return existing.handle;
    if (existing) void existing.handle.client.close();
    let reservations = this.reservations.get(clusterUid);
    if (!reservations) this.reservations.set(clusterUid, (reservations = new VmidReservations()));
    const client = new ProxmoxClient(connection);
    const vms = new ProxmoxVms({ client, vmidRange: connection.vmidRange, clock: connection.clock, random: connection.random,
      snippets: connection.snippets, reservations, timeouts: connection.timeouts });
    const handle = { client, vms };
    this.clusters.set(clusterUid, { key, handle });
    return handle;
  }

  peek(clusterUid: string): ClusterHandle | undefined {
    return this.clusters.get(clusterUid)?.handle;
  }

  /** Forgets a cluster (deleted): its pool closes. */
  async release(clusterUid: string): Promise<void> {
    const existing = this.clusters.get(clusterUid);
    this.clusters.delete(clusterUid);
    this.reservations.delete(clusterUid);
    await existing?.handle.client.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.clusters.keys()].map((uid) => this.release(uid)));
  }
}
