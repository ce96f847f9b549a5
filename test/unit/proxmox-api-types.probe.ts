// Compile-time checks of the Proxmox API types (test/unit/proxmox-api-types.test.ts compiles this
// file alone). Each @ts-expect-error must be an error, or the compiler fails the test.
import type { ProxmoxClient } from '../../reconcilers/proxmox/client.ts';
import type { ApiParams, ApiPath } from '../../reconcilers/proxmox/api-types.ts';
import { maybeUpid, vmConfig } from '../../reconcilers/proxmox/schemas.ts';

export async function probe(client: ProxmoxClient): Promise<void> {
  await client.post('/nodes/{node}/qemu/{vmid}/clone', { path: { node: 'pve1', vmid: 9000 }, params: { newid: 105, full: true, name: 'a' } }, maybeUpid);
  // @ts-expect-error no such path in the API
  await client.post('/nodes/{node}/qemu/{vmid}/klone', { path: { node: 'pve1', vmid: 9000 } }, maybeUpid);
  // @ts-expect-error the API takes no GET there
  await client.get('/nodes/{node}/qemu/{vmid}/clone', { path: { node: 'pve1', vmid: 9000 } }, maybeUpid);
  // @ts-expect-error clone has no parameter "tags"
  await client.post('/nodes/{node}/qemu/{vmid}/clone', { path: { node: 'pve1', vmid: 9000 }, params: { newid: 105, tags: 'x' } }, maybeUpid);
  // @ts-expect-error newid is a number
  await client.post('/nodes/{node}/qemu/{vmid}/clone', { path: { node: 'pve1', vmid: 9000 }, params: { newid: 'x' } }, maybeUpid);
  // @ts-expect-error the path has {vmid}, not {id}
  await client.get('/nodes/{node}/qemu/{vmid}/config', { path: { node: 'pve1', id: 1 } }, vmConfig);
}

export const paths: Array<ApiPath<'DELETE', '/nodes/{node}/qemu/{vmid}'>> = ['/nodes/{node}/qemu/{vmid}'];
export const params: ApiParams<'DELETE', '/nodes/{node}/qemu/{vmid}'> = { purge: true, 'destroy-unreferenced-disks': true };
