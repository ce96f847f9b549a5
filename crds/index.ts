// The Outrigger API (outrigger.dev/v1alpha1): every kind's definition, schemas and types.
// Imports only zod and type-only client-node; the controller runtime never imports this folder.
import type { KindDefinition } from './kind.ts';
import type { Reference } from './references.ts';
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
export * from './references.ts';

/** Every kind, connection kinds first (the order CRDs are listed and examples are applied in). */
export const allKinds: readonly KindDefinition[] = [hostKind, proxmoxClusterKind, workspaceKind, proxyRouteKind, labKind, alertKind];

export type OutriggerKind = 'Host' | 'ProxmoxCluster' | 'Workspace' | 'ProxyRoute' | 'Lab' | 'Alert';

export function kindDefinition(kind: string): KindDefinition | undefined {
  return allKinds.find((k) => k.kind === kind);
}

/**
 * The references of an object's spec as stored. A stored spec may predate today's schema or be
 * invalid: it is read through the schema when it can be, otherwise it names nothing.
 */
export function referencesOfSpec(def: KindDefinition, spec: unknown): Reference[] {
  if (!def.references) return [];
  const parsed = def.spec.safeParse(spec);
  if (!parsed.success) return [];
  try {
    return def.references(parsed.data);
  } catch {
    return [];
  }
}
