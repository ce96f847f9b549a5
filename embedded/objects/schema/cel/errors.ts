// Evaluation errors in cel-go's words, which is what kube-apiserver puts in its messages
// ("no such key: zz evaluating rule: ..."): @bufbuild/cel words some of them differently.
import type { CelError } from '@bufbuild/cel';

const REWRITES: [RegExp, string | ((m: RegExpExecArray) => string)][] = [
  [/^field not found: (.*)$/s, (m) => `no such key: ${m[1]}`],
  [/^index (-?\d+) out of bounds/, (m) => `index out of bounds: ${m[1]}`],
  [/^int overflow during /, 'integer overflow'],
  [/^uint overflow during /, 'unsigned integer overflow'],
  [/^(int|uint|double) divide by zero/, 'division by zero'],
  [/^(int|uint) modulus by zero/, 'modulus by zero'],
  [/^found no matching overload/, 'no such overload'],
  [/^unbound function/, 'no such overload'],
  [/^type mismatch: expected bool/, 'no such overload'],
];

export function runtimeMessage(err: CelError): string {
  const msg = err.message;
  for (const [re, out] of REWRITES) {
    const m = re.exec(msg);
    if (m) return typeof out === 'string' ? out : out(m);
  }
  return msg;
}
