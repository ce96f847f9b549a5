// CEL's optional values: optional.of/none/ofNonZeroValue, hasValue, value, orValue, or, and
// (optional library version 2) first, last, optional.unwrap and unwrapOpt. They are what
// `oldSelf` is in rules with optionalOldSelf, what format validators return, and what the
// optional syntax yields: `a.?b`, `a[?k]` and selections on optionals are declared here for the
// type checker and evaluated by the @opt* functions lower.ts calls.
import { celFunc, celList, celMap, CelScalar, isCelList, isCelMap, isCelUint, listType, type CelList, type CelMap } from '@bufbuild/cel';
import { opaqueKind, optionalNone, optionalOf, payloadOf, type OptionalPayload } from '../opaque.ts';
import { BOOL, DYN, INT, STRING, list, map, optional, param } from '../types.ts';
import { fn, method, type Overload } from './overload.ts';

const A = param('A');
const K = param('K');
const V = param('V');

function isZero(v: unknown): boolean {
  if (v === null || v === false || v === 0 || v === 0n || v === '') return true;
  if (isCelUint(v)) return v.value === 0n;
  if (v instanceof Uint8Array) return v.length === 0;
  if (isCelList(v) || isCelMap(v)) return v.size === 0;
  return false;
}

function isOptionalValue(v: unknown): boolean {
  return opaqueKind(v) === 'optional_type';
}

function value(o: unknown): unknown {
  const p = payloadOf<OptionalPayload>(o);
  if (!p.present) throw new Error('optional.none() dereference');
  return p.value;
}

function unwrap(l: CelList): CelList {
  const out: unknown[] = [];
  for (const v of l) {
    if (!isOptionalValue(v)) throw new Error(`value ${String(v)} is not optional`);
    const p = payloadOf<OptionalPayload>(v);
    if (p.present) out.push(p.value);
  }
  return celList(out as never);
}

export const OPTIONAL_OVERLOADS: Overload[] = [
  fn('optional_of', 'optional.of', [A], optional(A), optionalOf as never),
  fn('optional_ofNonZeroValue', 'optional.ofNonZeroValue', [A], optional(A), ((v: unknown) => (isZero(v) ? optionalNone() : optionalOf(v))) as never),
  fn('optional_none', 'optional.none', [], optional(V), optionalNone as never),
  method('optional_hasValue', 'hasValue', optional(A), [], BOOL, ((o: unknown) => payloadOf<OptionalPayload>(o).present) as never),
  method('optional_value', 'value', optional(A), [], A, value as never),
  // Evaluated lazily (lower.ts): the argument only when the optional has no value.
  method('optional_orValue_value', 'orValue', optional(A), [A], A),
  method('optional_or_optional', 'or', optional(A), [optional(A)], optional(A)),
  method('list_first', 'first', list(A), [], optional(A), ((l: CelList) => (l.size ? optionalOf(l.get(0)) : optionalNone())) as never),
  method('list_last', 'last', list(A), [], optional(A), ((l: CelList) => (l.size ? optionalOf(l.get(l.size - 1)) : optionalNone())) as never),
  fn('optional_unwrap', 'optional.unwrap', [list(optional(A))], list(A), unwrap as never),
  method('optional_unwrapOpt', 'unwrapOpt', list(optional(A)), [], list(A), unwrap as never),
  // The optional syntax; lower.ts turns these into the @opt* calls below.
  fn('select_optional_field', '_?._', [DYN, STRING], optional(DYN)),
  fn('list_optindex_optional_int', '_[?_]', [list(V), INT], optional(V)),
  fn('optional_list_optindex_optional_int', '_[?_]', [optional(list(V)), INT], optional(V)),
  fn('map_optindex_optional_value', '_[?_]', [map(K, V), K], optional(V)),
  fn('optional_map_optindex_optional_value', '_[?_]', [optional(map(K, V)), K], optional(V)),
  fn('optional_list_index_int', '_[_]', [optional(list(V)), INT], optional(V)),
  fn('optional_map_index_value', '_[_]', [optional(map(K, V)), K], optional(V)),
];

/** The value inside an optional, or the value itself; undefined for optional.none(). */
function unwrapped(v: unknown): { value: unknown } | undefined {
  if (!isOptionalValue(v)) return { value: v };
  const p = payloadOf<OptionalPayload>(v);
  return p.present ? { value: p.value } : undefined;
}

/** `x.?f`, and `x.f` on an optional x: optional.none() when x or its field is absent. */
function optSelect(x: unknown, field: string): unknown {
  const u = unwrapped(x);
  if (!u) return optionalNone();
  if (!isCelMap(u.value)) throw new Error('no such overload');
  const got = (u.value as CelMap).get(field);
  return got === undefined ? optionalNone() : optionalOf(got);
}

/** `x[?k]`, and `x[k]` on an optional x. */
function optIndex(x: unknown, key: unknown): unknown {
  const u = unwrapped(x);
  if (!u) return optionalNone();
  const v = u.value;
  if (isCelList(v)) {
    let i: number | undefined;
    if (typeof key === 'bigint') i = Number(key);
    else if (isCelUint(key)) i = Number(key.value);
    else if (typeof key === 'number' && Number.isInteger(key)) i = key;
    if (i === undefined) throw new Error('no such overload');
    return i >= 0 && i < v.size ? optionalOf(v.get(i)) : optionalNone();
  }
  if (isCelMap(v)) {
    const got: unknown = v.get(key as never);
    return got === undefined ? optionalNone() : optionalOf(got);
  }
  throw new Error('no such overload');
}

function optHas(x: unknown, field: string): boolean {
  const u = unwrapped(x);
  return !!u && isCelMap(u.value) && (u.value as CelMap).has(field);
}

/** `[a, ?b]`: `mask` marks the optional entries with '1'; absent ones are left out. */
function optList(l: CelList, mask: string): CelList {
  const out: unknown[] = [];
  let i = 0;
  for (const v of l) {
    if (mask[i++] !== '1') out.push(v);
    else {
      if (!isOptionalValue(v)) throw new Error(`cannot initialize optional list element from non-optional value ${String(v)}`);
      const p = payloadOf<OptionalPayload>(v);
      if (p.present) out.push(p.value);
    }
  }
  return celList(out as never);
}

/** `{k: v, ?k2: v2}`; an absent optional entry also removes an earlier one with its key. */
function optMap(keys: CelList, values: CelList, mask: string): CelMap {
  const m = new Map<unknown, unknown>();
  for (let i = 0; i < keys.size; i++) {
    const k = keys.get(i);
    let v: unknown = values.get(i);
    if (mask[i] === '1') {
      if (!isOptionalValue(v)) throw new Error(`cannot initialize optional entry '${String(k)}' from non-optional value ${String(v)}`);
      const p = payloadOf<OptionalPayload>(v);
      if (!p.present) {
        m.delete(k);
        continue;
      }
      v = p.value;
    }
    m.set(k, v);
  }
  return celMap(m as never);
}

const { DYN: ANY, STRING: STR, BOOL: BOOLEAN } = CelScalar;
const LIST = listType(ANY);

/** What lower.ts's optional nodes call. */
export const OPTIONAL_RUNTIME = [
  celFunc('@optSelect', [ANY, STR], ANY, optSelect as never),
  celFunc('@optIndex', [ANY, ANY], ANY, optIndex as never),
  celFunc('@optHas', [ANY, STR], BOOLEAN, optHas as never),
  celFunc('@optHas', [ANY], BOOLEAN, ((o: unknown) => payloadOf<OptionalPayload>(o).present) as never),
  celFunc('@optValue', [ANY], ANY, value as never),
  celFunc('@optList', [LIST, STR], LIST, optList as never),
  celFunc('@optMap', [LIST, LIST, STR], ANY, optMap as never),
];
