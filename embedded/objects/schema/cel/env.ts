// The evaluation environment: @bufbuild/cel with the strings extension, Kubernetes' libraries
// and their types, and a matches() that compiles each RE2 pattern once.
import { celEnv, type CelEnv } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { RE2JS } from '@bufbuild/re2';
import { KUBERNETES_OVERLOADS } from './library/index.ts';
import { runtimeFuncs } from './library/overload.ts';
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

export const ENV: CelEnv = celEnv({
  registry: OPAQUE_REGISTRY,
  funcs: [...strings, ...runtimeFuncs(KUBERNETES_OVERLOADS)],
  re2: cachedRe2,
});
