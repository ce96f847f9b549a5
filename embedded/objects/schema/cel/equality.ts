// CEL's own `==` (heterogeneous numbers, lists, maps, messages), borrowed from the evaluator so
// library functions such as indexOf compare exactly as the language does.
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import { OPAQUE_REGISTRY } from './opaque.ts';

const equalsProgram = plan(celEnv({ registry: OPAQUE_REGISTRY }), parse('a == b'));

export function celEquals(a: unknown, b: unknown): boolean {
  const r = equalsProgram({ a: a as never, b: b as never });
  return !isCelError(r) && r === true;
}
