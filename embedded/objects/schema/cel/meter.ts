// Runtime cost metering, as cel-go's cost tracker does it for kube-apiserver: every identifier,
// field selection and index costs 1, every list literal 10 and map literal 30 (constant ones
// nothing), every call what runtime-cost.ts says. The evaluator has no hooks for that, so the
// rule is planned against an environment whose function resolver reports each call it makes
// (by the id of the call's node) to the meter of the evaluation in progress; lower.ts put a
// call wherever a run of selections and identifiers needs counting.
import { celError, celFunc, CelScalar, plan, type CelEnv, type CelResult } from '@bufbuild/cel';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { costFunction, type CostFunction } from './runtime-cost.ts';
import { opaqueKind, payloadOf, type OptionalPayload } from './opaque.ts';

/** kube-apiserver's per-evaluation limit (celconfig.PerCallLimit). */
export const PER_CALL_LIMIT = 1_000_000;

export const COST_LIMIT_EXCEEDED = 'operation cancelled: actual cost limit exceeded';

/** How to count one evaluation of a node of the planned expression. */
export interface NodeCost {
  /** Units for the selections, identifiers and literals evaluated along with it. */
  fixed: number;
  /** 'call': the call's own cost; 'presence': 1 when an optional came back with a value. */
  dynamic?: 'call' | 'presence';
  /** The function's name as the checker resolved it (`ip.isCanonical`, `_+_`). */
  name?: string;
  member?: boolean;
  /** The call's cost rule, looked up once. */
  rule?: CostFunction;
}

export type CostPlan = Map<number, NodeCost>;

interface Meter {
  plan: CostPlan;
  cost: number;
  limit: number;
  exceeded: boolean;
}

type FuncResolver = CelEnv['funcs'];
type FuncGroup = NonNullable<ReturnType<FuncResolver['find']>>;

let active: Meter | undefined;

export const TICK = '@cost';

/** The identity function lower.ts wraps runs of counted nodes in. */
export const TICK_FUNC = celFunc(TICK, [CelScalar.DYN], CelScalar.DYN, (v: unknown) => v as never);

function charge(id: number, target: unknown, args: unknown[], result: CelResult): CelResult {
  const m = active;
  if (!m) return result;
  if (m.exceeded) return celError(COST_LIMIT_EXCEEDED, id);
  const node = m.plan.get(id);
  if (!node) return result;
  let cost = node.fixed;
  if (node.dynamic === 'call') {
    try {
      node.rule ??= costFunction(node.name ?? '', node.member ?? false);
      cost += node.rule(target === undefined ? args : [target, ...args], result);
    } catch {
      // A value of a shape no cost rule expects: cel-go's default.
      cost += 1;
    }
  } else if (node.dynamic === 'presence' && opaqueKind(result) === 'optional_type' && payloadOf<OptionalPayload>(result).present) {
    cost += 1;
  }
  m.cost += cost;
  if (m.cost > m.limit) {
    m.exceeded = true;
    return celError(COST_LIMIT_EXCEEDED, id);
  }
  return result;
}

function meteredGroup(group: FuncGroup): FuncGroup {
  return {
    name: group.name,
    [Symbol.iterator]: () => group[Symbol.iterator](),
    call(id: number, target: Parameters<FuncGroup['call']>[1], args: Parameters<FuncGroup['call']>[2]) {
      const result = group.call(id, target, args);
      return result === undefined ? result : charge(id, target, args, result);
    },
  };
}

/** The same environment, with every function call reported to the running meter. */
export function meteredEnv(env: CelEnv): CelEnv {
  const groups = new Map<string, FuncGroup | undefined>();
  const funcs = {
    [Symbol.iterator]: () => env.funcs[Symbol.iterator](),
    find(name: string) {
      if (!groups.has(name)) {
        const g = env.funcs.find(name);
        groups.set(name, g && meteredGroup(g));
      }
      return groups.get(name);
    },
  } as unknown as FuncResolver;
  return { namespace: env.namespace, registry: env.registry, variables: env.variables, funcs } as unknown as CelEnv;
}

export interface Evaluation {
  result: CelResult;
  /** Units spent, as kube-apiserver's ActualCost() reports them. */
  cost: number;
  /** The evaluation passed the limit and was stopped. */
  exceeded: boolean;
}

export type MeteredProgram = (bindings: Record<string, unknown>, limit?: number) => Evaluation;

export function meteredProgram(env: CelEnv, expr: Expr, costs: CostPlan): MeteredProgram {
  const run = plan(env, expr) as unknown as (b: Record<string, unknown>) => CelResult;
  return (bindings, limit = PER_CALL_LIMIT) => {
    const outer = active;
    const m: Meter = { plan: costs, cost: 0, limit, exceeded: false };
    active = m;
    let result: CelResult;
    try {
      result = run(bindings);
    } finally {
      active = outer;
    }
    return { result, cost: m.cost, exceeded: m.exceeded };
  };
}
