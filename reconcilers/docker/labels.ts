// The labels Outrigger puts on every Docker object it makes, and reading an owner back from them.
// Docker's convention is reverse-DNS keys; every key starts with `dev.outrigger.`.
//
// An object is found again by its owner's uid (never by name alone), so a crash at any point can
// never lead to a second container for the same owner. `managed-by` separates controller
// instances (and test runs) sharing one engine: each watches and lists only its own objects.

export const LABEL_PREFIX = 'dev.outrigger.';

export const Labels = {
  /** Which controller instance manages the object (default "outrigger"). */
  managedBy: 'dev.outrigger.managed-by',
  /** What the object is for: "workspace" (container) or "home" (volume). */
  role: 'dev.outrigger.role',
  ownerKind: 'dev.outrigger.owner.kind',
  ownerNamespace: 'dev.outrigger.owner.namespace',
  ownerName: 'dev.outrigger.owner.name',
  ownerUid: 'dev.outrigger.owner.uid',
  /** specHash() of the container-relevant spec the container was created from. */
  specHash: 'dev.outrigger.spec-hash',
  /** The Lab machine a container (or snapshot image) is, and the Lab network a network is. */
  labMachine: 'dev.outrigger.lab.machine',
  labNetwork: 'dev.outrigger.lab.network',
  /** The snapshot image a Lab machine's container was made from, when it was. */
  labSnapshot: 'dev.outrigger.lab.snapshot',
} as const;

export const DEFAULT_INSTANCE = 'outrigger';

/** workspace/home: a Workspace's container and volume; lab-*: a Lab's machines, networks and snapshot images. */
export type Role = 'workspace' | 'home' | 'lab-machine' | 'lab-network' | 'lab-snapshot';

/** The Kubernetes object a Docker object belongs to. */
export interface Owner {
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

export function ownerLabels(owner: Owner, instance: string, role: Role): Record<string, string> {
  return {
    [Labels.managedBy]: instance,
    [Labels.role]: role,
    [Labels.ownerKind]: owner.kind,
    [Labels.ownerNamespace]: owner.namespace,
    [Labels.ownerName]: owner.name,
    [Labels.ownerUid]: owner.uid,
  };
}

/** The owner recorded in a Docker object's labels, or undefined if they do not name one. */
export function ownerFromLabels(labels: Record<string, string> | undefined | null): Owner | undefined {
  if (!labels) return undefined;
  const uid = labels[Labels.ownerUid];
  const name = labels[Labels.ownerName];
  const namespace = labels[Labels.ownerNamespace];
  if (!uid || !name || namespace === undefined) return undefined;
  return { kind: labels[Labels.ownerKind] ?? '', namespace, name, uid };
}

/** `label` filter values for Docker's list and events APIs (all must match). */
export function instanceFilter(instance: string, role?: Role): string[] {
  const filters = [`${Labels.managedBy}=${instance}`];
  if (role) filters.push(`${Labels.role}=${role}`);
  return filters;
}

export function ownerFilter(instance: string, ownerUid: string, role: Role): string[] {
  return [...instanceFilter(instance, role), `${Labels.ownerUid}=${ownerUid}`];
}

/** The queue key ("namespace/name") of the owner of a labelled object. */
export function ownerKey(owner: Pick<Owner, 'namespace' | 'name'>): string {
  return owner.namespace ? `${owner.namespace}/${owner.name}` : owner.name;
}
