// Kubernetes' list library (isSorted, sum, min, max, indexOf, lastIndexOf) and cel-go's sets
// extension (sets.contains, sets.equivalent, sets.intersects), with kube-apiserver's overload
// ids and error texts ("min called on empty list").
import { celUint, isCelUint, type CelList, type CelUint } from '@bufbuild/cel';
import { create } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import { celEquals } from '../equality.ts';
import { BOOL, BYTES, DOUBLE, DURATION, INT, STRING, TIMESTAMP, UINT, list, param, type CelT } from '../types.ts';
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

export const LIST_OVERLOADS: Overload[] = [
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
