// ResourceRefs for Outrigger's kinds and the core kinds reconcilers read, derived from the kind
// definitions so a renamed plural cannot drift.
import { GROUP, VERSION, hostKind, proxmoxClusterKind, workspaceKind, proxyRouteKind, labKind, alertKind, type KindDefinition } from '../../crds/index.ts';
import type { ResourceRef } from '../../controller/index.ts';

export const refOf = (kind: KindDefinition): ResourceRef => ({ group: GROUP, version: VERSION, plural: kind.plural, kind: kind.kind, namespaced: true });

export const hostRef = refOf(hostKind);
export const proxmoxClusterRef = refOf(proxmoxClusterKind);
export const workspaceRef = refOf(workspaceKind);
export const proxyRouteRef = refOf(proxyRouteKind);
export const labRef = refOf(labKind);
export const alertRef = refOf(alertKind);
export const secretRef: ResourceRef = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };

/** The finalizer every Outrigger reconciler puts on the objects it makes external things for. */
export const outriggerFinalizer = `${GROUP}/cleanup`;
