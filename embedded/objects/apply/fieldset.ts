// Sets of field paths, the unit of ownership in server-side apply, and their FieldsV1 encoding
// (`{"f:spec":{"f:image":{}},"f:list":{"k:{\"name\":\"a\"}":{".":{},"f:name":{}}}}`).
//
// A path element is kept in its serialized form: `f:<field>`, `k:<json of key fields>`,
// `v:<json value>` or `i:<index>`; that string is also the trie key.

export type PathElement = string;
export type FieldPath = PathElement[];

export function fieldPE(name: string): PathElement {
  return `f:${name}`;
}

export function keyPE(keys: Record<string, unknown>): PathElement {
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(keys).sort()) sorted[k] = keys[k];
  return `k:${JSON.stringify(sorted)}`;
}

export function valuePE(value: unknown): PathElement {
  return `v:${JSON.stringify(value)}`;
}

export function indexPE(i: number): PathElement {
  return `i:${i}`;
}

const KIND_ORDER: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

/** Order of path elements in FieldsV1 output: fields, then keys, values, indexes. */
export function comparePE(a: PathElement, b: PathElement): number {
  const ka = KIND_ORDER[a[0] ?? ''] ?? 9;
  const kb = KIND_ORDER[b[0] ?? ''] ?? 9;
  if (ka !== kb) return ka - kb;
  if (a[0] === 'i') return Number(a.slice(2)) - Number(b.slice(2));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** How a path prints in conflict messages: `.spec.list[name="a"].image`, `.metadata.finalizers[="x"]`. */
export function pathString(path: FieldPath): string {
  return path
    .map((pe) => {
      const body = pe.slice(2);
      switch (pe[0]) {
        case 'f':
          return `.${body}`;
        case 'k': {
          const keys = JSON.parse(body) as Record<string, unknown>;
          return `[${Object.entries(keys)
            .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
            .join(',')}]`;
        }
        case 'v':
          return `[=${body}]`;
        case 'i':
          return `[${body}]`;
        default:
          return pe;
      }
    })
    .join('');
}

/** A trie of paths; a node is a member when the path ending there is in the set. */
export class FieldSet {
  member = false;
  readonly children = new Map<PathElement, FieldSet>();

  static of(...paths: FieldPath[]): FieldSet {
    const s = new FieldSet();
    for (const p of paths) s.insert(p);
    return s;
  }

  insert(path: FieldPath): void {
    let node: FieldSet = this;
    for (const pe of path) {
      let next = node.children.get(pe);
      if (!next) node.children.set(pe, (next = new FieldSet()));
      node = next;
    }
    node.member = true;
  }

  has(path: FieldPath): boolean {
    const node = this.#node(path);
    return !!node && node.member;
  }

  /** True when the set holds `path` or anything below it. */
  hasPrefix(path: FieldPath): boolean {
    const node = this.#node(path);
    return !!node && !node.isEmpty();
  }

  #node(path: FieldPath): FieldSet | undefined {
    let node: FieldSet | undefined = this;
    for (const pe of path) {
      node = node.children.get(pe);
      if (!node) return undefined;
    }
    return node;
  }

  isEmpty(): boolean {
    if (this.member) return false;
    for (const c of this.children.values()) if (!c.isEmpty()) return false;
    return true;
  }

  /** Every member path, depth first. */
  paths(prefix: FieldPath = []): FieldPath[] {
    const out: FieldPath[] = [];
    if (this.member && prefix.length) out.push(prefix);
    for (const [pe, child] of [...this.children].sort((a, b) => comparePE(a[0], b[0]))) out.push(...child.paths([...prefix, pe]));
    return out;
  }

  clone(): FieldSet {
    const s = new FieldSet();
    s.member = this.member;
    for (const [pe, c] of this.children) s.children.set(pe, c.clone());
    return s;
  }

  union(other: FieldSet): FieldSet {
    const s = this.clone();
    mergeInto(s, other);
    return s;
  }

  /** Members of this set that are not members of `other` (member-wise, as SMD's Difference). */
  difference(other: FieldSet): FieldSet {
    const s = new FieldSet();
    s.member = this.member && !other.member;
    for (const [pe, c] of this.children) {
      const o = other.children.get(pe);
      const d = o ? c.difference(o) : c.clone();
      if (!d.isEmpty()) s.children.set(pe, d);
    }
    return s;
  }

  intersection(other: FieldSet): FieldSet {
    const s = new FieldSet();
    s.member = this.member && other.member;
    for (const [pe, c] of this.children) {
      const o = other.children.get(pe);
      if (!o) continue;
      const i = c.intersection(o);
      if (!i.isEmpty()) s.children.set(pe, i);
    }
    return s;
  }

  /** Keeps only the paths `keep` accepts (decided on whole paths). */
  filter(keep: (path: FieldPath) => boolean): FieldSet {
    return FieldSet.of(...this.paths().filter(keep));
  }

  equals(other: FieldSet): boolean {
    return this.difference(other).isEmpty() && other.difference(this).isEmpty();
  }

  toFieldsV1(): Record<string, unknown> {
    return emit(this, false);
  }

  static fromFieldsV1(json: unknown): FieldSet {
    const s = new FieldSet();
    read(s, json);
    return s;
  }
}

function mergeInto(target: FieldSet, source: FieldSet): void {
  target.member ||= source.member;
  for (const [pe, c] of source.children) {
    let t = target.children.get(pe);
    if (!t) target.children.set(pe, (t = new FieldSet()));
    mergeInto(t, c);
  }
}

function emit(node: FieldSet, includeSelf: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const entries = [...node.children].filter(([, c]) => !c.isEmpty()).sort((a, b) => comparePE(a[0], b[0]));
  for (const [pe, child] of entries) {
    const hasChildren = [...child.children.values()].some((c) => !c.isEmpty());
    out[pe] = hasChildren ? emit(child, child.member) : {};
  }
  if (includeSelf && entries.length) out['.'] = {};
  return out;
}

function read(node: FieldSet, json: unknown): void {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error('FieldsV1 must be a JSON object');
  }
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    if (key === '.') {
      node.member = true;
      continue;
    }
    if (!/^[fkvi]:/.test(key)) continue; // unknown element kinds are dropped, as upstream does
    const child = new FieldSet();
    const grand = value as Record<string, unknown>;
    if (grand && typeof grand === 'object' && Object.keys(grand).length === 0) {
      child.member = true;
    } else {
      read(child, value);
    }
    node.children.set(key, child);
  }
}
