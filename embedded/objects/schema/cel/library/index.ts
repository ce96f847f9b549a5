// Every function a CRD validation rule can call in kube-apiserver 1.36's environment, by
// library. The evaluator brings the standard library and the strings extension; the rest is
// implemented here on top of it.
import { FIXED_OVERLOADS } from './fixes.ts';
import { FORMAT_OVERLOADS } from './format.ts';
import { IP_OVERLOADS } from './ip.ts';
import { LIST_OVERLOADS } from './lists.ts';
import { OPTIONAL_OVERLOADS } from './optional.ts';
import type { Overload } from './overload.ts';
import { QUANTITY_OVERLOADS } from './quantity.ts';
import { REGEX_OVERLOADS } from './regex.ts';
import { STD_OVERLOADS } from './std.ts';
import { URL_OVERLOADS } from './urls.ts';

/** The Kubernetes libraries (and optional types), each overload with its implementation. */
export const KUBERNETES_OVERLOADS: Overload[] = [
  ...LIST_OVERLOADS,
  ...REGEX_OVERLOADS,
  ...URL_OVERLOADS,
  ...QUANTITY_OVERLOADS,
  ...IP_OVERLOADS,
  ...FORMAT_OVERLOADS,
  ...OPTIONAL_OVERLOADS,
  ...FIXED_OVERLOADS,
];

/** What the type checker resolves calls against. */
export const ALL_OVERLOADS: Overload[] = [...STD_OVERLOADS, ...KUBERNETES_OVERLOADS];

export type { Overload };
