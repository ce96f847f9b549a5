// The type checker kube-apiserver runs on every rule when a CRD is written (cel-go's checker
// over the schema-typed `self`): undefined fields, unknown functions, argument types that match
// no overload, mixed-type literals, and what the whole expression evaluates to. Its errors read
// like cel-go's, with the same positions:
//   ERROR: <input>:1:5: undefined field 'foo'
//    | self.foo == 1
//    | ....^
// It also records each node's type and each call's overloads, which the cost estimator needs.
// @bufbuild/cel evaluates; it has no checker of its own yet.
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { RE2JS } from '@bufbuild/re2';
import { ALL_OVERLOADS, type Overload } from './library/index.ts';
import { parseGoDuration, timestampValue } from './values.ts';
import {
  BOOL, BYTES, DOUBLE, DURATION, DYN, ERROR, INT, NULL, STRING, TIMESTAMP, UINT, format, isOptional, list, map, optional, typeOf, type CelT,
} from './types.ts';
import type { Located } from './syntax.ts';

export interface Checked {
  /** Type of the whole expression. */
  type: CelT;
  types: Map<bigint, CelT>;
  /** The overloads each call node may dispatch to. */
  overloads: Map<bigint, Overload[]>;
  /** Qualified names that calls resolved to (`format.dns1123Label`), by call id. */
  functionNames: Map<bigint, string>;
  /** Identifiers and dotted names that name a type (`int`, `google.protobuf.Timestamp`): constants. */
  typeNames: Map<bigint, string>;
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
  'kubernetes.Semver': { k: 'opaque', name: 'kubernetes.Semver', params: [] },
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

/**
 * Free type parameters (left by empty literals) become dyn once a type is final;
 * `keepUnbound` keeps an overload's unbound parameters (optional.none()'s) for freshen().
 */
function closed(t: CelT, keepUnbound = false): CelT {
  const c = (x: CelT) => closed(x, keepUnbound);
  switch (t.k) {
    case 'param':
      return keepUnbound && !t.name.startsWith('_free') ? t : DYN;
    case 'list':
      return list(c(t.elem));
    case 'map':
      return map(c(t.key), c(t.val));
    case 'opaque':
      return t.params.length ? { k: 'opaque', name: t.name, params: t.params.map(c) } : t;
    case 'type':
      return typeOf(c(t.of));
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
      // A type variable left by an empty literal takes the first concrete type it meets.
      if (bound.k === 'param' && bound.name.startsWith('_free') && !isDynLike(actual)) {
        subs.set(target.name, actual);
        return true;
      }
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
      return assignable(target.of, (actual as typeof target).of, subs);
    default:
      return true;
  }
}

/** The same type, type variables of empty literals matching anything. */
function equivalent(a: CelT, b: CelT): boolean {
  if ((a.k === 'param' && a.name.startsWith('_free')) || (b.k === 'param' && b.name.startsWith('_free'))) return true;
  if (a.k !== b.k) return false;
  switch (a.k) {
    case 'list':
      return equivalent(a.elem, (b as typeof a).elem);
    case 'map':
      return equivalent(a.key, (b as typeof a).key) && equivalent(a.val, (b as typeof a).val);
    case 'opaque': {
      const o = b as typeof a;
      return a.name === o.name && a.params.length === o.params.length && a.params.every((p, i) => equivalent(p, o.params[i]!));
    }
    case 'type':
      return equivalent(a.of, (b as typeof a).of);
    default:
      return format(a) === format(b);
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

class Checker {
  types = new Map<bigint, CelT>();
  overloads = new Map<bigint, Overload[]>();
  functionNames = new Map<bigint, string>();
  typeNames = new Map<bigint, string>();
  errors: Located[] = [];
  usesOldSelf = false;
  private scopes: Map<string, CelT>[] = [];
  /** List literals exempt from the same-type rule: the arguments of string.format(). */
  private mixedAllowed = new Set<bigint>();
  private starts = new Map<bigint, number>();
  private free = 0;

  private readonly src: string;
  private readonly positions: Map<bigint, number>;
  private readonly vars: Record<string, CelT>;

  constructor(src: string, positions: Map<bigint, number>, vars: Record<string, CelT>) {
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
    return this.positions.get(e.id) ?? 0;
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
    if (fnName === '_[_]' || fnName === '_[?_]') return this.pos(e);
    const binary = /^_(.+)_$/.exec(fnName);
    if (call.args.length === 2 && !call.target && (binary || fnName === '@in')) {
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

  /** The checked type of an entry of a literal, without the optional of `?x`. */
  private entryType(e: Expr, optionalEntry: boolean): CelT {
    const t = this.types.get(e.id) ?? DYN;
    return optionalEntry && isOptional(t) ? t.params[0]! : t;
  }

  /** cel-go's homogeneous-literal validator: every element of the same type as the first. */
  private validateHomogeneous(e: Expr): void {
    const k = e.exprKind;
    if (k.case === 'listExpr' && !this.mixedAllowed.has(e.id)) {
      const optionalAt = new Set(k.value.optionalIndices);
      let first: CelT | undefined;
      for (const [i, el] of k.value.elements.entries()) {
        const t = this.entryType(el, optionalAt.has(i));
        if (!first) first = t;
        else if (!equivalent(first, t)) {
          this.error(this.pos(el), `expected type '${format(closed(first))}' but found '${format(closed(t))}'`);
          break;
        }
      }
    } else if (k.case === 'structExpr' && !k.value.messageName) {
      let key: CelT | undefined;
      let val: CelT | undefined;
      for (const en of k.value.entries) {
        if (en.keyKind.case !== 'mapKey') continue;
        const kt = this.entryType(en.keyKind.value, false);
        const vt = this.entryType(en.value!, en.optionalEntry);
        if (!key || !val) {
          key = kt;
          val = vt;
          continue;
        }
        if (!equivalent(key, kt)) this.error(this.pos(en.keyKind.value), `expected type '${format(closed(key))}' but found '${format(closed(kt))}'`);
        if (!equivalent(val, vt)) this.error(this.pos(en.value!), `expected type '${format(closed(val))}' but found '${format(closed(vt))}'`);
      }
    }
  }

  /**
   * kube-apiserver's environment validates the checked expression: literals of one type
   * only, and literal arguments that must parse: duration('1x'), timestamp('yesterday'),
   * matches('(a').
   */
  validateLiterals(e: Expr): void {
    const k = e.exprKind;
    this.validateHomogeneous(e);
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
        if (typeName || k.value.name === 'type') this.typeNames.set(e.id, k.value.name);
        if (typeName) return this.record(e, typeOf(typeName));
        if (k.value.name === 'type') return this.record(e, typeOf(typeOf(DYN)));
        return this.record(e, this.error(this.pos(e), `undeclared reference to '${k.value.name}' (in container '')`));
      }
      case 'selectExpr':
        return this.record(e, this.select(e, k.value.operand!, k.value.field, k.value.testOnly));
      case 'callExpr':
        return this.record(e, this.call(e));
      case 'listExpr': {
        // Mixed element types make the list's type dyn; validateLiterals reports them.
        let elem: CelT | undefined;
        let mixed = false;
        const optionalAt = new Set(k.value.optionalIndices);
        for (const [i, el] of k.value.elements.entries()) {
          let t = this.visit(el);
          if (t.k === 'error') continue;
          if (optionalAt.has(i)) t = this.unwrapOptionalEntry(el, t);
          if (mixed) continue;
          if (!elem || isDynLike(elem)) elem = t;
          else if (!isDynLike(t) && !assignable(elem, t, new Map())) {
            elem = DYN;
            mixed = true;
          }
        }
        return this.record(e, list(elem ?? { k: 'param', name: `_free${this.free++}` }));
      }
      case 'structExpr': {
        if (k.value.messageName) return this.record(e, this.error(this.pos(e), `undeclared reference to '${k.value.messageName}' (in container '')`));
        let key: CelT | undefined;
        let val: CelT | undefined;
        let mixedKeys = false;
        let mixedValues = false;
        for (const entry of k.value.entries) {
          if (entry.keyKind.case !== 'mapKey') continue;
          const kt = this.visit(entry.keyKind.value);
          let vt = this.visit(entry.value!);
          if (entry.optionalEntry && vt.k !== 'error') vt = this.unwrapOptionalEntry(entry.value!, vt);
          if (kt.k !== 'error' && !mixedKeys) {
            if (!key || isDynLike(key)) key = kt;
            else if (!isDynLike(kt) && !assignable(key, kt, new Map())) {
              key = DYN;
              mixedKeys = true;
            }
          }
          if (vt.k !== 'error' && !mixedValues) {
            if (!val || isDynLike(val)) val = vt;
            else if (!isDynLike(vt) && !assignable(val, vt, new Map())) {
              val = DYN;
              mixedValues = true;
            }
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

  /** An overload's parameters no argument bound become type variables of their own. */
  private freshen(t: CelT): CelT {
    const names = new Map<string, CelT>();
    const f = (x: CelT): CelT => {
      switch (x.k) {
        case 'param':
          if (x.name.startsWith('_free')) return x;
          if (!names.has(x.name)) names.set(x.name, { k: 'param', name: `_free${this.free++}` });
          return names.get(x.name)!;
        case 'list':
          return list(f(x.elem));
        case 'map':
          return map(f(x.key), f(x.val));
        case 'opaque':
          return x.params.length ? { k: 'opaque', name: x.name, params: x.params.map(f) } : x;
        case 'type':
          return typeOf(f(x.of));
        default:
          return x;
      }
    };
    return f(t);
  }

  /** `[?x]` and `{?k: x}` take an optional x and hold its value. */
  private unwrapOptionalEntry(e: Expr, t: CelT): CelT {
    if (isOptional(t)) return t.params[0]!;
    if (!isDynLike(t)) this.error(this.pos(e), `expected type '${format(optional(t))}' but found '${format(t)}'`);
    return t;
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

  /**
   * `a.f`, `has(a.f)` and `a.?f`: the field's type, optional when the operand is optional or
   * the selection is (cel-go's checkSelectField).
   */
  private select(e: Expr, operand: Expr, field: string, testOnly: boolean, optionalSelect = false): CelT {
    const qualified = testOnly || optionalSelect ? undefined : this.qualifiedName(e);
    if (qualified && TYPE_NAMES[qualified]) {
      this.typeNames.set(e.id, qualified);
      return typeOf(TYPE_NAMES[qualified]);
    }
    const operandType = this.visit(operand);
    if (operandType.k === 'error') return ERROR;
    const isOpt = isOptional(operandType);
    const t = isOpt ? operandType.params[0]! : operandType;
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
      case 'error':
        result = DYN;
        break;
      default:
        // cel-go goes on with dyn, so errors further out are reported too.
        this.error(testOnly ? this.macroOffset(e) : this.pos(e), `type '${format(t)}' does not support field selection`);
        result = DYN;
    }
    if (testOnly) return BOOL;
    return isOpt || optionalSelect ? optional(result) : result;
  }

  private call(e: Expr): CelT {
    const call = e.exprKind.case === 'callExpr' ? e.exprKind.value : undefined;
    if (!call) return DYN;
    if (call.function === '_?._' && call.args.length === 2) {
      const field = call.args[1]!.exprKind;
      const name = field.case === 'constExpr' && field.value.constantKind.case === 'stringValue' ? field.value.constantKind.value : '';
      this.types.set(call.args[1]!.id, STRING);
      const t = this.select(e, call.args[0]!, name, false, true);
      this.functionNames.set(e.id, '_?._');
      this.overloads.set(e.id, byName.get('_?._') ?? []);
      return t;
    }
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
    if (!byName.has(name)) return this.error(this.callOffset(e), `undeclared reference to '${name}' (in container '')`);
    if (argTypes.some((t) => t.k === 'error')) return ERROR;
    const candidates = (byName.get(name) ?? []).filter((o) => o.member === member && o.args.length === argTypes.length);
    const matched: { o: Overload; result: CelT }[] = [];
    for (const o of candidates) {
      const subs: Subs = new Map();
      if (o.args.every((p, i) => assignable(p, argTypes[i]!, subs))) matched.push({ o, result: this.freshen(closed(resolve(o.result, subs), true)) });
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

export function checkExpr(expr: Expr, positions: Map<bigint, number>, src: string, vars: Record<string, CelT>): Checked {
  const c = new Checker(src, positions, vars);
  const type = closed(c.check(expr));
  if (!c.errors.length) c.validateLiterals(expr);
  return {
    type,
    types: c.types,
    overloads: c.overloads,
    functionNames: c.functionNames,
    typeNames: c.typeNames,
    usesOldSelf: c.usesOldSelf,
    errors: formatIssues(src, c.errors),
  };
}

