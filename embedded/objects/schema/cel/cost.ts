// The worst-case cost kube-apiserver estimates for a rule when a CRD is written, in CEL's cost
// units: cel-go's static estimator (every node, comprehensions multiplied by the largest list or
// map the schema allows, strings by their longest) plus apiserver's estimates for the
// Kubernetes library functions. A rule over 10,000,000 units, or a CRD whose rules together
// pass 100,000,000, is refused, so an unbounded list of unbounded strings needs maxItems and
// maxLength before a nested loop over it is accepted.
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import type { Checked } from './check.ts';
import type { Decl } from './decl.ts';
import { DYN, isSizeOne, type CelT } from './types.ts';

export const MAX_U64 = (1n << 64n) - 1n;

export interface Range {
  min: bigint;
  max: bigint;
}

const STRING_TRAVERSAL = 0.1;
const REGEX_LENGTH = 0.25;
const LIST_CREATE = 10n;
const MAP_CREATE = 30n;
const STRUCT_CREATE = 40n;
const MAX_FORMAT_SIZE = 64n;
const MAX_NAME_FORMAT_REGEX = 128n;

const sat = (v: bigint) => (v > MAX_U64 ? MAX_U64 : v);
const add = (a: Range, b: Range): Range => ({ min: sat(a.min + b.min), max: sat(a.max + b.max) });
const mul = (a: Range, b: Range): Range => ({ min: sat(a.min * b.min), max: sat(a.max * b.max) });
const union = (a: Range, b: Range): Range => ({ min: a.min < b.min ? a.min : b.min, max: a.max > b.max ? a.max : b.max });
const fixed = (n: bigint): Range => ({ min: n, max: n });
const UNKNOWN: Range = { min: 0n, max: MAX_U64 };

function factor(x: bigint, f: number): bigint {
  if (x === 0n) return 0n;
  const v = Number(x) * f;
  if (v >= 2 ** 64) return MAX_U64;
  return BigInt(Math.ceil(v));
}
const byFactor = (r: Range, f: number): Range => ({ min: factor(r.min, f), max: factor(r.max, f) });

export function multiplySaturating(a: bigint, b: bigint): bigint {
  return sat(a * b);
}

interface EntrySize {
  container: 'list' | 'map' | undefined;
  key: Range;
  val: Range;
}

interface LocalVar {
  path: string[] | undefined;
  size?: Range;
  entry?: EntrySize;
}

class Coster {
  private paths = new Map<bigint, string[]>();
  private sizes = new Map<bigint, Range>();
  private entries = new Map<bigint, EntrySize>();
  private locals = new Map<string, LocalVar[]>();

  private readonly checked: Checked;
  private readonly self: Decl;

  constructor(checked: Checked, self: Decl) {
    this.checked = checked;
    this.self = self;
  }

  private type(e: Expr): CelT {
    return this.checked.types.get(e.id) ?? DYN;
  }

  private peek(name: string): LocalVar | undefined {
    const s = this.locals.get(name);
    return s?.[s.length - 1];
  }

  private push(name: string, v: LocalVar): void {
    const s = this.locals.get(name) ?? [];
    s.push(v);
    this.locals.set(name, s);
  }

  private pop(name: string): void {
    this.locals.get(name)?.pop();
  }

  private path(e: Expr): string[] | undefined {
    if (e.exprKind.case === 'identExpr') {
      const v = this.peek(e.exprKind.value.name);
      if (v) return v.path;
    }
    return this.paths.get(e.id);
  }

  /** apiserver's size estimator: walk the schema from `self` along the path. */
  private estimateSize(path: string[] | undefined): Range | undefined {
    if (!path?.length) return undefined;
    if (path[0] === '@result' || path[0] === '@__result__') return undefined;
    let d: Decl | undefined = this.self;
    for (const step of path.slice(1)) {
      if (!d) return undefined;
      if (step === '@items' || step === '@values') d = d.elem;
      else if (step === '@keys') d = d.key;
      else d = d.fields?.get(step);
    }
    if (!d) return undefined;
    return { min: 0n, max: BigInt(d.maxElements) };
  }

  private literalSize(e: Expr): Range | undefined {
    const k = e.exprKind;
    if (k.case === 'constExpr') {
      const c = k.value.constantKind;
      if (c.case === 'stringValue') return fixed(BigInt([...c.value].length));
      if (c.case === 'bytesValue') return fixed(BigInt(c.value.length));
      return fixed(1n);
    }
    if (k.case === 'listExpr') return fixed(BigInt(k.value.elements.length));
    if (k.case === 'structExpr' && !k.value.messageName) return fixed(BigInt(k.value.entries.length));
    return undefined;
  }

  size(e: Expr): Range | undefined {
    const known = this.sizes.get(e.id);
    if (known) return known;
    const lit = this.literalSize(e);
    if (lit) return lit;
    const est = this.estimateSize(this.path(e));
    if (est) {
      this.sizes.set(e.id, est);
      return est;
    }
    if (isSizeOne(this.type(e))) return fixed(1n);
    if (e.exprKind.case === 'identExpr') return this.peek(e.exprKind.value.name)?.size;
    return undefined;
  }

  private sizeOr(e: Expr): Range {
    return this.size(e) ?? UNKNOWN;
  }

  private entry(e: Expr): EntrySize | undefined {
    const known = this.entries.get(e.id);
    if (known) return known;
    if (e.exprKind.case === 'identExpr') return this.peek(e.exprKind.value.name)?.entry;
    return undefined;
  }

  cost(e: Expr): Range {
    const k = e.exprKind;
    switch (k.case) {
      case 'constExpr':
        return fixed(0n);
      case 'identExpr': {
        const v = this.peek(k.value.name);
        this.paths.set(e.id, v?.path ?? [k.value.name]);
        return fixed(1n);
      }
      case 'selectExpr': {
        const operand = k.value.operand!;
        if (k.value.testOnly) return this.cost(operand);
        let sum = this.cost(operand);
        const t = this.type(operand).k;
        if (t === 'map' || t === 'object' || t === 'param') sum = add(sum, fixed(1n));
        const p = this.path(operand);
        this.paths.set(e.id, [...(p ?? []), k.value.field]);
        return sum;
      }
      case 'callExpr':
        return this.call(e);
      case 'listExpr': {
        let sum = fixed(0n);
        let item: Range = { min: k.value.elements.length ? MAX_U64 : 0n, max: 0n };
        for (const el of k.value.elements) {
          sum = add(sum, this.cost(el));
          item = union(item, this.sizeOr(el));
        }
        this.entries.set(e.id, { container: 'list', key: fixed(1n), val: item });
        return add(sum, fixed(LIST_CREATE));
      }
      case 'structExpr': {
        let sum = fixed(0n);
        if (k.value.messageName) {
          for (const f of k.value.entries) sum = add(sum, this.cost(f.value!));
          return add(sum, fixed(STRUCT_CREATE));
        }
        const empty = k.value.entries.length === 0;
        let key: Range = { min: empty ? 0n : MAX_U64, max: 0n };
        let val: Range = { min: empty ? 0n : MAX_U64, max: 0n };
        for (const entry of k.value.entries) {
          if (entry.keyKind.case !== 'mapKey') continue;
          sum = add(sum, this.cost(entry.keyKind.value));
          sum = add(sum, this.cost(entry.value!));
          key = union(key, this.sizeOr(entry.keyKind.value));
          val = union(val, this.sizeOr(entry.value!));
        }
        this.entries.set(e.id, { container: 'map', key, val });
        return add(sum, fixed(MAP_CREATE));
      }
      case 'comprehensionExpr':
        return this.comprehension(e);
      default:
        return fixed(0n);
    }
  }

  private comprehension(e: Expr): Range {
    const c = (e.exprKind as Extract<Expr['exprKind'], { case: 'comprehensionExpr' }>).value;
    const range = c.iterRange!;
    let sum = add(this.cost(range), this.cost(c.accuInit!));
    this.push(c.accuVar, { path: this.path(c.accuInit!), size: this.size(c.accuInit!), entry: this.entry(c.accuInit!) });
    const rangeEntry = this.entry(range);
    const container = rangeEntry?.container ?? (this.type(range).k === 'list' ? 'list' : this.type(range).k === 'map' ? 'map' : undefined);
    const rangePath = this.path(range) ?? [];
    if (c.iterVar2) {
      this.push(c.iterVar, { path: [...rangePath, container === 'list' ? '@indices' : '@keys'], size: rangeEntry?.key });
      this.push(c.iterVar2, { path: [...rangePath, container === 'list' ? '@items' : '@values'], size: rangeEntry?.val });
    } else {
      const isList = container === 'list';
      this.push(c.iterVar, { path: [...rangePath, isList ? '@items' : '@keys'], size: isList ? rangeEntry?.val : rangeEntry?.key });
    }
    const loop = this.cost(c.loopCondition!);
    const step = this.cost(c.loopStep!);
    this.pop(c.iterVar);
    if (c.iterVar2) this.pop(c.iterVar2);
    sum = add(sum, this.cost(c.result!));
    this.pop(c.accuVar);
    const count = this.sizeOr(range);
    sum = add(sum, mul(count, add(step, loop)));
    const init = c.accuInit!.exprKind.case;
    if (init === 'constExpr') {
      const s = this.size(c.accuInit!);
      if (s) this.sizes.set(e.id, s);
    } else if (init === 'listExpr' || init === 'structExpr') {
      this.sizes.set(e.id, count);
      const stepEntry = this.entry(c.loopStep!);
      if (stepEntry) this.entries.set(e.id, stepEntry);
    }
    return sum;
  }

  private call(e: Expr): Range {
    const call = (e.exprKind as Extract<Expr['exprKind'], { case: 'callExpr' }>).value;
    const fnName = this.checked.functionNames.get(e.id) ?? call.function;
    const qualifiedGlobal = fnName !== call.function;
    if (fnName === 'dyn' && call.args.length === 1) {
      const arg = call.args[0]!;
      const c = this.cost(arg);
      const s = this.size(arg);
      if (s) this.sizes.set(e.id, s);
      const en = this.entry(arg);
      if (en) this.entries.set(e.id, en);
      return add(fixed(1n), c);
    }
    const argCosts = call.args.map((a) => this.cost(a));
    const overloads = this.checked.overloads.get(e.id) ?? [];
    if (!overloads.length) return fixed(0n);
    let sum = fixed(0n);
    const target = call.target && !qualifiedGlobal ? call.target : undefined;
    if (target) sum = add(sum, this.cost(target));
    let fn: Range = { min: MAX_U64, max: 0n };
    let result: Range | undefined;
    for (const o of overloads) {
      const est = this.functionCost(e, fnName, o.id, target, call.args, argCosts);
      fn = union(fn, est.cost);
      if (est.size) result = result ? union(result, est.size) : est.size;
      if (o.id === 'index_list' || o.id === 'index_map') {
        const arg0 = call.args[0]!;
        result = this.entry(arg0)?.val;
        this.paths.set(e.id, [...(this.path(arg0) ?? []), o.id === 'index_list' ? '@items' : '@values']);
      }
      if (!result) result = this.size(e);
    }
    if (result) this.sizes.set(e.id, result);
    return add(sum, fn);
  }

  private nodeSize(e: Expr): Range {
    return this.size(e) ?? UNKNOWN;
  }

  /** The element of a list-typed target, sized from the schema when its path is known. */
  private listElement(target: Expr): { type: CelT; size: Range } | undefined {
    const t = this.type(target);
    if (t.k !== 'list') return undefined;
    const p = this.path(target);
    const size = p && p[0] !== '@result' ? this.estimateSize([...p, '@items']) : undefined;
    return { type: t.elem, size: size ?? UNKNOWN };
  }

  /** apiserver's estimates for its own library, then cel-go's for the standard one. */
  private functionCost(e: Expr, name: string, id: string, target: Expr | undefined, args: Expr[], argCosts: Range[]): { cost: Range; size?: Range } {
    const argSum = argCosts.reduce((a, b) => add(a, b), fixed(0n));
    const k8s = this.kubernetesCost(name, id, target, args);
    if (k8s) return { cost: add(k8s.cost, argSum), size: k8s.size };
    const t = target ? this.nodeSize(target) : undefined;
    switch (id) {
      case 'string_format':
        if (t) return { cost: add(byFactor(t, STRING_TRAVERSAL), argSum) };
        break;
      case 'string_to_bytes': {
        const sz = this.nodeSize(args[0]!);
        return { cost: add(byFactor(sz, STRING_TRAVERSAL), argSum), size: { min: sz.min, max: sat(sz.max * 4n) } };
      }
      case 'bytes_to_string': {
        const sz = this.nodeSize(args[0]!);
        return { cost: add(byFactor(sz, STRING_TRAVERSAL), argSum), size: { min: sz.min / 4n, max: sz.max } };
      }
      case 'strings_quote': {
        const sz = this.nodeSize(args[0]!);
        return { cost: add(byFactor(sz, STRING_TRAVERSAL), argSum), size: { min: sat(sz.min + 2n), max: sat(sz.max * 2n + 2n) } };
      }
      case 'starts_with_string':
      case 'ends_with_string':
        return { cost: add(byFactor(this.nodeSize(args[0]!), STRING_TRAVERSAL), argSum) };
      case 'in_list':
        return { cost: add(this.nodeSize(args[1]!), argSum) };
      case 'matches_string':
        if (t) {
          const str = byFactor(add(t, fixed(1n)), STRING_TRAVERSAL);
          const re = byFactor(this.nodeSize(args[0]!), REGEX_LENGTH);
          return { cost: add(mul(str, re), argSum) };
        }
        break;
      case 'matches': {
        const str = byFactor(add(this.nodeSize(args[0]!), fixed(1n)), STRING_TRAVERSAL);
        const re = byFactor(this.nodeSize(args[1]!), REGEX_LENGTH);
        return { cost: add(mul(str, re), argSum) };
      }
      case 'contains_string':
        if (t) return { cost: add(mul(byFactor(t, STRING_TRAVERSAL), byFactor(this.nodeSize(args[0]!), STRING_TRAVERSAL)), argSum) };
        break;
      case 'logical_or':
      case 'logical_and':
        return { cost: { min: argCosts[0]!.min, max: add(argCosts[0]!, argCosts[1]!).max } };
      case 'conditional': {
        const size = union(this.nodeSize(args[1]!), this.nodeSize(args[2]!));
        const a = this.entry(args[1]!);
        const b = this.entry(args[2]!);
        if (a && b) this.entries.set(e.id, { container: a.container, key: union(a.key, b.key), val: union(a.val, b.val) });
        return { cost: add(argCosts[0]!, union(argCosts[1]!, argCosts[2]!)), size };
      }
      case 'add_string':
      case 'add_bytes':
      case 'add_list': {
        const size = add(this.nodeSize(args[0]!), this.nodeSize(args[1]!));
        const a = this.entry(args[0]!);
        const b = this.entry(args[1]!);
        if (a && b) this.entries.set(e.id, { container: a.container, key: union(a.key, b.key), val: union(a.val, b.val) });
        if (id === 'add_list') return { cost: add(fixed(1n), argSum), size };
        return { cost: add(byFactor(size, STRING_TRAVERSAL), argSum), size };
      }
      case 'less_string':
      case 'greater_string':
      case 'less_equals_string':
      case 'greater_equals_string':
      case 'less_bytes':
      case 'greater_bytes':
      case 'less_equals_bytes':
      case 'greater_equals_bytes':
      case 'equals':
      case 'not_equals': {
        const l = this.nodeSize(args[0]!);
        const r = this.nodeSize(args[1]!);
        const smallest = l.max < r.max ? l.max : r.max;
        return { cost: add(byFactor({ min: smallest > 0n ? 1n : 0n, max: smallest }, STRING_TRAVERSAL), argSum) };
      }
    }
    return { cost: add(fixed(1n), argSum) };
  }

  private kubernetesCost(name: string, id: string, target: Expr | undefined, args: Expr[]): { cost: Range; size?: Range } | undefined {
    const size = (e: Expr) => this.nodeSize(e);
    switch (name) {
      case 'isSorted':
      case 'sum':
      case 'max':
      case 'min':
      case 'indexOf':
      case 'lastIndexOf': {
        if (!target) return undefined;
        const el = this.listElement(target);
        if (el) {
          let elCost = fixed(1n);
          if (el.type.k === 'string' || el.type.k === 'bytes') elCost = add(elCost, byFactor(el.size, STRING_TRAVERSAL));
          return { cost: mul(size(target), elCost) };
        }
        return { cost: byFactor(size(target), STRING_TRAVERSAL) };
      }
      case 'url':
        if (args.length === 1) {
          const sz = size(args[0]!);
          return { cost: byFactor(sz, STRING_TRAVERSAL), size: sz };
        }
        return undefined;
      case 'lowerAscii':
      case 'upperAscii':
      case 'substring':
      case 'trim':
        if (target) {
          const sz = size(target);
          return { cost: byFactor(sz, STRING_TRAVERSAL), size: sz };
        }
        return undefined;
      case 'replace':
        if (target && args.length >= 2) return this.replaceCost(size(target), size(args[0]!), size(args[1]!));
        return undefined;
      case 'split':
        if (target) {
          const sz = size(target);
          let max = sz.max;
          const lim = args[1]?.exprKind;
          if (lim?.case === 'constExpr' && lim.value.constantKind.case === 'int64Value') max = BigInt.asUintN(64, lim.value.constantKind.value);
          return { cost: byFactor(sz, 2 * STRING_TRAVERSAL), size: { min: 0n, max } };
        }
        return undefined;
      case 'join':
        if (target) {
          const listSize = size(target);
          const el = this.listElement(target);
          let sz = el ? mul(listSize, el.size) : fixed(0n);
          if (args.length) {
            const sep = size(args[0]!);
            sz = add(sz, mul(sep, { min: listSize.min > 0n ? listSize.min - 1n : 0n, max: listSize.max > 0n ? listSize.max - 1n : 0n }));
          }
          return { cost: byFactor(sz, STRING_TRAVERSAL), size: sz };
        }
        return undefined;
      case 'find':
      case 'findAll':
        if (target && args.length >= 1) {
          const sz = size(target);
          const str = byFactor(add(sz, fixed(1n)), STRING_TRAVERSAL);
          const re = byFactor(size(args[0]!), REGEX_LENGTH);
          return { cost: mul(str, re), size: { min: 0n, max: sz.max } };
        }
        return undefined;
      case 'cidr':
      case 'isIP':
      case 'isCIDR':
        if (args.length >= 1) return { cost: byFactor(size(args[0]!), STRING_TRAVERSAL) };
        return undefined;
      case 'ip':
        if (id === 'cidr_ip') return { cost: fixed(1n) };
        if (args.length >= 1) return { cost: byFactor(size(args[0]!), STRING_TRAVERSAL) };
        return undefined;
      case 'ip.isCanonical':
        if (args.length >= 1) return { cost: byFactor(size(args[0]!), 2 * STRING_TRAVERSAL) };
        return undefined;
      case 'masked':
      case 'prefixLength':
      case 'family':
      case 'isUnspecified':
      case 'isLoopback':
      case 'isLinkLocalMulticast':
      case 'isLinkLocalUnicast':
      case 'isGlobalUnicast':
        return { cost: fixed(1n) };
      case 'containsIP':
      case 'containsCIDR': {
        if (args.length < 1) return undefined;
        const ipSize: Range = { min: 4n, max: 16n };
        let c = byFactor(add(ipSize, ipSize), STRING_TRAVERSAL);
        if (name === 'containsCIDR') c = add(add(c, byFactor(ipSize, STRING_TRAVERSAL)), fixed(1n));
        if (id === 'cidr_contains_ip_string' || id === 'cidr_contains_cidr_string') c = add(c, byFactor(size(args[0]!), STRING_TRAVERSAL));
        return { cost: c };
      }
      case 'quantity':
      case 'isQuantity':
        if (args.length >= 1) return { cost: byFactor(size(args[0]!), STRING_TRAVERSAL) };
        return undefined;
      case 'validate':
        if (args.length >= 1) return { cost: byFactor(byFactor(size(args[0]!), STRING_TRAVERSAL), Number(MAX_NAME_FORMAT_REGEX) * REGEX_LENGTH) };
        return undefined;
      case 'format.named':
      case 'sign':
      case 'asInteger':
      case 'isInteger':
      case 'asApproximateFloat':
      case 'isGreaterThan':
      case 'isLessThan':
      case 'compareTo':
      case 'add':
      case 'sub':
      case 'getScheme':
      case 'getHostname':
      case 'getHost':
      case 'getPort':
      case 'getEscapedPath':
      case 'getQuery':
        return { cost: fixed(1n) };
      case '_==_': {
        if (args.length !== 2) return undefined;
        const l = this.type(args[0]!);
        const r = this.type(args[1]!);
        if (l.k !== 'opaque' || r.k !== 'opaque' || l.name !== r.name) return undefined;
        switch (l.name) {
          case 'net.IP':
          case 'net.CIDR':
          case 'kubernetes.Quantity':
            return { cost: fixed(1n) };
          case 'kubernetes.NamedFormat':
            return { cost: byFactor({ min: 1n, max: MAX_FORMAT_SIZE }, STRING_TRAVERSAL) };
          case 'kubernetes.URL': {
            const rs = this.size(args[1]!);
            const s = rs ? union(rs, rs) : fixed(1n);
            return { cost: byFactor({ min: 1n, max: s.max }, STRING_TRAVERSAL) };
          }
        }
        return undefined;
      }
    }
    return undefined;
  }

  private replaceCost(sz: Range, toReplace: Range, replaceWith: Range): { cost: Range; size: Range } {
    const count: Range = { min: 0n, max: 0n };
    const retained: Range = { min: 0n, max: 0n };
    if (toReplace.min === 0n) {
      count.max = sz.max < MAX_U64 ? sz.max + 1n : sz.max;
      retained.max = sz.max;
    } else if (replaceWith.max <= toReplace.min) {
      retained.max = sz.max;
    } else {
      count.max = sat(BigInt(Math.ceil(Number(sz.max) / Number(toReplace.min))));
    }
    if (toReplace.max === 0n) {
      count.min = sz.min < MAX_U64 ? sz.min + 1n : sz.min;
      retained.min = sz.min;
    } else if (toReplace.max <= replaceWith.min) {
      retained.min = sz.min;
    } else {
      count.min = sat(BigInt(Math.ceil(Number(sz.min) / Number(toReplace.max))));
    }
    return { cost: byFactor(sz, 2 * STRING_TRAVERSAL), size: add(mul(count, replaceWith), retained) };
  }
}

/** The largest cost the expression can reach on any object the schema admits. */
export function estimateCost(expr: Expr, checked: Checked, self: Decl): bigint {
  return new Coster(checked, self).cost(expr).max;
}
