// Fields that never change after creation, compared between the stored object and the update.
// The CRDs carry the same rules as CEL transition rules (kube-apiserver checks them first); this is
// the same rule for every API server that does not evaluate CEL, with the reason in the message.
import { RECREATE_HINT, type LabSpec, type ProxyRouteSpec, type WorkspaceSpec } from '../crds/index.ts';
import type { FieldError } from '../crds/validate.ts';

type Runtime = { docker?: { hostRef: { name: string } }; proxmox?: { clusterRef: { name: string } } };

/** One runtime (docker or proxmox) against its older self, at `path`. */
function runtimeChanges(path: string, before: Runtime | undefined, after: Runtime | undefined, what: string): FieldError[] {
  if (!before || !after) return [];
  if ((before.docker === undefined) !== (after.docker === undefined)) {
    const was = before.docker ? 'docker' : 'proxmox';
    return [{ path, message: `cannot switch from ${was} to ${was === 'docker' ? 'proxmox' : 'docker'} (${what} lives there): ${RECREATE_HINT}` }];
  }
  const errors: FieldError[] = [];
  if (before.docker && after.docker && before.docker.hostRef.name !== after.docker.hostRef.name) {
    errors.push({ path: `${path}.docker.hostRef.name`, message: `is immutable (${what} lives on Host "${before.docker.hostRef.name}"): ${RECREATE_HINT}` });
  }
  if (before.proxmox && after.proxmox && before.proxmox.clusterRef.name !== after.proxmox.clusterRef.name) {
    errors.push({ path: `${path}.proxmox.clusterRef.name`, message: `is immutable (${what} lives on ProxmoxCluster "${before.proxmox.clusterRef.name}"): ${RECREATE_HINT}` });
  }
  return errors;
}

/**
 * Changes to immutable fields between two parsed specs of one kind. A stored spec that no longer
 * parses is given as it is stored: fields are read defensively.
 */
export function immutableFieldChanges(kind: string, before: unknown, after: unknown): FieldError[] {
  switch (kind) {
    case 'Workspace': {
      const b = before as Partial<WorkspaceSpec> | undefined;
      const a = after as WorkspaceSpec;
      return runtimeChanges('spec.runtime', b?.runtime, a.runtime, 'the home');
    }
    case 'ProxyRoute': {
      const b = before as Partial<ProxyRouteSpec> | undefined;
      const a = after as ProxyRouteSpec;
      const old = b?.hostRef?.name;
      return old !== undefined && old !== a.hostRef.name
        ? [{ path: 'spec.hostRef.name', message: `is immutable (the configuration lives on Host "${old}"): ${RECREATE_HINT}` }]
        : [];
    }
    case 'Lab': {
      const b = before as Partial<LabSpec> | undefined;
      const a = after as LabSpec;
      const previous = new Map((b?.machines ?? []).map((m) => [m.name, m]));
      return a.machines.flatMap((m, i) => {
        const old = previous.get(m.name);
        return old ? runtimeChanges(`spec.machines[${i}]`, old, m, `machine "${m.name}"`) : [];
      });
    }
    default:
      return [];
  }
}
