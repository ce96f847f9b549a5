// The evaluation environment: @bufbuild/cel with the strings extension, Kubernetes' libraries
// and their types, kube-apiserver's list equality, the functions lowered rules call, and a
// matches() that compiles each RE2 pattern once; planned through the cost meter.
import { celEnv, type CelEnv } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { RE2JS } from '@bufbuild/re2';
import { EQUALITY_FUNCS } from './equality.ts';
import { COMPREHENSION_RUNTIME } from './library/comprehensions.ts';
import { KUBERNETES_OVERLOADS } from './library/index.ts';
import { OPTIONAL_RUNTIME } from './library/optional.ts';
import { runtimeFuncs } from './library/overload.ts';
import { meteredEnv, TICK_FUNC } from './meter.ts';
import { OPAQUE_REGISTRY } from './opaque.ts';

const patterns = new Map<string, RE2JS>();

const cachedRe2 = {
  compile(pattern: string) {
    let re = patterns.get(pattern);
    if (!re) {
      re = RE2JS.compile(pattern);
      if (patterns.size > 1000) patterns.clear();
      patterns.set(pattern, re);
    }
    return re;
  },
};

/** Every function a lowered rule can call, over the evaluator's standard library. */
export const ENV_FUNCS = [...strings, ...runtimeFuncs(KUBERNETES_OVERLOADS), ...EQUALITY_FUNCS, ...OPTIONAL_RUNTIME, ...COMPREHENSION_RUNTIME, TICK_FUNC];

export const ENV: CelEnv = celEnv({ registry: OPAQUE_REGISTRY, funcs: ENV_FUNCS, re2: cachedRe2 });

/** ENV with every call reported to the running evaluation's cost meter. */
export const METERED_ENV: CelEnv = meteredEnv(ENV);
