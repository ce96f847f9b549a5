// From the checked AST (cel-go's shape) to what @bufbuild/cel's planner runs, and what each
// evaluation of it costs (meter.ts):
// - optional selections and indexes (`a.?b`, `a[?k]`, and any selection or index on an
//   optional) become calls of @optSelect/@optIndex; optional list and map entries become
//   @optList/@optMap; `or` and `orValue` evaluate their argument only when needed, as in cel-go;
// - two-variable comprehensions iterate over @pairs(range), their variables read as `@kv[0]`
//   and `@kv[1]`;
// - `x in []` is false without evaluating x, as cel-go folds it.
// Costs follow cel-go's planner: a node evaluated whenever its segment is (everything but the
// right side of && and ||, the branches of ?:, a comprehension's condition and step, the
// argument of or/orValue) adds a fixed amount to that segment, counted once per evaluation of
// the segment at its root call, or at an @cost call put around it.
import { create } from '@bufbuild/protobuf';
import {
  ConstantSchema, ExprSchema, Expr_CallSchema, Expr_ComprehensionSchema, Expr_CreateListSchema, Expr_CreateStructSchema, Expr_CreateStruct_EntrySchema,
  Expr_IdentSchema, Expr_SelectSchema, type Expr,
} from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import type { Checked } from './check.ts';
import { TICK, type CostPlan, type NodeCost } from './meter.ts';
import { maxId } from './syntax.ts';
import { isOptional } from './types.ts';

const LIST_CREATE = 10;
const MAP_CREATE = 30;

/** cel-go folds these calls into constants when their one argument is constant. */
const CONVERSIONS = new Set(['bool', 'bytes', 'double', 'duration', 'dyn', 'int', 'string', 'timestamp', 'type', 'uint']);

/** Calls the planner evaluates itself rather than through the function resolver. */
const PLANNER_CALLS = new Set(['_&&_', '_||_', '_?_:_', '_[_]', '@not_strictly_false', '__not_strictly_false__']);

export interface Lowered {
  expr: Expr;
  costs: CostPlan;
}

type Call = Extract<Expr['exprKind'], { case: 'callExpr' }>['value'];

interface Visited {
  node: Expr;
  /** Fixed cost of one evaluation of the node, nested segments excluded. */
  cost: number;
  /** Constant after cel-go's folding (literals, constant lists and maps, conversions of constants). */
  constant: boolean;
}

class Lowerer {
  readonly costs: CostPlan = new Map();
  private nextId: bigint;
  /**
   * Scopes, innermost last: a two-variable comprehension's variables → how they are read;
   * null for names a comprehension binds itself, which hide outer ones.
   */
  private readonly scopes: Map<string, Expr | null>[] = [];
  private readonly checked: Checked;

  constructor(checked: Checked, maxId: bigint) {
    this.checked = checked;
    this.nextId = maxId + 1n;
  }

  private id(): bigint {
    return this.nextId++;
  }

  private expr(kind: Expr['exprKind'], id = this.id()): Expr {
    return create(ExprSchema, { id, exprKind: kind });
  }

  private call(fn: string, args: Expr[], target?: Expr, id = this.id()): Expr {
    return this.expr({ case: 'callExpr', value: create(Expr_CallSchema, { function: fn, args, target }) }, id);
  }

  private ident(name: string): Expr {
    return this.expr({ case: 'identExpr', value: create(Expr_IdentSchema, { name }) });
  }

  private constant(kind: Extract<Expr['exprKind'], { case: 'constExpr' }>['value']['constantKind']): Expr {
    return this.expr({ case: 'constExpr', value: create(ConstantSchema, { constantKind: kind }) });
  }

  private list(elements: Expr[]): Expr {
    return this.expr({ case: 'listExpr', value: create(Expr_CreateListSchema, { elements }) });
  }

  /** `cel.bind(name, init, result)`: a comprehension over nothing. */
  private bind(name: string, init: Expr, result: Expr): Expr {
    return this.expr({
      case: 'comprehensionExpr',
      value: create(Expr_ComprehensionSchema, {
        iterRange: this.list([]),
        iterVar: '#unused',
        accuVar: name,
        accuInit: init,
        loopCondition: this.constant({ case: 'boolValue', value: false }),
        loopStep: this.ident(name),
        result,
      }),
    });
  }

  private meter(id: bigint, cost: NodeCost): void {
    this.costs.set(Number(id), cost);
  }

  /** A segment of its own: its fixed cost is counted each time it is evaluated. */
  segment(e: Expr, branch = false): Expr {
    const v = this.visit(e, branch);
    if (v.cost === 0) return v.node;
    const counted = this.costs.get(Number(v.node.id));
    if (counted && v.node.exprKind.case === 'callExpr') {
      counted.fixed += v.cost;
      return v.node;
    }
    const tick = this.call(TICK, [v.node]);
    this.meter(tick.id, { fixed: v.cost });
    return tick;
  }

  /**
   * `branch`: the node is a branch of ?:, which cel-go resolves as an attribute, so a
   * variable at the root of a selection chain there costs nothing.
   */
  visit(e: Expr, branch = false): Visited {
    const k = e.exprKind;
    // A type's name is a constant to cel-go.
    if (this.checked.typeNames.has(e.id)) return { node: this.ident(this.checked.typeNames.get(e.id)!), cost: 0, constant: true };
    switch (k.case) {
      case 'constExpr':
        return { node: e, cost: 0, constant: true };
      case 'identExpr': {
        const sub = this.substitution(k.value.name);
        return { node: sub ?? e, cost: branch ? 0 : 1, constant: false };
      }
      case 'selectExpr': {
        const operand = this.visit(k.value.operand!, branch);
        const optionalOperand = isOptional(this.type(k.value.operand!));
        if (k.value.testOnly) {
          const node = optionalOperand
            ? this.call('@optHas', [operand.node, this.constant({ case: 'stringValue', value: k.value.field })])
            : this.expr({ case: 'selectExpr', value: create(Expr_SelectSchema, { operand: operand.node, field: k.value.field, testOnly: true }) }, e.id);
          return { node, cost: operand.cost, constant: false };
        }
        const relative = relativeCost(k.value.operand!, branch);
        if (optionalOperand) return this.optionalAccess('@optSelect', e.id, operand, this.constant({ case: 'stringValue', value: k.value.field }), relative);
        const node = this.expr({ case: 'selectExpr', value: create(Expr_SelectSchema, { operand: operand.node, field: k.value.field }) }, e.id);
        return { node, cost: operand.cost + relative + 1, constant: false };
      }
      case 'callExpr':
        return this.visitCall(e, k.value, branch);
      case 'listExpr': {
        const elems = k.value.elements.map((x) => this.visit(x));
        const constant = elems.every((x) => x.constant) && k.value.optionalIndices.length === 0;
        const cost = constant ? 0 : LIST_CREATE + sum(elems);
        let node = this.expr({ case: 'listExpr', value: create(Expr_CreateListSchema, { elements: elems.map((x) => x.node) }) }, e.id);
        if (k.value.optionalIndices.length) node = this.call('@optList', [node, this.mask(elems.length, k.value.optionalIndices)]);
        return { node, cost, constant };
      }
      case 'structExpr': {
        const keys: Visited[] = [];
        const values: Visited[] = [];
        const optional: number[] = [];
        k.value.entries.forEach((en, i) => {
          if (en.keyKind.case === 'mapKey') keys.push(this.visit(en.keyKind.value));
          values.push(this.visit(en.value!));
          if (en.optionalEntry) optional.push(i);
        });
        const constant = [...keys, ...values].every((x) => x.constant) && optional.length === 0;
        const cost = constant ? 0 : MAP_CREATE + sum(keys) + sum(values);
        if (!optional.length) {
          let key = 0;
          const entries = k.value.entries.map((en, i) =>
            create(Expr_CreateStruct_EntrySchema, {
              id: en.id,
              keyKind: en.keyKind.case === 'mapKey' ? { case: 'mapKey', value: keys[key++]!.node } : en.keyKind,
              value: values[i]!.node,
            }),
          );
          const node = this.expr({ case: 'structExpr', value: create(Expr_CreateStructSchema, { messageName: k.value.messageName, entries }) }, e.id);
          return { node, cost, constant };
        }
        const node = this.call('@optMap', [this.list(keys.map((x) => x.node)), this.list(values.map((x) => x.node)), this.mask(values.length, optional)]);
        return { node, cost, constant };
      }
      case 'comprehensionExpr':
        return this.comprehension(e, k.value);
      default:
        return { node: e, cost: 0, constant: false };
    }
  }

  private type(e: Expr) {
    return this.checked.types.get(e.id) ?? { k: 'dyn' as const };
  }

  private mask(n: number, optional: number[]): Expr {
    const set = new Set(optional);
    return this.constant({ case: 'stringValue', value: Array.from({ length: n }, (_, i) => (set.has(i) ? '1' : '0')).join('') });
  }

  private substitution(name: string): Expr | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const s = this.scopes[i]!;
      if (!s.has(name)) continue;
      const template = s.get(name);
      // A fresh copy each time: every node needs its own id.
      return template ? this.copyRead(template) : undefined;
    }
    return undefined;
  }

  private copyRead(template: Expr): Expr {
    const k = template.exprKind;
    if (k.case !== 'callExpr') return template;
    const [pair, index] = k.value.args as [Expr, Expr];
    const name = pair.exprKind.case === 'identExpr' ? pair.exprKind.value.name : '';
    const at = index.exprKind.case === 'constExpr' ? index.exprKind.value.constantKind : { case: undefined };
    return this.call('_[_]', [this.ident(name), this.constant(at)]);
  }

  /** An optional qualifier: `fixed` for the index, plus 1 when the result has a value. */
  private optionalAccess(fn: string, id: bigint, operand: Visited, key: Expr, keyCost: number): Visited {
    const node = this.call(fn, [operand.node, key], undefined, id);
    this.meter(id, { fixed: 0, dynamic: 'presence' });
    return { node, cost: operand.cost + keyCost, constant: false };
  }

  private visitCall(e: Expr, call: Call, branch: boolean): Visited {
    const fnName = this.checked.functionNames.get(e.id) ?? call.function;
    const overloads = this.checked.overloads.get(e.id) ?? [];
    const args = call.args;
    switch (call.function) {
      case '_&&_':
      case '_||_':
        return { node: this.call(call.function, args.map((a) => this.segment(a)), undefined, e.id), cost: 0, constant: false };
      case '_?_:_': {
        const cond = this.visit(args[0]!);
        const node = this.call('_?_:_', [cond.node, this.segment(args[1]!, true), this.segment(args[2]!, true)], undefined, e.id);
        return { node, cost: cond.cost, constant: false };
      }
      case '@not_strictly_false':
      case '__not_strictly_false__': {
        const a = this.visit(args[0]!);
        return { node: this.call(call.function, [a.node], undefined, e.id), cost: a.cost + 1, constant: false };
      }
      case '_?._': {
        const operand = this.visit(args[0]!, branch);
        return this.optionalAccess('@optSelect', e.id, operand, args[1]!, relativeCost(args[0]!, branch));
      }
      case '_[?_]': {
        const operand = this.visit(args[0]!, branch);
        const index = this.visit(args[1]!);
        return this.optionalAccess('@optIndex', e.id, operand, index.node, index.cost + relativeCost(args[0]!, branch));
      }
      case '_[_]': {
        const operand = this.visit(args[0]!, branch);
        const index = this.visit(args[1]!);
        const relative = relativeCost(args[0]!, branch);
        if (isOptional(this.type(args[0]!))) return this.optionalAccess('@optIndex', e.id, operand, index.node, index.cost + relative);
        // A constant index is one qualifier; a variable one is an attribute whose root is not
        // looked up on its own; anything else is evaluated and then qualifies.
        const indexCost = index.constant ? 1 : isAttribute(args[1]!) ? index.cost : index.cost + 1;
        return { node: this.call('_[_]', [operand.node, index.node], undefined, e.id), cost: operand.cost + relative + indexCost, constant: false };
      }
    }
    const optionalOr = overloads.some((o) => o.id === 'optional_or_optional' || o.id === 'optional_orValue_value');
    if (optionalOr && call.target && args.length === 1) {
      // The argument is evaluated only when the target has no value.
      const target = this.visit(call.target);
      const name = `@or${e.id}`;
      const present = call.function === 'orValue' ? this.call('@optValue', [this.ident(name)]) : this.ident(name);
      const choose = this.call('_?_:_', [this.call('@optHas', [this.ident(name)]), present, this.segment(args[0]!)]);
      return { node: this.bind(name, target.node, choose), cost: target.cost, constant: false };
    }
    const qualified = fnName !== call.function;
    const target = call.target && !qualified ? this.visit(call.target) : undefined;
    const visited = args.map((a) => this.visit(a));
    const loweredArgs = visited.map((v) => v.node);
    const node = this.call(call.function, loweredArgs, qualified ? call.target : target?.node, e.id);
    const fixed = sum(visited) + (target?.cost ?? 0);
    if (CONVERSIONS.has(fnName) && !call.target && args.length === 1 && visited[0]!.constant) return { node, cost: 0, constant: true };
    if (fnName === '@in' && args[1]!.exprKind.case === 'listExpr' && visited[1]!.constant) {
      const elems = args[1]!.exprKind.value.elements;
      if (elems.length === 0) return { node: this.constant({ case: 'boolValue', value: false }), cost: 0, constant: true };
      // A set-membership test: only the left side costs.
      if (elems.every(isPrimitiveConstant)) return { node, cost: visited[0]!.cost, constant: false };
    }
    if (PLANNER_CALLS.has(call.function)) return { node, cost: fixed, constant: false };
    this.meter(e.id, { fixed: 0, dynamic: 'call', name: fnName, member: !!call.target && !qualified });
    return { node, cost: fixed, constant: false };
  }

  private comprehension(e: Expr, c: Extract<Expr['exprKind'], { case: 'comprehensionExpr' }>['value']): Visited {
    const range = this.visit(c.iterRange!);
    const init = this.visit(c.accuInit!);
    const loop = new Map<string, Expr | null>([[c.accuVar, null]]);
    let iterVar = c.iterVar;
    let rangeNode = range.node;
    if (c.iterVar2) {
      iterVar = `@kv${e.id}`;
      rangeNode = this.call('@pairs', [range.node]);
      const read = (i: bigint) => this.call('_[_]', [this.ident(iterVar), this.constant({ case: 'int64Value', value: i })]);
      loop.set(c.iterVar, read(0n));
      loop.set(c.iterVar2, read(1n));
    } else {
      loop.set(c.iterVar, null);
    }
    this.scopes.push(loop);
    const cond = this.segment(c.loopCondition!);
    const step = this.segment(c.loopStep!);
    this.scopes.pop();
    this.scopes.push(new Map([[c.accuVar, null]]));
    const result = this.visit(c.result!);
    this.scopes.pop();
    const node = this.expr(
      {
        case: 'comprehensionExpr',
        value: create(Expr_ComprehensionSchema, {
          iterRange: rangeNode,
          iterVar,
          accuVar: c.accuVar,
          accuInit: init.node,
          loopCondition: cond,
          loopStep: step,
          result: result.node,
        }),
      },
      e.id,
    );
    return { node, cost: range.cost + init.cost + result.cost, constant: false };
  }
}

function sum(vs: Visited[]): number {
  return vs.reduce((n, v) => n + v.cost, 0);
}

/** An identifier followed by selections and indexes: what cel-go plans as one attribute. */
function isAttribute(e: Expr): boolean {
  const k = e.exprKind;
  if (k.case === 'identExpr') return true;
  if (k.case === 'selectExpr') return !k.value.testOnly && isAttribute(k.value.operand!);
  if (k.case === 'callExpr' && (k.value.function === '_[_]' || k.value.function === '_?._' || k.value.function === '_[?_]')) return isAttribute(k.value.args[0]!);
  return false;
}

/** Selections and indexes on a value that is no attribute make a relative attribute, one more unit (but not as a branch of ?:). */
function relativeCost(operand: Expr, branch: boolean): number {
  if (branch) return 0;
  const k = operand.exprKind;
  if (k.case === 'identExpr' || (k.case === 'selectExpr' && !k.value.testOnly)) return 0;
  if (k.case === 'callExpr' && ['_[_]', '_?._', '_[?_]', '_?_:_'].includes(k.value.function)) return 0;
  return 1;
}

function isPrimitiveConstant(e: Expr): boolean {
  const k = e.exprKind;
  return k.case === 'constExpr' && k.value.constantKind.case !== 'bytesValue' && k.value.constantKind.case !== 'nullValue';
}

export function lower(expr: Expr, checked: Checked): Lowered {
  const l = new Lowerer(checked, maxId(expr));
  return { expr: l.segment(expr), costs: l.costs };
}
