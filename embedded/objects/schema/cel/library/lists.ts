// Kubernetes' list library (isSorted, sum, min, max, indexOf, lastIndexOf), cel-go's sets
// extension (sets.contains, sets.equivalent, sets.intersects) and its lists extension, version 3
// (slice, flatten, sort, sortBy, distinct, reverse, lists.range), with their overload ids and
// error texts ("min called on empty list", "cannot slice(2, 1), ...").
import { celList, celUint, isCelList, isCelUint, type CelList, type CelUint } from '@bufbuild/cel';
import { create } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import { celEquals } from '../equality.ts';
import { BOOL, BYTES, DOUBLE, DURATION, DYN, INT, STRING, TIMESTAMP, UINT, list, param, type CelT } from '../types.ts';
import { fn, method, type Overload } from './overload.ts';

const A = param('A');
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

type Seconds = { message: { seconds: bigint; nanos: number } };

/** -1, 0 or 1 for two values of one comparable type, the way their CEL `<` orders them. */
export function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (isCelUint(a) && isCelUint(b)) return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  if (typeof a === 'string' && typeof b === 'string') {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return Math.sign(Buffer.compare(x, y));
  }
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Math.sign(Buffer.compare(a, b));
  const sa = (a as Seconds)?.message;
  const sb = (b as Seconds)?.message;
  if (sa && sb && typeof sa.seconds === 'bigint' && typeof sb.seconds === 'bigint') {
    if (sa.seconds !== sb.seconds) return sa.seconds < sb.seconds ? -1 : 1;
    return Math.sign(sa.nanos - sb.nanos);
  }
  throw new Error('no such overload');
}

function isSorted(l: CelList): boolean {
  let prev: unknown;
  let first = true;
  for (const v of l) {
    if (!first && compareValues(prev, v) > 0) return false;
    prev = v;
    first = false;
  }
  return true;
}

function extreme(name: string, prefer: number) {
  return (l: CelList): unknown => {
    let best: unknown;
    let first = true;
    for (const v of l) {
      if (first || compareValues(best, v) === prefer) best = v;
      first = false;
    }
    if (first) throw new Error(`${name} called on empty list`);
    return best;
  };
}

function sumInt(l: CelList): bigint {
  let acc = 0n;
  for (const v of l) {
    acc += v as bigint;
    if (acc > INT64_MAX || acc < INT64_MIN) throw new Error('integer overflow');
  }
  return acc;
}

function sumUint(l: CelList): CelUint {
  let acc = 0n;
  for (const v of l) {
    acc += (v as CelUint).value;
    if (acc > UINT64_MAX) throw new Error('unsigned integer overflow');
  }
  return celUint(acc);
}

function sumDouble(l: CelList): number {
  let acc = 0;
  for (const v of l) acc += v as number;
  return acc;
}

function sumDuration(l: CelList) {
  let nanos = 0n;
  for (const v of l) {
    const m = (v as unknown as Seconds).message;
    nanos += m.seconds * 1_000_000_000n + BigInt(m.nanos);
  }
  return create(DurationSchema, { seconds: nanos / 1_000_000_000n, nanos: Number(nanos % 1_000_000_000n) });
}

function indexOf(l: CelList, item: unknown): bigint {
  for (let i = 0; i < l.size; i++) if (celEquals(l.get(i), item)) return BigInt(i);
  return -1n;
}

function lastIndexOf(l: CelList, item: unknown): bigint {
  for (let i = l.size - 1; i >= 0; i--) if (celEquals(l.get(i), item)) return BigInt(i);
  return -1n;
}

function contains(l: CelList, sub: CelList): boolean {
  for (const s of sub) if (indexOf(l, s) < 0n) return false;
  return true;
}

const COMPARABLE: [string, CelT][] = [
  ['int', INT],
  ['uint', UINT],
  ['double', DOUBLE],
  ['bool', BOOL],
  ['duration', DURATION],
  ['timestamp', TIMESTAMP],
  ['string', STRING],
  ['bytes', BYTES],
];
const SUMMABLE: [string, CelT][] = [
  ['int', INT],
  ['uint', UINT],
  ['double', DOUBLE],
  ['duration', DURATION],
];

/**
 * The evaluator keys methods by runtime types, where every list is just a list, so one
 * function serves the four sum overloads, choosing by the elements (an empty list sums to 0).
 */
function sum(l: CelList): unknown {
  const first = l.get(0);
  if (typeof first === 'number') return sumDouble(l);
  if (isCelUint(first)) return sumUint(l);
  if (first !== undefined && typeof first === 'object' && first !== null && 'message' in first) return sumDuration(l);
  return sumInt(l);
}

function slice(l: CelList, start: bigint, end: bigint): CelList {
  if (start < 0n || end < 0n) throw new Error(`cannot slice(${start}, ${end}), negative indexes not supported`);
  if (start > end) throw new Error(`cannot slice(${start}, ${end}), start index must be less than or equal to end index`);
  if (BigInt(l.size) < end) throw new Error(`cannot slice(${start}, ${end}), list is length ${l.size}`);
  return celList([...l].slice(Number(start), Number(end)) as never);
}

function flattenTo(l: CelList, depth: bigint, out: unknown[]): void {
  for (const v of l) {
    if (isCelList(v) && depth > 0n) flattenTo(v, depth - 1n, out);
    else out.push(v);
  }
}

function flatten(l: CelList, depth = 1n): CelList {
  if (depth < 0n) throw new Error('level must be non-negative');
  const out: unknown[] = [];
  flattenTo(l, depth, out);
  return celList(out as never);
}

/** The CEL type of a comparable runtime value, for the same-type rule of sorting. */
function kindOf(v: unknown): string {
  if (isCelUint(v)) return 'uint';
  if (v instanceof Uint8Array) return 'bytes';
  const m = (v as Seconds)?.message as { $typeName?: string } | undefined;
  return m?.$typeName ?? typeof v;
}

function sortByKeys(l: CelList, keys: CelList): CelList {
  if (l.size !== keys.size) {
    throw new Error(`@sortByAssociatedKeys() expected a list of the same size as the associated keys list, but got ${l.size} and ${keys.size} elements respectively`);
  }
  if (l.size === 0) return l;
  const ks = [...keys];
  const first = kindOf(ks[0]);
  try {
    compareValues(ks[0], ks[0]);
  } catch {
    throw new Error('list elements must be comparable');
  }
  if (ks.some((k) => kindOf(k) !== first)) throw new Error('list elements must have the same type');
  const items = [...l];
  const order = items.map((_, i) => i).sort((i, j) => compareValues(ks[i], ks[j]));
  return celList(order.map((i) => items[i]) as never);
}

function distinct(l: CelList): CelList {
  const out: unknown[] = [];
  for (const v of l) if (!out.some((o) => celEquals(o, v))) out.push(v);
  return celList(out as never);
}

const TYPE_NAMES: [string, CelT][] = [
  ['int', INT],
  ['uint', UINT],
  ['double', DOUBLE],
  ['bool', BOOL],
  ['google.protobuf.Duration', DURATION],
  ['google.protobuf.Timestamp', TIMESTAMP],
  ['string', STRING],
  ['bytes', BYTES],
];

const LISTS_EXTENSION: Overload[] = [
  method('list_slice', 'slice', list(A), [INT, INT], list(A), slice as never),
  method('list_flatten', 'flatten', list(list(A)), [], list(A), ((l: CelList) => flatten(l)) as never),
  method('list_flatten_int', 'flatten', list(DYN), [INT], list(DYN), flatten as never),
  ...TYPE_NAMES.map(([n, t]) => method(`list_${n}_sort`, 'sort', list(t), [], list(t), ((l: CelList) => sortByKeys(l, l)) as never)),
  ...TYPE_NAMES.map(([n, t]) => method(`list_${n}_sortByAssociatedKeys`, '@sortByAssociatedKeys', list(A), [list(t)], list(A), sortByKeys as never)),
  fn('lists_range', 'lists.range', [INT], list(INT), ((n: bigint) => celList(Array.from({ length: n > 0n ? Number(n) : 0 }, (_, i) => BigInt(i)) as never)) as never),
  method('list_reverse', 'reverse', list(A), [], list(A), ((l: CelList) => celList([...l].reverse() as never)) as never),
  method('list_distinct', 'distinct', list(A), [], list(A), distinct as never),
];

export const LIST_OVERLOADS: Overload[] = [
  ...LISTS_EXTENSION,
  ...COMPARABLE.map(([n, t]) => method(`list_${n}_is_sorted_bool`, 'isSorted', list(t), [], BOOL, isSorted as never)),
  ...SUMMABLE.map(([n, t]) => method(`list_${n}_sum_${n}`, 'sum', list(t), [], t, sum as never)),
  ...COMPARABLE.map(([n, t]) => method(`list_${n}_max_${n}`, 'max', list(t), [], t, extreme('max', -1) as never)),
  ...COMPARABLE.map(([n, t]) => method(`list_${n}_min_${n}`, 'min', list(t), [], t, extreme('min', 1) as never)),
  method('list_a_index_of_int', 'indexOf', list(A), [A], INT, indexOf as never),
  method('list_a_last_index_of_int', 'lastIndexOf', list(A), [A], INT, lastIndexOf as never),
  fn('list_sets_contains_list', 'sets.contains', [list(A), list(A)], BOOL, contains as never),
  fn('list_sets_equivalent_list', 'sets.equivalent', [list(A), list(A)], BOOL, ((a: CelList, b: CelList) => contains(a, b) && contains(b, a)) as never),
  fn('list_sets_intersects_list', 'sets.intersects', [list(A), list(A)], BOOL, ((a: CelList, b: CelList) => [...b].some((v) => indexOf(a, v) >= 0n)) as never),
];
