// Schema-aware walks over objects for server-side apply, following structured-merge-diff:
// which parts are atomic, which lists are sets or keyed maps, which paths a value sets, how two
// values differ, and how an applied configuration merges into a live object.
import type { JSONSchemaProps } from '../../kinds/types.ts';
import { deepEqual, isObject } from '../schema/walk.ts';
import { FieldSet, fieldPE, indexPE, keyPE, valuePE, type FieldPath, type PathElement } from './fieldset.ts';

type Kind =
  | { kind: 'scalar' }
  | { kind: 'atomic' }
  | { kind: 'map'; struct: boolean; schema?: JSONSchemaProps }
  | { kind: 'list'; listType: 'set' | 'map'; keys: string[]; item?: JSONSchemaProps };

/** How a schema node (or, without one, a value) behaves under apply. */
export function kindOf(schema: JSONSchemaProps | undefined, value: unknown): Kind {
  if (schema?.['x-kubernetes-int-or-string']) return { kind: 'scalar' };
  const type = schema?.type ?? (Array.isArray(value) ? 'array' : isObject(value) ? 'object' : undefined);
  if (type === 'array') {
    const lt = schema?.['x-kubernetes-list-type'];
    if (lt === 'set' || lt === 'map') {
      return { kind: 'list', listType: lt, keys: schema?.['x-kubernetes-list-map-keys'] ?? [], ...(schema?.items ? { item: schema.items } : {}) };
    }
    return { kind: 'atomic' };
  }
  if (type === 'object') {
    if (schema?.['x-kubernetes-map-type'] === 'atomic') return { kind: 'atomic' };
    return { kind: 'map', struct: !!schema?.properties, ...(schema ? { schema } : {}) };
  }
  return { kind: 'scalar' };
}

function childSchema(map: { schema?: JSONSchemaProps }, key: string): { schema: JSONSchemaProps | undefined; named: boolean } {
  const s = map.schema;
  const named = s?.properties?.[key];
  if (named) return { schema: named, named: true };
  const ap = s?.additionalProperties;
  if (ap && typeof ap === 'object') return { schema: ap, named: false };
  return { schema: undefined, named: false };
}

/** The path element of a list item: its key fields (map lists), its value (sets) or its index. */
export function itemPE(list: { listType: 'set' | 'map'; keys: string[] }, item: unknown, index: number): PathElement {
  if (list.listType === 'set') return valuePE(item);
  if (isObject(item) && list.keys.length) {
    const k: Record<string, unknown> = {};
    for (const key of list.keys) if (item[key] !== undefined) k[key] = item[key];
    if (Object.keys(k).length) return keyPE(k);
  }
  return indexPE(index);
}

/** Every path a value sets (structured-merge-diff's ToFieldSet). */
export function toFieldSet(value: unknown, schema: JSONSchemaProps | undefined): FieldSet {
  const set = new FieldSet();
  visitSet(value, schema, [], set);
  return set;
}

function visitSet(value: unknown, schema: JSONSchemaProps | undefined, path: FieldPath, set: FieldSet): void {
  const k = kindOf(schema, value);
  if (k.kind === 'scalar' || k.kind === 'atomic') {
    set.insert(path);
    return;
  }
  if (k.kind === 'list') {
    if (!Array.isArray(value)) return;
    value.forEach((item, i) => {
      const p = [...path, itemPE(k, item, i)];
      visitSet(item, k.item, p, set);
      set.insert(p);
    });
    return;
  }
  if (!isObject(value)) {
    if (value !== undefined) set.insert(path);
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    const c = childSchema(k, key);
    const p = [...path, fieldPE(key)];
    visitSet(v, c.schema, p, set);
    if (!c.named) set.insert(p);
  }
}

export interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

/** What changed from `lhs` to `rhs`, path by path (structured-merge-diff's Compare). */
export function compare(lhs: unknown, rhs: unknown, schema: JSONSchemaProps | undefined): Comparison {
  const c: Comparison = { added: new FieldSet(), modified: new FieldSet(), removed: new FieldSet() };
  compareNode(lhs, rhs, schema, [], c);
  return c;
}

function isEmptyContainer(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}

function leafRule(lhs: unknown, rhs: unknown, path: FieldPath, c: Comparison): void {
  if (lhs === undefined) c.added.insert(path);
  else if (rhs === undefined) c.removed.insert(path);
  else if (!deepEqual(lhs, rhs)) c.modified.insert(path);
}

function compareNode(lhs: unknown, rhs: unknown, schema: JSONSchemaProps | undefined, path: FieldPath, c: Comparison): void {
  const k = kindOf(schema, rhs ?? lhs);
  if (k.kind === 'scalar' || k.kind === 'atomic') {
    leafRule(lhs, rhs, path, c);
    return;
  }
  if (isEmptyContainer(lhs) && isEmptyContainer(rhs)) {
    leafRule(lhs, rhs, path, c);
    return;
  }
  if (k.kind === 'list') {
    const l = Array.isArray(lhs) ? lhs : [];
    const r = Array.isArray(rhs) ? rhs : [];
    const lItems = new Map<PathElement, unknown>();
    l.forEach((item, i) => lItems.has(itemPE(k, item, i)) || lItems.set(itemPE(k, item, i), item));
    const rItems = new Map<PathElement, unknown>();
    r.forEach((item, i) => rItems.has(itemPE(k, item, i)) || rItems.set(itemPE(k, item, i), item));
    for (const [pe, item] of lItems) compareItem(item, rItems.get(pe), k.item, [...path, pe], c);
    for (const [pe, item] of rItems) if (!lItems.has(pe)) compareItem(undefined, item, k.item, [...path, pe], c);
  } else {
    const l = isObject(lhs) ? lhs : {};
    const r = isObject(rhs) ? rhs : {};
    const keys = new Set([...Object.keys(l), ...Object.keys(r)]);
    for (const key of keys) compareNode(l[key], r[key], childSchema(k, key).schema, [...path, fieldPE(key)], c);
  }
  // Non-leaf nodes that appear or disappear are themselves added or removed.
  if (lhs === undefined && rhs !== undefined) c.added.insert(path);
  else if (rhs === undefined && lhs !== undefined) c.removed.insert(path);
}

function compareItem(lhs: unknown, rhs: unknown, schema: JSONSchemaProps | undefined, path: FieldPath, c: Comparison): void {
  compareNode(lhs, rhs, schema, path, c);
}

/** Merges an applied configuration into a live value (structured-merge-diff's Merge). */
export function merge(lhs: unknown, rhs: unknown, schema: JSONSchemaProps | undefined): unknown {
  if (rhs === undefined) return lhs;
  if (lhs === undefined || lhs === null) return rhs;
  const k = kindOf(schema, rhs);
  if (k.kind === 'scalar' || k.kind === 'atomic') return rhs;
  if (k.kind === 'list') {
    if (!Array.isArray(lhs) || !Array.isArray(rhs)) return rhs;
    return mergeList(lhs, rhs, k);
  }
  if (!isObject(lhs) || !isObject(rhs)) return rhs;
  const out: Record<string, unknown> = { ...lhs };
  for (const [key, v] of Object.entries(rhs)) out[key] = merge(lhs[key], v, childSchema(k, key).schema);
  return out;
}

function mergeList(lhs: unknown[], rhs: unknown[], k: { listType: 'set' | 'map'; keys: string[]; item?: JSONSchemaProps }): unknown[] {
  const lOrder = lhs.map((item, i) => itemPE(k, item, i));
  const rOrder = rhs.map((item, i) => itemPE(k, item, i));
  const lMap = new Map<PathElement, unknown>();
  lhs.forEach((item, i) => lMap.has(lOrder[i]!) || lMap.set(lOrder[i]!, item));
  const rMap = new Map<PathElement, unknown>();
  rhs.forEach((item, i) => rMap.has(rOrder[i]!) || rMap.set(rOrder[i]!, item));
  const shared = rOrder.filter((pe) => lMap.has(pe));
  let nextShared = shared.shift();
  const out: unknown[] = [];
  const emitted = new Set<PathElement>();
  let li = 0;
  let ri = 0;
  const take = (pe: PathElement, value: unknown) => {
    if (emitted.has(pe)) return;
    emitted.add(pe);
    out.push(value);
  };
  while (li < lOrder.length || ri < rOrder.length) {
    if (li < lOrder.length && ri < rOrder.length) {
      const pe = lOrder[li]!;
      if (pe === rOrder[ri]) {
        take(pe, merge(lMap.get(pe), rMap.get(pe), k.item));
        li++;
        ri++;
        nextShared = shared.shift();
        continue;
      }
      if (rMap.has(pe) && nextShared !== undefined && nextShared !== pe) {
        li++;
        continue;
      }
    }
    if (li < lOrder.length) {
      const pe = lOrder[li]!;
      if (!rMap.has(pe)) {
        take(pe, lMap.get(pe));
        li++;
        continue;
      }
    }
    if (ri < rOrder.length) {
      const pe = rOrder[ri]!;
      take(pe, merge(lMap.get(pe), rMap.get(pe), k.item));
      ri++;
      if (nextShared !== undefined && nextShared === pe) nextShared = shared.shift();
    } else {
      li++;
    }
  }
  return out;
}

/** Removes the value at each path (leaf fields, map entries, list items) from a private copy. */
export function removePaths(obj: Record<string, unknown>, paths: FieldPath[], schema: JSONSchemaProps | undefined): void {
  for (const path of paths) removePath(obj, path, schema);
}

function removePath(root: unknown, path: FieldPath, schema: JSONSchemaProps | undefined): void {
  let node: unknown = root;
  let s = schema;
  for (let i = 0; i < path.length; i++) {
    const pe = path[i]!;
    const last = i === path.length - 1;
    const k = kindOf(s, node);
    if (pe.startsWith('f:')) {
      if (!isObject(node)) return;
      const key = pe.slice(2);
      if (last) {
        delete node[key];
        return;
      }
      s = k.kind === 'map' ? childSchema(k, key).schema : undefined;
      node = node[key];
    } else {
      if (!Array.isArray(node) || k.kind !== 'list') return;
      const idx = node.findIndex((item, j) => itemPE(k, item, j) === pe);
      if (idx < 0) return;
      if (last) {
        node.splice(idx, 1);
        return;
      }
      s = k.item;
      node = node[idx];
    }
  }
}

/** Value at a path, or undefined. */
export function valueAt(root: unknown, path: FieldPath, schema: JSONSchemaProps | undefined): unknown {
  let node: unknown = root;
  let s = schema;
  for (const pe of path) {
    const k = kindOf(s, node);
    if (pe.startsWith('f:')) {
      if (!isObject(node)) return undefined;
      const key = pe.slice(2);
      s = k.kind === 'map' ? childSchema(k, key).schema : undefined;
      node = node[key];
    } else {
      if (!Array.isArray(node) || k.kind !== 'list') return undefined;
      const idx = node.findIndex((item, j) => itemPE(k, item, j) === pe);
      if (idx < 0) return undefined;
      s = k.item;
      node = node[idx];
    }
  }
  return node;
}
