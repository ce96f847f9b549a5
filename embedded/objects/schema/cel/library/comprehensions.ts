// cel-go's two-variable comprehensions: the macros are expanded by syntax.ts; here are
// `cel.@mapInsert`, which transformMap and transformMapEntry build their maps with, and
// @pairs, over which lower.ts iterates a two-variable comprehension (index or key, value).
import { celFunc, celList, celMap, CelScalar, isCelList, isCelMap, type CelMap } from '@bufbuild/cel';
import { map, param } from '../types.ts';
import { fn, type Overload } from './overload.ts';

const K = param('K');
const V = param('V');

/** Go's %v of a map key, which the duplicate-key error shows. */
function keyText(k: unknown): string {
  if (typeof k === 'object' && k !== null && 'value' in k) return String((k as { value: unknown }).value);
  return String(k);
}

function insert(m: CelMap, k: unknown, v: unknown): CelMap {
  if (m.has(k as never)) throw new Error(`insert failed: key ${keyText(k)} already exists`);
  const out = new Map<unknown, unknown>(m);
  out.set(k, v);
  return celMap(out as never);
}

function insertAll(m: CelMap, other: CelMap): CelMap {
  let out = m;
  for (const [k, v] of other) out = insert(out, k, v);
  return out;
}

export const COMPREHENSION_OVERLOADS: Overload[] = [
  fn('@mapInsert_map_key_value', 'cel.@mapInsert', [map(K, V), K, V], map(K, V), insert as never),
  fn('@mapInsert_map_map', 'cel.@mapInsert', [map(K, V), map(K, V)], map(K, V), insertAll as never),
];

/** [index, value] for each list item, [key, value] for each map entry. */
function pairs(range: unknown): unknown {
  if (isCelList(range)) {
    const out: unknown[] = [];
    let i = 0n;
    for (const v of range) out.push(celList([i++, v] as never));
    return celList(out as never);
  }
  if (isCelMap(range)) return celList([...range].map(([k, v]) => celList([k, v] as never)) as never);
  throw new Error(`type mismatch: iterable vs ${typeof range}`);
}

export const COMPREHENSION_RUNTIME = [celFunc('@pairs', [CelScalar.DYN], CelScalar.DYN, pairs as never)];
