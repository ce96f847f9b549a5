// Where @bufbuild/cel (0.6) answers differently from cel-go, which is what kube-apiserver runs,
// these overloads replace its own (the evaluator keeps the last function with a signature):
// - `s.split(sep, n)` keeps the rest of the string in the last part, as Go's strings.SplitN;
// - `string(double)` prints like Go's %g (1e+06, 1.5e-05, 123456), not like JavaScript.
import { DOUBLE, INT, STRING, list } from '../types.ts';
import { fn, method, type Overload } from './overload.ts';

function splitN(s: string, sep: string, n: bigint): string[] {
  if (n === 0n) return [];
  if (n < 0n) return sep === '' ? [...s] : s.split(sep);
  const out: string[] = [];
  let rest = s;
  if (sep === '') {
    const chars = [...s];
    const k = Number(n < BigInt(chars.length) ? n : BigInt(chars.length));
    return k === 0 ? [] : [...chars.slice(0, k - 1), chars.slice(k - 1).join('')];
  }
  while (BigInt(out.length) < n - 1n) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}

/** Go's %g: the shortest digits, in exponent form when the exponent is below -4 or 6 and above. */
export function goFloatString(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = x < 0 ? '-' : '';
  const eprec = 6;
  if (exp < -4 || exp >= eprec) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits}${'0'.repeat(exp + 1 - digits.length)}`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

export const FIXED_OVERLOADS: Overload[] = [
  method('string_split_string_int', 'split', STRING, [STRING, INT], list(STRING), splitN as never),
  fn('double_to_string', 'string', [DOUBLE], STRING, goFloatString as never),
];
