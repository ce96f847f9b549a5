// One declaration per overload, used twice: its signature by the type checker and the cost
// estimator (which look overloads up by cel-go's overload ids), and, for the Kubernetes library
// functions that @bufbuild/cel lacks, its implementation by the evaluator.
import { CelScalar, celFunc, celMethod, listType, mapType, type CelFunc, type CelType } from '@bufbuild/cel';
import { DurationSchema, TimestampSchema } from '@bufbuild/protobuf/wkt';
import { objectType } from '@bufbuild/cel';
import { CIDR_TYPE, FORMAT_TYPE, IP_TYPE, OPTIONAL_TYPE, QUANTITY_TYPE, URL_TYPE } from '../opaque.ts';
import type { CelT } from '../types.ts';

export interface Overload {
  /** cel-go's overload id (the cost estimator keys on some of them). */
  id: string;
  /** Function name; qualified names (`format.dns1123Label`, `optional.of`) are global functions. */
  name: string;
  /** A method `target.name(args)`: args[0] is the target. */
  member: boolean;
  args: CelT[];
  result: CelT;
  /** How to evaluate it; absent for the standard library, which the evaluator brings. */
  impl?: (...args: never[]) => unknown;
}

export function fn(id: string, name: string, args: CelT[], result: CelT, impl?: Overload['impl']): Overload {
  return { id, name, member: false, args, result, impl };
}

export function method(id: string, name: string, target: CelT, args: CelT[], result: CelT, impl?: Overload['impl']): Overload {
  return { id, name, member: true, args: [target, ...args], result, impl };
}

const TIMESTAMP_TYPE = objectType(TimestampSchema);
const DURATION_TYPE = objectType(DurationSchema);

/** The evaluator's runtime type for a declared one (type parameters accept anything). */
export function runtimeType(t: CelT): CelType {
  switch (t.k) {
    case 'int':
      return CelScalar.INT;
    case 'uint':
      return CelScalar.UINT;
    case 'double':
      return CelScalar.DOUBLE;
    case 'bool':
      return CelScalar.BOOL;
    case 'string':
      return CelScalar.STRING;
    case 'bytes':
      return CelScalar.BYTES;
    case 'null_type':
      return CelScalar.NULL;
    case 'timestamp':
      return TIMESTAMP_TYPE;
    case 'duration':
      return DURATION_TYPE;
    case 'list':
      return listType(CelScalar.DYN);
    case 'map':
      return mapType(CelScalar.DYN, CelScalar.DYN);
    case 'opaque':
      switch (t.name) {
        case 'kubernetes.URL':
          return URL_TYPE;
        case 'kubernetes.Quantity':
          return QUANTITY_TYPE;
        case 'kubernetes.NamedFormat':
          return FORMAT_TYPE;
        case 'net.IP':
          return IP_TYPE;
        case 'net.CIDR':
          return CIDR_TYPE;
        case 'optional_type':
          return OPTIONAL_TYPE;
      }
      return CelScalar.DYN;
    default:
      return CelScalar.DYN;
  }
}

/** The evaluator's functions for the overloads that carry an implementation. */
export function runtimeFuncs(overloads: Overload[]): CelFunc[] {
  const out: CelFunc[] = [];
  for (const o of overloads) {
    if (!o.impl) continue;
    const impl = o.impl as (...args: unknown[]) => never;
    if (o.member) {
      const [target, ...args] = o.args;
      out.push(
        celMethod(o.name, runtimeType(target!), args.map(runtimeType), runtimeType(o.result), function (this: unknown, ...a: unknown[]) {
          return impl(this, ...a);
        } as never),
      );
    } else {
      out.push(celFunc(o.name, o.args.map(runtimeType), runtimeType(o.result), impl as never));
    }
  }
  return out;
}
