// What is on the cluster, from one /cluster/resources call (one list for every node): every VMID in
// use (VMs and containers share the id space), Outrigger's VMs (tag `outrigger`, inside vmidRange,
// not templates) grouped by owner, and templates to clone from.
import type { ProxmoxClient } from './client.ts';
import { vmResources, type VmResource } from './schemas.ts';
import { MANAGED_TAG, splitTags } from './vm-spec.ts';
import { inRange, type VmidRange } from './vmid.ts';

export interface ManagedVm {
  vmid: number;
  node: string;
  name?: string;
  status?: string;
  lock?: string;
  tags: string[];
  /** The owner uid from its tag (or from the description marker for a VM not yet tagged). */
  ownerUid?: string;
}

export interface Inventory {
  resources: VmResource[];
  /** Every id in use on the cluster. */
  taken: Set<number>;
  /** Outrigger's VMs by owner uid. */
  byOwner: Map<string, ManagedVm[]>;
  /** QEMU guests in the range without Outrigger's tag: a clone cut short before tagging, or not ours. */
  untaggedInRange: VmResource[];
}

export function toManaged(r: VmResource, ownerUid?: string): ManagedVm {
  const tags = splitTags(r.tags);
  const fromTag = tags.find((t) => t.startsWith(`${MANAGED_TAG}-`))?.slice(MANAGED_TAG.length + 1);
  return { vmid: r.vmid, node: r.node, name: r.name, status: r.status, lock: r.lock, tags, ownerUid: ownerUid ?? fromTag };
}

export function buildInventory(resources: VmResource[], range: VmidRange): Inventory {
  const inv: Inventory = { resources, taken: new Set(), byOwner: new Map(), untaggedInRange: [] };
  for (const r of resources) {
    inv.taken.add(r.vmid);
    if (r.type !== 'qemu' || r.template || !inRange(range, r.vmid)) continue;
    const vm = toManaged(r);
    if (!vm.tags.includes(MANAGED_TAG)) {
      inv.untaggedInRange.push(r);
      continue;
    }
    if (!vm.ownerUid) continue;
    const list = inv.byOwner.get(vm.ownerUid) ?? [];
    list.push(vm);
    inv.byOwner.set(vm.ownerUid, list);
  }
  for (const list of inv.byOwner.values()) list.sort((a, b) => a.vmid - b.vmid);
  return inv;
}

export async function readInventory(client: ProxmoxClient, range: VmidRange, signal?: AbortSignal): Promise<Inventory> {
  const resources = await client.get('/cluster/resources', { params: { type: 'vm' }, signal }, vmResources);
  return buildInventory(resources, range);
}
