// The privileges the VM provider needs, and which of them a token lacks, from /access/permissions
// (which lists, per ACL path, the privileges held there and whether they propagate). PVE's own 403
// often names no privilege ("Permission check failed" when one of several alternatives was
// needed), so the provider asks this to say exactly what to grant.
import type { ProxmoxClient } from './client.ts';
import { ProxmoxErrorCodes } from './errors.ts';
import { OutriggerError } from '../../controller/errors.ts';
import { permissions } from './schemas.ts';

/** Every privilege the provider uses, on /vms (clone, config, power, snapshots, agent) and /storage and /sdn. */
export const PROVIDER_PRIVILEGES = [
  'VM.Audit', 'VM.Allocate', 'VM.Clone', 'VM.Config.Disk', 'VM.Config.CPU', 'VM.Config.Memory', 'VM.Config.Network',
  'VM.Config.Options', 'VM.Config.Cloudinit', 'VM.Config.HWType', 'VM.Config.CDROM', 'VM.PowerMgmt', 'VM.Snapshot',
  'VM.Snapshot.Rollback', 'VM.GuestAgent.Audit', 'Datastore.AllocateSpace', 'Datastore.Audit', 'Sys.Audit', 'SDN.Use',
] as const;

export type HeldPermissions = Record<string, Record<string, number | boolean>>;

export interface Need { path: string; privilege: string }

/** Whether `privilege` is held on `path`: set there, or on a parent path with propagation. */
export function holds(held: HeldPermissions, path: string, privilege: string): boolean {
  const parts = path.split('/').filter(Boolean);
  for (let i = parts.length; i >= 0; i--) {
    const at = '/' + parts.slice(0, i).join('/');
    const value = held[at]?.[privilege];
    if (value === undefined) continue;
    if (i === parts.length) return true;
    if (value === 1 || value === true) return true;
  }
  return false;
}

export function missingFrom(held: HeldPermissions, needs: readonly Need[]): Need[] {
  return needs.filter((n) => !holds(held, n.path, n.privilege));
}

export async function readPermissions(client: ProxmoxClient, signal?: AbortSignal): Promise<HeldPermissions> {
  return client.get('/access/permissions', { signal }, permissions);
}

export class ProxmoxMissingPrivilegesError extends OutriggerError {
  readonly missing: Need[];
  constructor(what: string, missing: Need[], cause?: unknown) {
    super(ProxmoxErrorCodes.ProxmoxForbidden,
      `${what}: the API token lacks ${missing.map((m) => `${m.privilege} on ${m.path}`).join(', ')}; grant them to the token (or to its user, without privilege separation)`,
      { cause });
    this.name = 'ProxmoxMissingPrivilegesError';
    this.missing = missing;
  }
}
