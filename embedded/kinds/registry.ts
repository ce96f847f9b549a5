// Which resources the server serves right now: the built-in kinds plus whatever the stored
// CustomResourceDefinitions define. Discovery and OpenAPI read it; a `generation` counter lets
// them cache their documents until it changes.
import type { KubeObject } from '../storage/store.ts';
import { BUILTIN_TYPES } from './builtin.ts';
import { crdToResourceTypes, crdType } from './crd.ts';
import { REVIEW_TYPES } from './reviews.ts';
import type { ResourceType } from './types.ts';

export interface GroupInfo {
  name: string;
  versions: string[];
  preferredVersion: string;
}

function gvr(group: string, version: string, plural: string): string {
  return `${group}/${version}/${plural}`;
}

/** Kubernetes version priority: v1 > v1beta2 > v1beta1 > v1alpha1 > anything else. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0, v] as const;
    const stage = m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1;
    return [1, stage, Number(m[1]), Number(m[3] ?? 0)] as const;
  };
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < 4; i++) {
    if (pa[i] !== pb[i]) {
      if (typeof pa[i] === 'string') return String(pa[i]) < String(pb[i]) ? -1 : 1;
      return (pb[i] as number) - (pa[i] as number);
    }
  }
  return 0;
}

export class Registry {
  #types = new Map<string, ResourceType>();
  #crdTypes = new Map<string, string[]>(); // crd name -> gvr keys
  #generation = 0;
  #listeners = new Set<() => void>();
  #servedSince = new Map<string, number>();

  constructor() {
    for (const t of [...BUILTIN_TYPES, crdType, ...REVIEW_TYPES]) this.#types.set(gvr(t.group, t.version, t.plural), t);
  }

  get generation(): number {
    return this.#generation;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    this.#generation++;
    for (const l of this.#listeners) l();
  }

  lookup(group: string, version: string, plural: string): ResourceType | undefined {
    return this.#types.get(gvr(group, version, plural));
  }

  byKind(group: string, version: string, kind: string): ResourceType | undefined {
    for (const t of this.#types.values()) if (t.group === group && t.version === version && t.kind === kind) return t;
    return undefined;
  }

  /** Every served version of a storage resource (for watch fan-out and GC). */
  all(): ResourceType[] {
    return [...this.#types.values()];
  }

  /** One type per storage resource, in its storage version. */
  storageTypes(): ResourceType[] {
    const out = new Map<string, ResourceType>();
    for (const t of this.#types.values()) {
      if (t.answer) continue; // review APIs store nothing
      const existing = out.get(t.storageResource);
      if (!existing || (t.version === t.storageVersion && !t.toStorage)) out.set(t.storageResource, t);
    }
    return [...out.values()];
  }

  groups(): GroupInfo[] {
    const byGroup = new Map<string, Set<string>>();
    for (const t of this.#types.values()) {
      if (!t.group) continue;
      if (!byGroup.has(t.group)) byGroup.set(t.group, new Set());
      byGroup.get(t.group)!.add(t.version);
    }
    return [...byGroup.entries()]
      .map(([name, vs]) => {
        const versions = [...vs].sort(compareVersions);
        return { name, versions, preferredVersion: versions[0]! };
      })
      .sort((a, b) => groupOrder(a.name) - groupOrder(b.name) || (a.name < b.name ? -1 : 1));
  }

  resources(group: string, version: string): ResourceType[] {
    return [...this.#types.values()].filter((t) => t.group === group && t.version === version).sort((a, b) => (a.plural < b.plural ? -1 : 1));
  }

  /** Serves what a CRD defines (replacing what it defined before). */
  setCrd(crd: KubeObject): void {
    const name = String((crd.metadata as Record<string, unknown>).name);
    this.#remove(name);
    let types: ResourceType[];
    try {
      types = crdToResourceTypes(crd);
    } catch {
      types = [];
    }
    const keys: string[] = [];
    for (const t of types) {
      const key = gvr(t.group, t.version, t.plural);
      const existing = this.#types.get(key);
      if (existing && existing.crdName !== name) continue; // name taken: not served (NamesAccepted would be False)
      this.#types.set(key, t);
      keys.push(key);
    }
    this.#crdTypes.set(name, keys);
    this.#changed();
  }

  /**
   * The resourceVersion from which a storage resource has been served: a watch cannot start
   * before it (kube-apiserver's watch cache for a new CRD likewise starts at its creation).
   */
  servedSince(storageResource: string): number {
    return this.#servedSince.get(storageResource) ?? 0;
  }

  markServed(storageResource: string, rv: number): void {
    if (!this.#servedSince.has(storageResource)) this.#servedSince.set(storageResource, rv);
  }

  removeCrd(name: string): void {
    for (const t of this.#types.values()) if (t.crdName === name) this.#servedSince.delete(t.storageResource);
    if (this.#remove(name)) this.#changed();
  }

  #remove(name: string): boolean {
    const keys = this.#crdTypes.get(name);
    if (!keys) return false;
    for (const k of keys) this.#types.delete(k);
    this.#crdTypes.delete(name);
    return true;
  }
}

/** Built-in groups first, like kube-apiserver lists them; custom groups after. */
function groupOrder(group: string): number {
  const order = ['authentication.k8s.io', 'authorization.k8s.io', 'apiextensions.k8s.io', 'coordination.k8s.io', 'events.k8s.io'];
  const i = order.indexOf(group);
  return i === -1 ? order.length : i;
}
