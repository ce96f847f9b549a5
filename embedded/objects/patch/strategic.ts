// Strategic merge patch for built-in kinds: a JSON merge patch whose lists merge according to
// the schema's patch strategy (x-kubernetes-patch-strategy / -merge-key), plus the directives
// kubectl sends: $patch (replace/delete/merge), $retainKeys, $setElementOrder/<field> and
// $deleteFromPrimitiveList/<field>.
import { badRequest } from '../../api/errors.ts';
import type { JSONSchemaProps } from '../../kinds/types.ts';
import { deepEqual, isObject, propertySchema } from '../schema/walk.ts';

const PATCH = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/';

export function applyStrategicMergePatch(
  original: Record<string, unknown>,
  patch: unknown,
  schema: JSONSchemaProps | undefined,
): Record<string, unknown> {
  if (!isObject(patch)) throw badRequest('strategic merge patch must be a JSON object');
  const out = mergeMap(structuredClone(original), patch, schema);
  return out ?? {};
}

function strategyOf(schema: JSONSchemaProps | undefined): { merge: boolean; retainKeys: boolean; mergeKey?: string } {
  const s = (schema?.['x-kubernetes-patch-strategy'] ?? '').split(',');
  const mergeKey = schema?.['x-kubernetes-patch-merge-key'];
  return { merge: s.includes('merge'), retainKeys: s.includes('retainKeys'), ...(mergeKey ? { mergeKey } : {}) };
}

/** Returns the merged map, or undefined when the patch deletes it ($patch: delete). */
function mergeMap(
  original: Record<string, unknown>,
  patch: Record<string, unknown>,
  schema: JSONSchemaProps | undefined,
): Record<string, unknown> | undefined {
  const directive = patch[PATCH];
  if (directive !== undefined && directive !== 'replace' && directive !== 'delete' && directive !== 'merge') {
    throw badRequest(`Unknown patch type: ${String(directive)} in map: ${JSON.stringify(patch)}`);
  }
  if (directive === 'delete') return undefined;
  if (directive === 'replace') {
    const replaced: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(patch)) if (k !== PATCH) replaced[k] = stripDirectives(v);
    return replaced;
  }

  const out = original;
  const orders: [string, unknown[]][] = [];
  const setOrder = (field: string): unknown[] | undefined => {
    const o = patch[`${SET_ORDER}${field}`];
    return Array.isArray(o) ? o : undefined;
  };
  for (const [k, v] of Object.entries(patch)) {
    if (k === PATCH) continue;
    if (k === RETAIN_KEYS) continue;
    if (k.startsWith(SET_ORDER)) {
      if (Array.isArray(v)) orders.push([k.slice(SET_ORDER.length), v]);
      continue;
    }
    if (k.startsWith(DELETE_PRIMITIVE)) {
      const field = k.slice(DELETE_PRIMITIVE.length);
      const current = out[field];
      if (Array.isArray(current) && Array.isArray(v)) out[field] = current.filter((x) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    const childSchema = propertySchema(schema, k);
    if (v === null) {
      delete out[k];
      continue;
    }
    const current = out[k];
    if (isObject(v)) {
      const merged = mergeMap(isObject(current) ? current : {}, v, childSchema);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else if (Array.isArray(v)) {
      out[k] = mergeList(Array.isArray(current) ? current : [], v, childSchema, setOrder(k));
    } else {
      out[k] = v;
    }
  }
  for (const [field, order] of orders) {
    // A $setElementOrder for a list the patch does not otherwise touch still reorders it.
    const list = out[field];
    if (Array.isArray(list) && !(field in patch)) out[field] = applyOrder(list, order, strategyOf(propertySchema(schema, field)).mergeKey);
  }
  const retain = patch[RETAIN_KEYS];
  if (Array.isArray(retain)) {
    const keep = new Set(retain.map(String));
    for (const k of Object.keys(out)) if (!keep.has(k) && !(k in patch)) delete out[k];
  }
  return out;
}

function mergeList(original: unknown[], patch: unknown[], schema: JSONSchemaProps | undefined, order?: unknown[]): unknown[] {
  const { merge, mergeKey } = strategyOf(schema);
  if (patch.some((p) => isObject(p) && p[PATCH] === 'replace')) {
    return patch.filter((p) => !(isObject(p) && p[PATCH] === 'replace')).map(stripDirectives);
  }
  if (!merge) return patch.map(stripDirectives);
  const itemSchema = schema?.items;
  let merged: unknown[];
  if (!mergeKey) {
    // A set of primitives: union without duplicates.
    merged = [];
    for (const v of [...original, ...patch]) if (!merged.some((m) => deepEqual(m, v))) merged.push(v);
  } else {
    merged = original.map((o) => (isObject(o) ? { ...o } : o));
    for (const p of patch) {
      if (!isObject(p)) {
        throw badRequest(`strategic merge patch: element of a list merged by ${mergeKey} is not an object: ${JSON.stringify(p)}`);
      }
      const keyValue = p[mergeKey];
      if (keyValue === undefined) throw badRequest(`map: ${JSON.stringify(p)} does not contain declared merge key: ${mergeKey}`);
      const index = merged.findIndex((o) => isObject(o) && deepEqual(o[mergeKey], keyValue));
      if (p[PATCH] === 'delete') {
        if (index >= 0) merged.splice(index, 1);
        continue;
      }
      if (index >= 0) {
        const m = mergeMap(merged[index] as Record<string, unknown>, p, itemSchema);
        if (m === undefined) merged.splice(index, 1);
        else merged[index] = m;
      } else {
        merged.push(mergeMap({}, p, itemSchema) ?? {});
      }
    }
  }
  // Element order as apimachinery's normalizeElementOrder sets it: items the patch names follow
  // the patch (or its $setElementOrder), the others keep their live order, interleaved by it.
  const patchOrder = order ?? patch.filter((p) => !(isObject(p) && p[PATCH] === 'delete'));
  const same = (a: unknown, b: unknown) => (mergeKey && isObject(a) && isObject(b) ? deepEqual(a[mergeKey], b[mergeKey]) : deepEqual(a, b));
  const indexIn = (list: unknown[], v: unknown) => list.findIndex((x) => same(x, v));
  const inPatch = merged.filter((m) => indexIn(patchOrder, m) >= 0);
  const serverOnly = merged.filter((m) => indexIn(patchOrder, m) < 0);
  const byOrder = (list: unknown[], by: unknown[]) => {
    const found = list.filter((x) => indexIn(by, x) >= 0).sort((a, b) => indexIn(by, a) - indexIn(by, b));
    return [...found, ...list.filter((x) => indexIn(by, x) < 0)];
  };
  return mergeSorted(byOrder(serverOnly, original), byOrder(inPatch, patchOrder), original, indexIn);
}

/** apimachinery's mergeSortedSlice: insert server-only items among the patch's by live order. */
function mergeSorted(left: unknown[], right: unknown[], serverOrder: unknown[], indexIn: (l: unknown[], v: unknown) => number): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexIn(serverOrder, left[i]);
      const ri = indexIn(serverOrder, right[j]);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

function applyOrder(list: unknown[], order: unknown[], mergeKey: string | undefined): unknown[] {
  const keyOf = (v: unknown): unknown => (mergeKey && isObject(v) ? v[mergeKey] : v);
  const rank = (v: unknown): number => {
    const k = keyOf(v);
    return order.findIndex((o) => deepEqual(mergeKey && isObject(o) ? o[mergeKey] : o, k));
  };
  const ordered = list.filter((v) => rank(v) >= 0).sort((a, b) => rank(a) - rank(b));
  const rest = list.filter((v) => rank(v) < 0);
  return [...ordered, ...rest];
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === PATCH || k === RETAIN_KEYS || k.startsWith(SET_ORDER) || k.startsWith(DELETE_PRIMITIVE)) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}
