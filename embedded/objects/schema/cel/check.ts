// The type checker kube-apiserver runs on every rule when a CRD is written (cel-go's checker
// over the schema-typed `self`): undefined fields, unknown functions, argument types that match
// no overload, mixed-type literals, and what the whole expression evaluates to. Its errors read
// like cel-go's, with the same positions:
//   ERROR: <input>:1:5: undefined field 'foo'
//    | self.foo == 1
//    | ....^
// It also records each node's type and each call's overloads, which the cost estimator needs.
// @bufbuild/cel evaluates; it has no checker of its own yet.
import type { Expr, ParsedExpr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { RE2JS } from '@bufbuild/re2';
import { ALL_OVERLOADS, type Overload } from './library/index.ts';
import { parseGoDuration, timestampValue } from './values.ts';
import {
  BOOL, BYTES, DOUBLE, DURATION, DYN, ERROR, INT, NULL, STRING, TIMESTAMP, UINT, format, list, map, typeOf, type CelT,
} from './types.ts';

export interface Checked {
  /** Type of the whole expression. */
  type: CelT;
  types: Map<bigint, CelT>;
  /** The overloads each call node may dispatch to. */
  overloads: Map<bigint, Overload[]>;
  /** Qualified names that calls resolved to (`format.dns1123Label`), by call id. */
  functionNames: Map<bigint, string>;
  usesOldSelf: boolean;
  /** cel-go's issues text, empty when the expression checks. */
  errors: string;
}

const byName = new Map<string, Overload[]>();
for (const o of ALL_OVERLOADS) {
  const list = byName.get(o.name) ?? [];
  list.push(o);
  byName.set(o.name, list);
}

const TYPE_NAMES: Record<string, CelT> = {
  int: INT,
  uint: UINT,
  double: DOUBLE,
  bool: BOOL,
  string: STRING,
  bytes: BYTES,
  null_type: NULL,
  dyn: DYN,
  list: list(DYN),
  map: map(DYN, DYN),
  'google.protobuf.Timestamp': TIMESTAMP,
  'google.protobuf.Duration': DURATION,
  'kubernetes.URL': { k: 'opaque', name: 'kubernetes.URL', params: [] },
  'kubernetes.Quantity': { k: 'opaque', name: 'kubernetes.Quantity', params: [] },
  'net.IP': { k: 'opaque', name: 'net.IP', params: [] },
  'net.CIDR': { k: 'opaque', name: 'net.CIDR', params: [] },
};

type Subs = Map<string, CelT>;

function resolve(t: CelT, subs: Subs): CelT {
  switch (t.k) {
    case 'param': {
      const b = subs.get(t.name);
      return b ? resolve(b, subs) : t;
    }
    case 'list':
      return list(resolve(t.elem, subs));
    case 'map':
      return map(resolve(t.key, subs), resolve(t.val, subs));
    case 'opaque':
      return t.params.length ? { k: 'opaque', name: t.name, params: t.params.map((p) => resolve(p, subs)) } : t;
    case 'type':
      return typeOf(resolve(t.of, subs));
    default:
      return t;
  }
}

/** Free type parameters (left by empty literals) become dyn once a type is final. */
function closed(t: CelT): CelT {
  switch (t.k) {
    case 'param':
      return DYN;
    case 'list':
      return list(closed(t.elem));
    case 'map':
      return map(closed(t.key), closed(t.val));
    case 'opaque':
      return t.params.length ? { k: 'opaque', name: t.name, params: t.params.map(closed) } : t;
    case 'type':
      return typeOf(closed(t.of));
    default:
      return t;
  }
}

function isDynLike(t: CelT): boolean {
  return t.k === 'dyn' || t.k === 'error' || (t.k === 'param' && t.name.startsWith('_free'));
}

/** Can a value of `actual` be passed where `target` is declared, binding target's parameters. */
function assignable(target: CelT, actual: CelT, subs: Subs): boolean {
  if (target.k === 'param' && !target.name.startsWith('_free')) {
    const bound = subs.get(target.name);
    if (bound) {
      if (assignable(bound, actual, subs)) return true;
      // A parameter first bound to dyn-ish (or null) widens to the more specific type.
      if (isDynLike(bound) || bound.k === 'null_type') {
        subs.set(target.name, actual);
        return true;
      }
      return isDynLike(actual);
    }
    subs.set(target.name, actual);
    return true;
  }
  if (isDynLike(target) || isDynLike(actual)) return true;
  if (actual.k === 'null_type') return ['null_type', 'object', 'opaque', 'timestamp', 'duration'].includes(target.k);
  if (target.k !== actual.k) return false;
  switch (target.k) {
    case 'list':
      return assignable(target.elem, (actual as typeof target).elem, subs);
    case 'map': {
      const a = actual as typeof target;
      return assignable(target.key, a.key, subs) && assignable(target.val, a.val, subs);
    }
    case 'object':
      return target.name === (actual as typeof target).name && (target === actual || target.fields === (actual as typeof target).fields || target.name !== 'object' || sameShape(target, actual as typeof target));
    case 'opaque': {
      const a = actual as typeof target;
      return target.name === a.name && target.params.length === a.params.length && target.params.every((p, i) => assignable(p, a.params[i]!, subs));
    }
    case 'type':
      return true;
    default:
      return true;
  }
}

function sameShape(a: { fields: Map<string, CelT> }, b: { fields: Map<string, CelT> }): boolean {
  if (a.fields.size !== b.fields.size) return false;
  for (const [k, v] of a.fields) {
    const o = b.fields.get(k);
    if (!o || format(o) !== format(v)) return false;
  }
  return true;
}

interface Located {
  offset: number;
  message: string;
}

class Checker {
  types = new Map<bigint, CelT>();
  overloads = new Map<bigint, Overload[]>();
  functionNames = new Map<bigint, string>();
  errors: Located[] = [];
  usesOldSelf = false;
  private scopes: Map<string, CelT>[] = [];
  /** List literals exempt from the same-type rule: the arguments of string.format(). */
  private mixedAllowed = new Set<bigint>();
  private starts = new Map<bigint, number>();
  private free = 0;

  private readonly src: string;
  private readonly positions: Record<string, number>;
  private readonly vars: Record<string, CelT>;

  constructor(src: string, positions: Record<string, number>, vars: Record<string, CelT>) {
    this.src = src;
    this.positions = positions;
    this.vars = vars;
  }

  check(e: Expr): CelT {
    const t = this.visit(e);
    this.types.set(e.id, t);
    return t;
  }

  private pos(e: Expr): number {
    return this.positions[String(e.id)] ?? 0;
  }

  /** Where an expression's text begins (its leftmost descendant). */
  private start(e: Expr): number {
    const hit = this.starts.get(e.id);
    if (hit !== undefined) return hit;
    let s = this.pos(e);
    const k = e.exprKind;
    const kids: (Expr | undefined)[] = [];
    if (k.case === 'selectExpr') kids.push(k.value.operand);
    else if (k.case === 'callExpr') kids.push(k.value.target, ...k.value.args);
    else if (k.case === 'comprehensionExpr') kids.push(k.value.iterRange);
    for (const kid of kids) if (kid) s = Math.min(s, this.start(kid));
    this.starts.set(e.id, s);
    return s;
  }

  /** The offset cel-go reports for a call: its operator, or the opening parenthesis. */
  private callOffset(e: Expr): number {
    const call = e.exprKind.case === 'callExpr' ? e.exprKind.value : undefined;
    if (!call) return this.pos(e);
    const fnName = call.function;
    const binary = /^_(.+)_$/.exec(fnName);
    if (call.args.length === 2 && !call.target && (binary || fnName === '@in')) {
      if (fnName === '_[_]') return this.pos(e);
      // Back from the right operand over blanks to the operator's first character.
      let i = this.start(call.args[1]!) - 1;
      while (i > 0 && /\s/.test(this.src[i]!)) i--;
      const op = fnName === '@in' ? 'in' : binary![1]!;
      return Math.max(0, i - op.length + 1);
    }
    if (fnName === '_?_:_') {
      let i = this.start(call.args[1]!) - 1;
      while (i > 0 && /\s/.test(this.src[i]!)) i--;
      return i;
    }
    if (fnName === '!_' || fnName === '-_') return this.pos(e);
    // f(...) and x.f(...): the '(' after the name.
    const from = this.pos(e);
    const paren = this.src.indexOf('(', from);
    return paren >= 0 ? paren : from;
  }

  /** has(...) is reported at its opening parenthesis. */
  private macroOffset(e: Expr): number {
    const paren = this.src.indexOf('(', this.start(e) >= 3 ? this.src.lastIndexOf('has', this.start(e)) : 0);
    return paren >= 0 ? paren : this.pos(e);
  }

  /**
   * kube-apiserver's environment validates literal arguments once the types check:
   * duration('1x'), timestamp('yesterday'), matches('(a').
   */
  validateLiterals(e: Expr): void {
    const k = e.exprKind;
    if (k.case === 'callExpr') {
      const name = this.functionNames.get(e.id) ?? k.value.function;
      const lit = (i: number) => {
        const a = k.value.args[i]?.exprKind;
        return a?.case === 'constExpr' && a.value.constantKind.case === 'stringValue' ? a.value.constantKind.value : undefined;
      };
      const one = lit(0);
      const at = (i: number) => this.pos(k.value.args[i]!);
      if (name === 'duration' && one !== undefined && parseGoDuration(one) === undefined) this.error(at(0), 'invalid duration argument');
      if (name === 'timestamp' && one !== undefined && !timestampValue(one)) this.error(at(0), 'invalid timestamp argument');
      if (name === 'matches') {
        const i = k.value.target ? 0 : 1;
        const re = lit(i);
        if (re !== undefined && !compilesAsRE2(re)) this.error(at(i), 'invalid matches argument');
      }
      if (k.value.target) this.validateLiterals(k.value.target);
      for (const a of k.value.args) this.validateLiterals(a);
    } else if (k.case === 'selectExpr') this.validateLiterals(k.value.operand!);
    else if (k.case === 'listExpr') for (const el of k.value.elements) this.validateLiterals(el);
    else if (k.case === 'structExpr') {
      for (const en of k.value.entries) {
        if (en.keyKind.case === 'mapKey') this.validateLiterals(en.keyKind.value);
        this.validateLiterals(en.value!);
      }
    } else if (k.case === 'comprehensionExpr') {
      for (const part of [k.value.iterRange, k.value.accuInit, k.value.loopCondition, k.value.loopStep, k.value.result]) if (part) this.validateLiterals(part);
    }
  }

  private error(offset: number, message: string): CelT {
    this.errors.push({ offset, message });
    return ERROR;
  }

  private lookup(name: string): CelT | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const t = this.scopes[i]!.get(name);
      if (t) return t;
    }
    if (Object.hasOwn(this.vars, name)) {
      if (name === 'oldSelf') this.usesOldSelf = true;
      return this.vars[name];
    }
    return undefined;
  }

  private record(e: Expr, t: CelT): CelT {
    this.types.set(e.id, t);
    return t;
  }

  private visit(e: Expr): CelT {
    const k = e.exprKind;
    switch (k.case) {
      case 'constExpr':
        return this.record(e, this.constant(k.value.constantKind.case));
      case 'identExpr': {
        const t = this.lookup(k.value.name);
        if (t) return this.record(e, t);
        const typeName = TYPE_NAMES[k.value.name];
        if (typeName) return this.record(e, typeOf(typeName));
        if (k.value.name === 'type') return this.record(e, typeOf(typeOf(DYN)));
        return this.record(e, this.error(this.pos(e), `undeclared reference to '${k.value.name}' (in container '')`));
      }
      case 'selectExpr':
        return this.record(e, this.select(e, k.value.operand!, k.value.field, k.value.testOnly));
      case 'callExpr':
        return this.record(e, this.call(e));
      case 'listExpr': {
        let elem: CelT | undefined;
        for (const el of k.value.elements) {
          const t = this.visit(el);
          if (t.k === 'error') continue;
          if (!elem || isDynLike(elem)) elem = t;
          else if (!isDynLike(t) && !assignable(elem, t, new Map())) {
            if (this.mixedAllowed.has(e.id)) elem = DYN;
            else this.error(this.pos(el), `expected type '${format(elem)}' but found '${format(t)}'`);
          }
        }
        return this.record(e, list(elem ?? { k: 'param', name: `_free${this.free++}` }));
      }
      case 'structExpr': {
        if (k.value.messageName) return this.record(e, this.error(this.pos(e), `undeclared reference to '${k.value.messageName}' (in container '')`));
        let key: CelT | undefined;
        let val: CelT | undefined;
        for (const entry of k.value.entries) {
          if (entry.keyKind.case !== 'mapKey') continue;
          const kt = this.visit(entry.keyKind.value);
          const vt = this.visit(entry.value!);
          if (kt.k !== 'error') {
            if (!key || isDynLike(key)) key = kt;
            else if (!isDynLike(kt) && !assignable(key, kt, new Map())) this.error(this.pos(entry.keyKind.value), `expected type '${format(key)}' but found '${format(kt)}'`);
          }
          if (vt.k !== 'error') {
            if (!val || isDynLike(val)) val = vt;
            else if (!isDynLike(vt) && !assignable(val, vt, new Map())) this.error(this.pos(entry.value!), `expected type '${format(val)}' but found '${format(vt)}'`);
          }
        }
        return this.record(e, map(key ?? { k: 'param', name: `_free${this.free++}` }, val ?? { k: 'param', name: `_free${this.free++}` }));
      }
      case 'comprehensionExpr':
        return this.record(e, this.comprehension(k.value));
      default:
        return this.record(e, DYN);
    }
  }

  private constant(kind: string | undefined): CelT {
    switch (kind) {
      case 'boolValue':
        return BOOL;
      case 'int64Value':
        return INT;
      case 'uint64Value':
        return UINT;
      case 'doubleValue':
        return DOUBLE;
      case 'stringValue':
        return STRING;
      case 'bytesValue':
        return BYTES;
      case 'nullValue':
        return NULL;
      default:
        return DYN;
    }
  }

  /** `a.b.c` as a dotted name when `a` is no variable (a type or a qualified function). */
  private qualifiedName(e: Expr): string | undefined {
    const k = e.exprKind;
    if (k.case === 'identExpr') return this.lookup(k.value.name) ? undefined : k.value.name;
    if (k.case === 'selectExpr' && !k.value.testOnly) {
      const left = this.qualifiedName(k.value.operand!);
      return left ? `${left}.${k.value.field}` : undefined;
    }
    return undefined;
  }

  private select(e: Expr, operand: Expr, field: string, testOnly: boolean): CelT {
    const qualified = testOnly ? undefined : this.qualifiedName(e);
    if (qualified && TYPE_NAMES[qualified]) return typeOf(TYPE_NAMES[qualified]);
    const t = this.visit(operand);
    if (t.k === 'error') return ERROR;
    let result: CelT;
    switch (t.k) {
      case 'object': {
        const f = t.fields.get(field);
        if (!f) return this.error(this.pos(e), `undefined field '${field}'`);
        result = f;
        break;
      }
      case 'map':
        if (!assignable(t.key, STRING, new Map())) return this.error(this.pos(e), `type '${format(t)}' does not support field selection`);
        result = t.val;
        break;
      case 'dyn':
      case 'param':
        result = DYN;
        break;
      default:
        return this.error(testOnly ? this.macroOffset(e) : this.pos(e), `type '${format(t)}' does not support field selection`);
    }
    return testOnly ? BOOL : result;
  }

  private call(e: Expr): CelT {
    const call = e.exprKind.case === 'callExpr' ? e.exprKind.value : undefined;
    if (!call) return DYN;
    let name = call.function;
    let target = call.target;
    let member = !!target;
    if (target) {
      const q = this.qualifiedName(target);
      if (q && byName.has(`${q}.${name}`)) {
        name = `${q}.${name}`;
        target = undefined;
        member = false;
      }
    }
    if (name === 'format' && member && call.args[0]?.exprKind.case === 'listExpr') this.mixedAllowed.add(call.args[0].id);
    const argTypes: CelT[] = [];
    if (target) argTypes.push(this.visit(target));
    for (const a of call.args) argTypes.push(this.visit(a));
    this.functionNames.set(e.id, name);
    if (argTypes.some((t) => t.k === 'error')) return ERROR;
    const candidates = (byName.get(name) ?? []).filter((o) => o.member === member && o.args.length === argTypes.length);
    if (!byName.has(name)) return this.error(this.callOffset(e), `undeclared reference to '${name}' (in container '')`);
    const matched: { o: Overload; result: CelT }[] = [];
    for (const o of candidates) {
      const subs: Subs = new Map();
      if (o.args.every((p, i) => assignable(p, argTypes[i]!, subs))) matched.push({ o, result: closed(resolve(o.result, subs)) });
    }
    if (!matched.length) {
      const sig = member
        ? `${format(closed(argTypes[0]!))}.(${argTypes.slice(1).map((t) => format(closed(t))).join(', ')})`
        : `(${argTypes.map((t) => format(closed(t))).join(', ')})`;
      return this.error(this.callOffset(e), `found no matching overload for '${name}' applied to '${sig}'`);
    }
    this.overloads.set(e.id, matched.map((m) => m.o));
    const first = matched[0]!.result;
    return matched.every((m) => format(m.result) === format(first)) ? first : DYN;
  }

  private comprehension(c: Extract<Expr['exprKind'], { case: 'comprehensionExpr' }>['value']): CelT {
    const range = this.visit(c.iterRange!);
    let iterT: CelT = DYN;
    let iterT2: CelT | undefined;
    if (range.k === 'list') {
      iterT = c.iterVar2 ? INT : range.elem;
      if (c.iterVar2) iterT2 = range.elem;
    } else if (range.k === 'map') {
      iterT = range.key;
      if (c.iterVar2) iterT2 = range.val;
    } else if (range.k !== 'dyn' && range.k !== 'error' && range.k !== 'param') {
      this.error(this.pos(c.iterRange!), `expression of type '${format(range)}' cannot be range of a comprehension (must be list, map, or dynamic)`);
    }
    let accu = this.visit(c.accuInit!);
    const scope = new Map<string, CelT>([[c.accuVar, accu], [c.iterVar, closed(iterT)]]);
    if (c.iterVar2 && iterT2) scope.set(c.iterVar2, closed(iterT2));
    this.scopes.push(scope);
    this.visit(c.loopCondition!);
    const step = this.visit(c.loopStep!);
    if ((accu.k === 'list' || accu.k === 'map') && step.k === accu.k) {
      accu = step;
      scope.set(c.accuVar, accu);
    }
    this.scopes.pop();
    this.scopes.push(new Map([[c.accuVar, accu]]));
    const result = this.visit(c.result!);
    this.scopes.pop();
    return result;
  }
}

function compilesAsRE2(pattern: string): boolean {
  try {
    RE2JS.compile(pattern);
    return true;
  } catch {
    return false;
  }
}

/** The error kube-apiserver gives when a constant find()/findAll() pattern does not compile. */
export function constantRegexError(e: Expr): string | undefined {
  const k = e.exprKind;
  if (k.case === 'callExpr') {
    const arg = k.value.args[0]?.exprKind;
    if ((k.value.function === 'find' || k.value.function === 'findAll') && k.value.target && arg?.case === 'constExpr' && arg.value.constantKind.case === 'stringValue') {
      try {
        RE2JS.compile(arg.value.constantKind.value);
      } catch (err) {
        return (err as Error).message;
      }
    }
    for (const x of [k.value.target, ...k.value.args]) {
      const found = x && constantRegexError(x);
      if (found) return found;
    }
  } else if (k.case === 'selectExpr') return constantRegexError(k.value.operand!);
  else if (k.case === 'listExpr') {
    for (const el of k.value.elements) {
      const found = constantRegexError(el);
      if (found) return found;
    }
  } else if (k.case === 'comprehensionExpr') {
    for (const part of [k.value.iterRange, k.value.accuInit, k.value.loopCondition, k.value.loopStep, k.value.result]) {
      const found = part && constantRegexError(part);
      if (found) return found;
    }
  }
  return undefined;
}

/** cel-go's error text: location, message, the source line and a caret under the column. */
export function formatIssues(src: string, errors: Located[]): string {
  const lines = src.split('\n');
  const sorted = [...errors].sort((a, b) => a.offset - b.offset);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const err of sorted) {
    let line = 0;
    let col = err.offset;
    while (line < lines.length - 1 && col > lines[line]!.length) {
      col -= lines[line]!.length + 1;
      line++;
    }
    const text = `ERROR: <input>:${line + 1}:${col + 1}: ${err.message}\n | ${lines[line]}\n | ${'.'.repeat(col)}^`;
    if (!seen.has(text)) out.push(text);
    seen.add(text);
  }
  return out.join('\n');
}

export function checkExpr(parsed: ParsedExpr & { expr: Expr }, src: string, vars: Record<string, CelT>): Checked {
  const c = new Checker(src, (parsed.sourceInfo?.positions ?? {}) as Record<string, number>, vars);
  const type = closed(c.check(parsed.expr));
  if (!c.errors.length) c.validateLiterals(parsed.expr);
  return {
    type,
    types: c.types,
    overloads: c.overloads,
    functionNames: c.functionNames,
    usesOldSelf: c.usesOldSelf,
    errors: formatIssues(src, c.errors),
  };
}

