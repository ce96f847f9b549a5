// Kubernetes' quantity library: quantity("1.5Gi"), isQuantity, sign, compareTo, isGreaterThan,
// isLessThan, add, sub, asInteger, isInteger, asApproximateFloat. Quantities parse as
// apimachinery's resource.ParseQuantity does (same grammar, suffixes and errors, precision
// rounded up to the nano) and are held as exact fractions, so arithmetic never drifts.
import { QUANTITY_DESC, makeOpaque, payloadOf } from '../opaque.ts';
import { BOOL, DOUBLE, INT, QUANTITY_T, STRING } from '../types.ts';
import { fn, method, type Overload } from './overload.ts';

/** value = nanos / 1e9, exactly. */
interface Quantity {
  nanos: bigint;
}

const FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const SUFFIX = "unable to parse quantity's suffix";
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const NANO = 1_000_000_000n;

const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

function ceilDiv(n: bigint, d: bigint): bigint {
  // Rounds away from zero, as inf.RoundUp does.
  const q = n / d;
  return n % d === 0n ? q : n > 0n ? q + 1n : q - 1n;
}

export function parseQuantity(s: string): Quantity {
  if (!s) throw new Error(FORMAT_WRONG);
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)$/.exec(s);
  if (!m) throw new Error(FORMAT_WRONG);
  const [, sign, whole = '', frac = '', suffix = ''] = m;
  let base: 2 | 10;
  let exponent: number;
  if (suffix in DECIMAL) {
    base = 10;
    exponent = DECIMAL[suffix]!;
  } else if (suffix in BINARY) {
    base = 2;
    exponent = BINARY[suffix]!;
  } else if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E') && /^[-+]?[0-9]+$/.test(suffix.slice(1))) {
    base = 10;
    exponent = Number(suffix.slice(1));
  } else {
    throw new Error(SUFFIX);
  }
  // digits / 10^frac.length, then times the suffix.
  let num = BigInt((whole || '0') + frac);
  let den = 10n ** BigInt(frac.length);
  if (base === 2) num *= 1n << BigInt(exponent);
  else if (exponent >= 0) num *= 10n ** BigInt(exponent);
  else den *= 10n ** BigInt(-exponent);
  if (sign === '-') num = -num;
  return { nanos: ceilDiv(num * NANO, den) };
}

function quantity(q: Quantity) {
  return makeOpaque(QUANTITY_DESC, q.nanos.toString(), q);
}

function toQuantity(s: string) {
  return quantity(parseQuantity(s));
}

function isQuantity(s: string): boolean {
  try {
    parseQuantity(s);
    return true;
  } catch {
    return false;
  }
}

const q = (v: unknown) => payloadOf<Quantity>(v).nanos;
const cmp = (a: unknown, b: unknown) => {
  const x = q(a);
  const y = q(b);
  return x < y ? -1n : x > y ? 1n : 0n;
};

function asInteger(v: unknown): bigint {
  const n = q(v);
  if (n % NANO !== 0n || n / NANO > INT64_MAX || n / NANO < INT64_MIN) throw new Error('cannot convert value to integer');
  return n / NANO;
}

export const QUANTITY_OVERLOADS: Overload[] = [
  fn('string_to_quantity', 'quantity', [STRING], QUANTITY_T, toQuantity as never),
  fn('is_quantity_string', 'isQuantity', [STRING], BOOL, isQuantity as never),
  fn('quantity_sign', 'sign', [QUANTITY_T], INT, ((v: unknown) => { const n = q(v); return n > 0n ? 1n : n < 0n ? -1n : 0n; }) as never),
  method('quantity_is_greater_than', 'isGreaterThan', QUANTITY_T, [QUANTITY_T], BOOL, ((a: unknown, b: unknown) => cmp(a, b) === 1n) as never),
  method('quantity_is_less_than', 'isLessThan', QUANTITY_T, [QUANTITY_T], BOOL, ((a: unknown, b: unknown) => cmp(a, b) === -1n) as never),
  method('quantity_compare_to', 'compareTo', QUANTITY_T, [QUANTITY_T], INT, cmp as never),
  method('quantity_get_float', 'asApproximateFloat', QUANTITY_T, [], DOUBLE, ((v: unknown) => Number(q(v)) / 1e9) as never),
  method('quantity_get_int', 'asInteger', QUANTITY_T, [], INT, asInteger as never),
  method('quantity_is_integer', 'isInteger', QUANTITY_T, [], BOOL, ((v: unknown) => { try { asInteger(v); return true; } catch { return false; } }) as never),
  method('quantity_add', 'add', QUANTITY_T, [QUANTITY_T], QUANTITY_T, ((a: unknown, b: unknown) => quantity({ nanos: q(a) + q(b) })) as never),
  method('quantity_add_int', 'add', QUANTITY_T, [INT], QUANTITY_T, ((a: unknown, b: bigint) => quantity({ nanos: q(a) + b * NANO })) as never),
  method('quantity_sub', 'sub', QUANTITY_T, [QUANTITY_T], QUANTITY_T, ((a: unknown, b: unknown) => quantity({ nanos: q(a) - q(b) })) as never),
  method('quantity_sub_int', 'sub', QUANTITY_T, [INT], QUANTITY_T, ((a: unknown, b: bigint) => quantity({ nanos: q(a) - b * NANO })) as never),
];
