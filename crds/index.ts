// The Outrigger API (outrigger.dev/v1alpha1): every kind's definition, schemas and types.
// Imports only zod and type-only client-node; the controller runtime never imports this folder.
import type { KindDefinition } from './kind.ts';
import { hostKind } from './host.ts';
import { proxmoxClusterKind } from './proxmoxcluster.ts';
import { workspaceKind } from './workspace.ts';
import { proxyRouteKind } from './proxyroute.ts';
import { labKind } from './lab.ts';
import { alertKind } from './alert.ts';

export * from './kind.ts';
export * from './common.ts';
export * from './host.ts';
export * from './proxmoxcluster.ts';
export * from './workspace.ts';
export * from './proxyroute.ts';
export * from './lab.ts';
export * from './alert.ts';
export * from './validate.ts';

/** Every kind, connection kinds first (the order CRDs are listed and examples are applied in). */
export const allKinds: readonly KindDefinition[] = [hostKind, proxmoxClusterKind, workspaceKind, proxyRouteKind, labKind, alertKind];

export type OutriggerKind = 'Host' | 'ProxmoxCluster' | 'Workspace' | 'ProxyRoute' | 'Lab' | 'Alert';

export function kindDefinition(kind: string): KindDefinition | undefined {
  return allKinds.find((k) => k.kind === kind);
}
