// CEL's own `==` (heterogeneous numbers, lists, maps, messages), borrowed from the evaluator so
// library functions such as indexOf compare exactly as the language does; optionals by their
// values; and what kube-apiserver adds: a list with x-kubernetes-list-type set or map on the left of `==`
// ignores order (map lists pair items by their keys), and on the left of `+` merges instead of
// appending (a set keeps each value once, a map list lets later items replace those with
// the same keys).
import { celEnv, celFunc, celList, celListConcat, CelScalar, isCelList, isCelMap, isCelUint, listType, type CelList, type CelValue } from '@bufbuild/cel';
import { OPAQUE_REGISTRY, opaqueKind, payloadOf, type OptionalPayload } from './opaque.ts';

const { DYN, BOOL } = CelScalar;
const LIST = listType(DYN);

const base = celEnv({ registry: OPAQUE_REGISTRY }).funcs.find('_==_')!;

export function celEquals(a: unknown, b: unknown): boolean {
  return equals(a, b);
}

type ListKind = { set: true } | { mapKeys: string[] };

const kinds = new WeakMap<object, ListKind>();

export function markList(l: CelList, kind: ListKind): void {
  kinds.set(l, kind);
}

/** What a set compares by: the value as JSON gave it (1 and 1.0 differ, as in Go). */
function scalarKey(v: unknown): string {
  if (typeof v === 'bigint') return `i${v}`;
  if (typeof v === 'number') return `d${v}`;
  if (typeof v === 'string') return `s${v}`;
  if (typeof v === 'boolean') return `b${v}`;
  if (isCelUint(v)) return `u${v.value}`;
  return `o${String(v)}`;
}

function mapListKey(item: unknown, keys: string[]): string | undefined {
  if (!isCelMap(item)) return undefined;
  return JSON.stringify(keys.map((k) => scalarKey(item.get(k))));
}

function listEquals(a: CelList, b: CelList, kind: ListKind): boolean {
  if (a.size !== b.size) return false;
  if ('set' in kind) {
    const set = new Set([...a].map(scalarKey));
    for (const v of b) if (!set.has(scalarKey(v))) return false;
    return true;
  }
  const byKey = new Map<string, unknown>();
  for (const item of a) {
    const k = mapListKey(item, kind.mapKeys);
    if (k !== undefined) byKey.set(k, item);
  }
  for (const item of b) {
    const k = mapListKey(item, kind.mapKeys);
    if (k === undefined || !byKey.has(k) || !equals(byKey.get(k), item)) return false;
  }
  return true;
}

function equals(a: unknown, b: unknown): boolean {
  // Two strings, ints, bools or doubles: no need to ask the evaluator.
  const t = typeof a;
  if (t === typeof b && (t === 'string' || t === 'bigint' || t === 'boolean' || t === 'number')) return a === b;
  const kind = isCelList(a) && isCelList(b) ? kinds.get(a) : undefined;
  if (kind) return listEquals(a as CelList, b as CelList, kind);
  // Optionals are equal when both are empty or their values are.
  if (opaqueKind(a) === 'optional_type' && opaqueKind(b) === 'optional_type') {
    const x = payloadOf<OptionalPayload>(a);
    const y = payloadOf<OptionalPayload>(b);
    return x.present === y.present && (!x.present || equals(x.value, y.value));
  }
  return base.call(0, undefined, [a as CelValue, b as CelValue]) === true;
}

function merge(a: CelList, b: CelList, kind: ListKind): CelList {
  let out: CelList;
  if ('set' in kind) {
    const seen = new Set([...a].map(scalarKey));
    const items = [...a];
    for (const v of b) {
      const k = scalarKey(v);
      if (!seen.has(k)) {
        seen.add(k);
        items.push(v);
      }
    }
    out = celList(items as never);
  } else {
    const items = [...a];
    const at = new Map<string, number>();
    items.forEach((item, i) => {
      const k = mapListKey(item, kind.mapKeys);
      if (k !== undefined) at.set(k, i);
    });
    for (const item of b) {
      const k = mapListKey(item, kind.mapKeys);
      const i = k === undefined ? undefined : at.get(k);
      if (i !== undefined) items[i] = item;
      else items.push(item);
    }
    out = celList(items as never);
  }
  kinds.set(out, kind);
  return out;
}

/** `==`, `!=` and list `+` with kube-apiserver's list types; replace the evaluator's own. */
export const EQUALITY_FUNCS = [
  celFunc('_==_', [DYN, DYN], BOOL, (a: unknown, b: unknown) => equals(a, b)),
  celFunc('_!=_', [DYN, DYN], BOOL, (a: unknown, b: unknown) => !equals(a, b)),
  celFunc('_+_', [LIST, LIST], LIST, (a: CelList, b: CelList) => {
    const kind = kinds.get(a);
    return (kind ? merge(a, b, kind) : celListConcat(a, b)) as never;
  }),
];
