// What one call costs at run time, in cel-go's cost units, from the values it got and gave:
// the lists extension's trackers first, then kube-apiserver's library estimator, then cel-go's
// own rules (string traversals cost a tenth per character, regular expressions a quarter per
// pattern character, everything else 1). kube-apiserver stops a rule at 1,000,000 units and a
// whole object's rules at 10,000,000.
import { isCelList, isCelMap, type CelList } from '@bufbuild/cel';
import { NAMED_FORMAT_REGEX_SIZES } from './library/format.ts';
import { opaqueKind, payloadOf } from './opaque.ts';

const STRING_TRAVERSAL = 0.1;
const REGEX_LENGTH = 0.25;
const LIST_CREATE = 10;
const CALL = 1;

/** Code points in a string: what cel-go's String.Size() counts. */
export function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** cel-go's actualSize: the size of strings, bytes, lists and maps, 1 for anything else. */
export function actualSize(v: unknown): number {
  if (typeof v === 'string') return codePoints(v);
  if (v instanceof Uint8Array) return v.length;
  if (isCelList(v) || isCelMap(v)) return v.size;
  return 1;
}

/** cel-go's actualSize, which also looks into an optional with a value. */
function celGoActualSize(v: unknown): number {
  if (opaqueKind(v) === 'optional_type') {
    const p = payloadOf<{ present: boolean; value?: unknown }>(v);
    return p.present ? celGoActualSize(p.value) : 1;
  }
  return actualSize(v);
}

/** kube-apiserver's traversalCost: a tenth per byte of every string inside, 1 per other value. */
export function traversalCost(v: unknown): number {
  if (typeof v === 'string') return Math.floor(Buffer.byteLength(v) * STRING_TRAVERSAL);
  if (v instanceof Uint8Array) return Math.floor(v.length * STRING_TRAVERSAL);
  if (isCelList(v)) {
    let c = 0;
    for (const x of v) c += traversalCost(x);
    return c;
  }
  if (isCelMap(v)) {
    let c = 0;
    for (const [k, x] of v) c += traversalCost(k) + traversalCost(x);
    return c;
  }
  return 1;
}

const tenth = (n: number) => Math.ceil(n * STRING_TRAVERSAL);

/** The lists extension (version 3) tracks its allocating calls by output size. */
function allocatingList(factor: number, size: number): number {
  return Math.floor(size * factor) + CALL + LIST_CREATE;
}

function selfCompare(l: unknown): number {
  if (!isCelList(l)) return allocatingList(2, 0);
  const sz = l.size;
  if (sz === 0) return allocatingList(2, 0);
  const first = (l as CelList).get(0);
  const factor = typeof first === 'string' || first instanceof Uint8Array ? 2 + STRING_TRAVERSAL : 2;
  return allocatingList(factor, sz * sz);
}

function listsExtension(name: string, args: unknown[], result: unknown): number | undefined {
  if (name === 'sets.contains' || name === 'sets.intersects' || name === 'sets.equivalent') {
    return CALL + Math.floor(actualSize(args[0]) * actualSize(args[1]) * (name === 'sets.equivalent' ? 2 : 1));
  }
  if (!isCelList(args[0]) && name !== 'lists.range') return undefined;
  switch (name) {
    case 'slice':
    case 'reverse':
    case 'lists.range':
      return allocatingList(1, actualSize(result));
    case 'flatten':
      return allocatingList(args.length === 2 ? Number(args[1] as bigint) : 1, actualSize(args[0]));
    case 'distinct':
    case 'sort':
      return selfCompare(args[0]);
    case '@sortByAssociatedKeys':
      return selfCompare(args[1]);
  }
  return undefined;
}

const UNIT_COST = new Set([
  'masked', 'prefixLength', 'family', 'isUnspecified', 'isLoopback', 'isLinkLocalMulticast', 'isLinkLocalUnicast', 'isGlobalUnicast',
  'format.named', 'sign', 'asInteger', 'isInteger', 'asApproximateFloat', 'isGreaterThan', 'isLessThan', 'compareTo', 'add', 'sub',
  'major', 'minor', 'patch', 'getScheme', 'getHostname', 'getHost', 'getPort', 'getEscapedPath', 'getQuery',
]);

const LIBRARY_EQUALITY = new Set(['kubernetes.Quantity', 'net.IP', 'net.CIDR', 'kubernetes.NamedFormat', 'kubernetes.URL', 'kubernetes.Semver']);

/** kube-apiserver's CostEstimator.CallCost; undefined where it leaves the call to cel-go. */
function kubernetesCost(name: string, args: unknown[], result: unknown): number | undefined {
  if (UNIT_COST.has(name)) return 1;
  switch (name) {
    case 'isSorted':
    case 'sum':
    case 'max':
    case 'min':
    case 'indexOf':
    case 'lastIndexOf':
      return args.length ? traversalCost(args[0]) : 0;
    case 'url':
    case 'lowerAscii':
    case 'upperAscii':
    case 'substring':
    case 'trim':
    case 'cidr':
    case 'isIP':
    case 'isCIDR':
    case 'quantity':
    case 'isQuantity':
    case 'semver':
    case 'isSemver':
      return args.length ? tenth(actualSize(args[0])) : undefined;
    case 'replace':
    case 'split':
      return args.length ? Math.ceil(actualSize(args[0]) * 2 * STRING_TRAVERSAL) : undefined;
    case 'join':
      return args.length ? Math.ceil(actualSize(result) * 2 * STRING_TRAVERSAL) : undefined;
    case 'find':
    case 'findAll':
      if (args.length < 2) return undefined;
      return tenth(1 + actualSize(args[0])) * Math.ceil(actualSize(args[1]) * REGEX_LENGTH);
    case 'ip':
      if (!args.length) return undefined;
      return opaqueKind(args[0]) === 'net.CIDR' ? 1 : tenth(actualSize(args[0]));
    case 'ip.isCanonical':
      return args.length ? Math.ceil(actualSize(args[0]) * 2 * STRING_TRAVERSAL) : undefined;
    case 'containsIP':
    case 'containsCIDR': {
      if (args.length < 2) return undefined;
      const cidrSize = actualSize(args[0]);
      let cost = tenth(cidrSize + cidrSize);
      if (name === 'containsCIDR') cost += tenth(cidrSize) + 1;
      if (typeof args[1] === 'string') cost += tenth(actualSize(args[1]));
      return cost;
    }
    case 'validate': {
      const regexSize = args.length === 2 ? NAMED_FORMAT_REGEX_SIZES.get(formatName(args[0])) : undefined;
      if (regexSize === undefined) return undefined;
      return tenth(1 + actualSize(args[1])) * Math.ceil(regexSize * REGEX_LENGTH);
    }
    case '_==_':
      return args.length === 2 && LIBRARY_EQUALITY.has(opaqueKind(args[0]) ?? '') ? 1 : undefined;
  }
  return undefined;
}

function formatName(v: unknown): string {
  return opaqueKind(v) === 'kubernetes.NamedFormat' ? payloadOf<{ name: string }>(v).name : '';
}

/** cel-go's own runtime costs, keyed here by function name and argument kinds. */
function celGoCost(name: string, member: boolean, args: unknown[]): number {
  const size = (i: number) => celGoActualSize(args[i]);
  const strings = typeof args[0] === 'string' && typeof args[1] === 'string';
  const bytes = args[0] instanceof Uint8Array && args[1] instanceof Uint8Array;
  switch (name) {
    case 'startsWith':
    case 'endsWith':
    case 'strings.quote':
      return typeof args[0] === 'string' ? tenth(size(0)) : CALL;
    case 'format':
      return typeof args[0] === 'string' && args.length === 2 ? tenth(size(0)) : CALL;
    case 'bytes':
      return typeof args[0] === 'string' ? tenth(size(0)) : CALL;
    case 'string':
      return args[0] instanceof Uint8Array ? tenth(size(0)) : CALL;
    case '@in':
      return isCelList(args[1]) ? size(1) : CALL;
    case '_<_':
    case '_<=_':
    case '_>_':
    case '_>=_':
      return strings || bytes ? tenth(Math.min(size(0), size(1))) : CALL;
    case '_==_':
    case '_!=_':
      return tenth(Math.min(size(0), size(1)));
    case '_+_':
      return strings || bytes ? tenth(size(0) + size(1)) : CALL;
    case 'matches':
      // Only the method form has cel-go's regular-expression cost; matches(s, re) costs 1.
      return member && typeof args[0] === 'string' && typeof args[1] === 'string' ? tenth(1 + size(0)) * Math.ceil(size(1) * REGEX_LENGTH) : CALL;
    case 'contains':
      return strings ? tenth(size(0)) * tenth(size(1)) : CALL;
  }
  return CALL;
}

/** One call's runtime cost. `args` has the receiver first for method calls. */
export function callCost(name: string, member: boolean, args: unknown[], result: unknown): number {
  return listsExtension(name, args, result) ?? kubernetesCost(name, args, result) ?? celGoCost(name, member, args);
}

export type CostFunction = (args: unknown[], result: unknown) => number;

const LISTS_EXTENSION = new Set(['sets.contains', 'sets.intersects', 'sets.equivalent', 'slice', 'reverse', 'lists.range', 'flatten', 'distinct', 'sort', '@sortByAssociatedKeys']);
const KUBERNETES_SIZED = new Set([
  'isSorted', 'sum', 'max', 'min', 'indexOf', 'lastIndexOf', 'url', 'lowerAscii', 'upperAscii', 'substring', 'trim', 'cidr', 'isIP', 'isCIDR', 'quantity',
  'isQuantity', 'semver', 'isSemver', 'replace', 'split', 'join', 'find', 'findAll', 'ip', 'ip.isCanonical', 'containsIP', 'containsCIDR', 'validate', '_==_',
]);
const CELGO_SIZED = new Set(['startsWith', 'endsWith', 'strings.quote', 'format', 'bytes', 'string', '@in', '_<_', '_<=_', '_>_', '_>=_', '_==_', '_!=_', '_+_', 'matches', 'contains']);
const unit: CostFunction = () => CALL;
const costFunctions = new Map<string, CostFunction>();

/** callCost for one function, with the rules that cannot apply to it left out once. */
export function costFunction(name: string, member: boolean): CostFunction {
  const key = `${member ? '.' : ''}${name}`;
  let f = costFunctions.get(key);
  if (!f) {
    if (UNIT_COST.has(name)) f = unit;
    else if (LISTS_EXTENSION.has(name) || KUBERNETES_SIZED.has(name) || CELGO_SIZED.has(name)) f = (args, result) => callCost(name, member, args, result);
    else f = unit;
    costFunctions.set(key, f);
  }
  return f;
}
