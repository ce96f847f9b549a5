// The static CEL types the checker and the cost estimator reason about, printed the way cel-go
// prints them in compile errors (`list(int)`, `map(string, dyn)`, `google.protobuf.Timestamp`).
// Runtime values are the evaluator's (@bufbuild/cel); these only describe them.

export type CelT =
  | { k: 'int' | 'uint' | 'double' | 'bool' | 'string' | 'bytes' | 'null_type' | 'dyn' | 'timestamp' | 'duration' | 'error' }
  | { k: 'list'; elem: CelT }
  | { k: 'map'; key: CelT; val: CelT }
  /** A schema object: its properties, by their escaped CEL names. */
  | { k: 'object'; name: string; fields: Map<string, CelT> }
  /** Library types (kubernetes.URL, net.IP, ...) and optional_type(T). */
  | { k: 'opaque'; name: string; params: CelT[] }
  | { k: 'type'; of: CelT }
  | { k: 'param'; name: string };

export type ScalarKind = 'int' | 'uint' | 'double' | 'bool' | 'string' | 'bytes' | 'null_type' | 'dyn' | 'timestamp' | 'duration' | 'error';

const scalars = new Map<ScalarKind, CelT>();
export function scalar(k: ScalarKind): CelT {
  let t = scalars.get(k);
  if (!t) scalars.set(k, (t = { k }));
  return t;
}

export const INT = scalar('int');
export const UINT = scalar('uint');
export const DOUBLE = scalar('double');
export const BOOL = scalar('bool');
export const STRING = scalar('string');
export const BYTES = scalar('bytes');
export const NULL = scalar('null_type');
export const DYN = scalar('dyn');
export const TIMESTAMP = scalar('timestamp');
export const DURATION = scalar('duration');
export const ERROR = scalar('error');

export const list = (elem: CelT): CelT => ({ k: 'list', elem });
export const map = (key: CelT, val: CelT): CelT => ({ k: 'map', key, val });
export const opaque = (name: string, ...params: CelT[]): CelT => ({ k: 'opaque', name, params });
export const optional = (of: CelT): CelT => opaque('optional_type', of);
export const typeOf = (of: CelT): CelT => ({ k: 'type', of });
export const param = (name: string): CelT => ({ k: 'param', name });

export const URL_T = opaque('kubernetes.URL');
export const QUANTITY_T = opaque('kubernetes.Quantity');
export const IP_T = opaque('net.IP');
export const CIDR_T = opaque('net.CIDR');
export const FORMAT_T = opaque('kubernetes.NamedFormat');

export function isOptional(t: CelT): t is { k: 'opaque'; name: string; params: CelT[] } {
  return t.k === 'opaque' && t.name === 'optional_type';
}

export function format(t: CelT): string {
  switch (t.k) {
    case 'list':
      return `list(${format(t.elem)})`;
    case 'map':
      return `map(${format(t.key)}, ${format(t.val)})`;
    case 'object':
      return t.name;
    case 'opaque':
      return t.params.length ? `${t.name}(${t.params.map(format).join(', ')})` : t.name;
    case 'type':
      return `type(${format(t.of)})`;
    case 'param':
      return t.name;
    case 'timestamp':
      return 'google.protobuf.Timestamp';
    case 'duration':
      return 'google.protobuf.Duration';
    default:
      return t.k;
  }
}

export function sameType(a: CelT, b: CelT): boolean {
  if (a === b) return true;
  if (a.k !== b.k) return false;
  switch (a.k) {
    case 'list':
      return sameType(a.elem, (b as typeof a).elem);
    case 'map':
      return sameType(a.key, (b as typeof a).key) && sameType(a.val, (b as typeof a).val);
    case 'object':
      return a === b || a.name === (b as typeof a).name;
    case 'opaque': {
      const o = b as typeof a;
      return a.name === o.name && a.params.length === o.params.length && a.params.every((p, i) => sameType(p, o.params[i]!));
    }
    case 'type':
      return sameType(a.of, (b as typeof a).of);
    case 'param':
      return a.name === (b as typeof a).name;
    default:
      return true;
  }
}

/** Kinds whose values are a single number-like word (cel-go's isScalar for sizes). */
export function isSizeOne(t: CelT): boolean {
  switch (t.k) {
    case 'bool':
    case 'double':
    case 'duration':
    case 'int':
    case 'timestamp':
    case 'uint':
      return true;
    case 'opaque':
      return t.name === 'optional_type' && isSizeOne(t.params[0]!);
    default:
      return false;
  }
}
