// The reference index: from each tracked kind's objects (their specs' declared references, see
// crds/references.ts) to the reverse map "who names this Host / Secret / cluster". It feeds the
// watch mappings (a referent's change re-queues exactly its dependants) and in-use protection.
// Kept up to date from the informers' events; no API calls of its own.
import { keyOf, parseObjectKey, type Informer, type KubeObject, type ObjectKey } from '../../controller/index.ts';
import { referencesOfSpec, type KindDefinition, type Reference } from '../../crds/index.ts';

export interface Dependant {
  kind: string;
  key: ObjectKey;
  /** Whether this dependant's reference protects the referent (its cleanup needs it). */
  protects: boolean;
}

/** "Kind/namespace/name" of a referent. */
export const referentId = (kind: string, namespace: string | undefined, name: string): string => `${kind}/${namespace ?? ''}/${name}`;

type Listener = (referentIds: string[]) => void;

export class ReferenceIndex {
  /** referent id -> referrer "Kind/ns/name" -> protects */
  private readonly byReferent = new Map<string, Map<string, boolean>>();
  /** referrer "Kind/ns/name" -> its current references (as referent ids with protects) */
  private readonly byReferrer = new Map<string, Map<string, boolean>>();
  private readonly listeners: Listener[] = [];
  private readonly tracked = new Map<string, Informer<KubeObject>>();

  /** Follows a kind's objects through its informer (once per kind). */
  track(def: KindDefinition, informer: Informer<KubeObject>): void {
    if (this.tracked.has(def.kind)) return;
    this.tracked.set(def.kind, informer);
    const update = (obj: KubeObject) => this.set(def.kind, obj, referencesOfSpec(def, (obj as { spec?: unknown }).spec));
    informer.addHandler({ onAdd: update, onUpdate: (_old, obj) => update(obj), onDelete: (obj) => this.set(def.kind, obj, []) });
  }

  /** The informers of every tracked kind (protection waits for them all before releasing anything). */
  informers(): Informer<KubeObject>[] {
    return [...this.tracked.values()];
  }

  /** Called with the referents whose set of dependants changed. */
  onChange(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** The objects that name the referent, optionally only those of one kind. */
  dependants(kind: string, namespace: string | undefined, name: string, opts: { referrerKind?: string } = {}): Dependant[] {
    const users = this.byReferent.get(referentId(kind, namespace, name));
    if (!users) return [];
    const out: Dependant[] = [];
    for (const [referrer, protects] of users) {
      const slash = referrer.indexOf('/');
      const referrerKind = referrer.slice(0, slash);
      if (opts.referrerKind && referrerKind !== opts.referrerKind) continue;
      out.push({ kind: referrerKind, key: parseObjectKey(referrer.slice(slash + 1)), protects });
    }
    return out.sort((a, b) => `${a.kind}/${a.key.name}`.localeCompare(`${b.kind}/${b.key.name}`));
  }

  /** Keys of the dependants of one kind, for a controller's watch mapping. */
  dependantKeys(referrerKind: string, referent: KubeObject, referentKind: string): ObjectKey[] {
    return this.dependants(referentKind, referent.metadata.namespace, referent.metadata.name ?? '', { referrerKind }).map((d) => d.key);
  }

  private set(kind: string, obj: KubeObject, refs: Reference[]): void {
    const referrer = `${kind}/${keyOf(obj)}`;
    const next = new Map<string, boolean>();
    for (const r of refs) {
      const id = referentId(r.kind, obj.metadata.namespace, r.name);
      next.set(id, (next.get(id) ?? false) || Boolean(r.protects));
    }
    const before = this.byReferrer.get(referrer) ?? new Map<string, boolean>();
    const changed: string[] = [];
    for (const [id] of before) {
      if (next.has(id)) continue;
      const users = this.byReferent.get(id);
      users?.delete(referrer);
      if (users?.size === 0) this.byReferent.delete(id);
      changed.push(id);
    }
    for (const [id, protects] of next) {
      if (before.get(id) === protects) continue;
      let users = this.byReferent.get(id);
      if (!users) this.byReferent.set(id, (users = new Map()));
      users.set(referrer, protects);
      changed.push(id);
    }
    if (next.size > 0) this.byReferrer.set(referrer, next);
    else this.byReferrer.delete(referrer);
    if (changed.length > 0) for (const l of this.listeners) l(changed);
  }
}

/**
 * Whether a change of a referent concerns the objects that name it: it appeared or went, its spec
 * changed, its deletion started, or its Ready condition flipped (an engine or host came back: its
 * dependants resume at once instead of at their next backoff).
 */
export function referentChanged(oldObj: KubeObject | undefined, newObj: KubeObject): boolean {
  if (!oldObj) return true;
  if (oldObj.metadata.generation !== newObj.metadata.generation) return true;
  if (Boolean(oldObj.metadata.deletionTimestamp) !== Boolean(newObj.metadata.deletionTimestamp)) return true;
  if (oldObj.metadata.resourceVersion !== undefined && oldObj.metadata.resourceVersion === newObj.metadata.resourceVersion) return false;
  const ready = (o: KubeObject) => ((o as { status?: { conditions?: Array<{ type: string; status: string }> } }).status?.conditions ?? []).find((c) => c.type === 'Ready')?.status;
  // Secrets have no generation: any change of theirs is a change of content or metadata.
  if (newObj.metadata.generation === undefined) return true;
  return ready(oldObj) !== ready(newObj);
}
