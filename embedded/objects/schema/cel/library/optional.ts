// CEL's optional values as functions: optional.of/none/ofNonZeroValue, hasValue, value, orValue
// and or. They are what `oldSelf` is in rules with optionalOldSelf, and what format validators
// return. The `?.` and `[?` syntax needs the parser, which @bufbuild/cel does not offer yet.
import { isCelList, isCelMap, isCelUint } from '@bufbuild/cel';
import { optionalNone, optionalOf, payloadOf, type OptionalPayload } from '../opaque.ts';
import { BOOL, DYN, optional, param } from '../types.ts';
import { fn, method, type Overload } from './overload.ts';

const A = param('A');

function isZero(v: unknown): boolean {
  if (v === null || v === false || v === 0 || v === 0n || v === '') return true;
  if (isCelUint(v)) return v.value === 0n;
  if (v instanceof Uint8Array) return v.length === 0;
  if (isCelList(v) || isCelMap(v)) return v.size === 0;
  return false;
}

function value(o: unknown): unknown {
  const p = payloadOf<OptionalPayload>(o);
  if (!p.present) throw new Error('optional.none() dereference');
  return p.value;
}

export const OPTIONAL_OVERLOADS: Overload[] = [
  fn('optional_of', 'optional.of', [A], optional(A), optionalOf as never),
  fn('optional_ofNonZeroValue', 'optional.ofNonZeroValue', [A], optional(A), ((v: unknown) => (isZero(v) ? optionalNone() : optionalOf(v))) as never),
  fn('optional_none', 'optional.none', [], optional(DYN), optionalNone as never),
  method('optional_hasValue', 'hasValue', optional(A), [], BOOL, ((o: unknown) => payloadOf<OptionalPayload>(o).present) as never),
  method('optional_value', 'value', optional(A), [], A, value as never),
  method('optional_orValue_value', 'orValue', optional(A), [A], A, ((o: unknown, d: unknown) => {
    const p = payloadOf<OptionalPayload>(o);
    return p.present ? p.value : d;
  }) as never),
  method('optional_or_optional', 'or', optional(A), [optional(A)], optional(A), ((o: unknown, other: unknown) =>
    payloadOf<OptionalPayload>(o).present ? o : other) as never),
];
