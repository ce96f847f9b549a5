// How the webhook sees other objects: a narrow lookup interface (so the rules are unit-tested with
// a map) and its implementation over the Kubernetes API. Lookups read only Outrigger kinds, never
// Secrets: the webhook's ServiceAccount may not read them.
import { ResourceClient, type KubeObject, type ResourceRef } from '../controller/kube/resource.ts';
import { isNotFound, type KubeRest } from '../controller/kube/rest.ts';
import { GROUP, VERSION, kindDefinition } from '../crds/index.ts';

/** The kinds one Outrigger object can refer to. */
export type ReferableKind = 'Host' | 'ProxmoxCluster' | 'Workspace' | 'ProxyRoute' | 'Lab';

export interface ObjectLookup {
  /** The object, or undefined when it does not exist. */
  get(kind: ReferableKind, namespace: string, name: string, signal: AbortSignal): Promise<KubeObject | undefined>;
  /** Every object of the kind in the namespace. */
  list(kind: ReferableKind, namespace: string, signal: AbortSignal): Promise<KubeObject[]>;
}

export function resourceRefOf(kind: ReferableKind): ResourceRef {
  const def = kindDefinition(kind);
  if (!def) throw new Error(`unknown kind ${kind}`);
  return { group: GROUP, version: VERSION, plural: def.plural, kind, namespaced: true };
}

/** Reads straight from the API server: admission is rare and must see the latest state. */
export class KubeLookup implements ObjectLookup {
  private readonly rest: KubeRest;

  constructor(rest: KubeRest) {
    this.rest = rest;
  }

  async get(kind: ReferableKind, namespace: string, name: string, signal: AbortSignal): Promise<KubeObject | undefined> {
    try {
      return await new ResourceClient(this.rest, resourceRefOf(kind)).get({ namespace, name }, signal);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list(kind: ReferableKind, namespace: string, signal: AbortSignal): Promise<KubeObject[]> {
    const client = new ResourceClient(this.rest, resourceRefOf(kind));
    const items: KubeObject[] = [];
    let continueToken: string | undefined;
    // Bounded: 100 pages of 500 is far more ProxyRoutes than one namespace holds.
    for (let page = 0; page < 100; page++) {
      const list = await client.list(namespace, { limit: 500, continue: continueToken }, signal);
      items.push(...list.items);
      continueToken = list.metadata.continue || undefined;
      if (!continueToken) return items;
    }
    throw new Error(`more than 50000 ${kind} objects in namespace ${namespace}`);
  }
}

/** A lookup over fixed objects, for tests and for callers that already hold a cache. */
export class StaticLookup implements ObjectLookup {
  private readonly objects: KubeObject[];

  constructor(objects: KubeObject[]) {
    this.objects = objects;
  }

  async get(kind: ReferableKind, namespace: string, name: string): Promise<KubeObject | undefined> {
    return this.objects.find((o) => o.kind === kind && o.metadata.namespace === namespace && o.metadata.name === name);
  }

  async list(kind: ReferableKind, namespace: string): Promise<KubeObject[]> {
    return this.objects.filter((o) => o.kind === kind && o.metadata.namespace === namespace);
  }
}
