// Read-only checks before anything is made, so bad input fails with a message naming the field and
// nothing half made: the template exists and is a template, the node has the storage (enabled,
// active, holding VM images) and the bridge.
import { TerminalError } from '../../controller/errors.ts';
import type { ProxmoxClient } from './client.ts';
import { ProxmoxErrorCodes } from './errors.ts';
import { networkList, storageList, type VmResource } from './schemas.ts';
import type { Inventory } from './vm-inventory.ts';
import { templateVmid, type VmSpec } from './vm-spec.ts';

export interface TemplateRef { vmid: number; node: string; name?: string }

export function resolveTemplate(template: VmSpec['template'], inventory: Inventory): TemplateRef {
  const vmid = templateVmid(template);
  const qemu = inventory.resources.filter((r) => r.type === 'qemu');
  let found: VmResource | undefined;
  if (vmid !== undefined) {
    found = qemu.find((r) => r.vmid === vmid);
    if (!found) throw new TerminalError(ProxmoxErrorCodes.TemplateNotFound, `template: no VM ${vmid} exists on the cluster; name an existing template`, { field: 'template' });
  } else {
    const named = qemu.filter((r) => r.name === template && r.template);
    if (named.length > 1) {
      throw new TerminalError(ProxmoxErrorCodes.TemplateNotFound,
        `template: ${named.length} templates are named ${template} (VMIDs ${named.map((r) => r.vmid).join(', ')}); name one by its VMID`, { field: 'template' });
    }
    found = named[0];
    if (!found) {
      const vm = qemu.find((r) => r.name === template);
      throw new TerminalError(ProxmoxErrorCodes.TemplateNotFound, vm
        ? `template: ${template} (VMID ${vm.vmid}) is a VM, not a template; convert it to a template or name another`
        : `template: no template named ${template} exists on the cluster`, { field: 'template' });
    }
  }
  if (!found.template) {
    throw new TerminalError(ProxmoxErrorCodes.TemplateNotFound,
      `template: VM ${found.vmid}${found.name ? ` (${found.name})` : ''} is not a template; convert it to a template or name another`, { field: 'template' });
  }
  return { vmid: found.vmid, node: found.node, name: found.name };
}

export async function checkPlacement(client: ProxmoxClient, node: string, spec: VmSpec, signal?: AbortSignal): Promise<void> {
  if (spec.storage) {
    const storages = await client.get('/nodes/{node}/storage', { path: { node }, params: { content: 'images', enabled: true }, signal }, storageList);
    const usable = storages.filter((s) => s.active !== false);
    if (!usable.some((s) => s.storage === spec.storage)) {
      throw new TerminalError(ProxmoxErrorCodes.StorageNotOnNode,
        `storage: node ${node} has no active storage ${spec.storage} for VM disks (it has: ${usable.map((s) => s.storage).join(', ') || 'none'})`,
        { field: 'storage' });
    }
  }
  if (spec.network) {
    const bridges = await client.get('/nodes/{node}/network', { path: { node }, params: { type: 'any_bridge' }, signal }, networkList);
    if (!bridges.some((b) => b.iface === spec.network!.bridge)) {
      throw new TerminalError(ProxmoxErrorCodes.BridgeNotOnNode,
        `network.bridge: node ${node} has no bridge ${spec.network.bridge} (it has: ${bridges.map((b) => b.iface).join(', ') || 'none'})`,
        { field: 'network.bridge' });
    }
  }
}
