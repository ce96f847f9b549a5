// Compiling a schema node's x-kubernetes-validations the way kube-apiserver does: parse, type
// check against the node's CEL type (`self`, and `oldSelf` plain or optional), require a bool
// (a string for messageExpression), estimate the worst-case cost, normalize fieldPath. Results
// are kept per schema node, so each rule is compiled once per CRD version.
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import type { JSONSchemaProps, ValidationRule } from '../../../kinds/types.ts';
import { checkExpr, constantRegexError, formatIssues } from './check.ts';
import { estimateCost } from './cost.ts';
import { MAX_REQUEST_BYTES, schemaDecl, type Decl } from './decl.ts';
import { METERED_ENV } from './env.ts';
import { validFieldPath } from './field-path.ts';
import { lower } from './lower.ts';
import { meteredProgram, type MeteredProgram } from './meter.ts';
import { parseRule } from './syntax.ts';
import { optional, type CelT } from './types.ts';

export type Program = MeteredProgram;

export interface CompiledRule {
  rule: ValidationRule;
  /** Absent for an empty rule, or when compilation failed. */
  program?: Program;
  /** Why the rule cannot run (kube-apiserver's compilation error detail). */
  error?: string;
  usesOldSelf: boolean;
  /** Worst-case cost of one evaluation. */
  maxCost: bigint;
  /** How often the rule could run in one 3 MiB object, when nothing above bounds it. */
  maxCardinality: bigint;
  messageProgram?: Program;
  messageError?: string;
  messageMaxCost: bigint;
  /** fieldPath as a field path (`.a['b']` is `a.b`), when it names a field of the schema. */
  fieldPath?: string;
}

export interface CompiledNode {
  decl: Decl | undefined;
  rules: CompiledRule[];
}

interface Compiled {
  expr?: Expr;
  program?: Program;
  type?: CelT;
  usesOldSelf: boolean;
  issues?: string;
  checked?: ReturnType<typeof checkExpr>;
}

function compileExpr(src: string, vars: Record<string, CelT>): Compiled {
  const parsed = parseRule(src);
  if (!parsed.ok) return { usesOldSelf: false, issues: formatIssues(src, parsed.errors) };
  const { expr, positions } = parsed.parsed;
  const checked = checkExpr(expr, positions, src, vars);
  if (checked.errors) return { usesOldSelf: checked.usesOldSelf, issues: checked.errors };
  const lowered = lower(expr, checked);
  const program = meteredProgram(METERED_ENV, lowered.expr, lowered.costs);
  return { expr, program, type: checked.type, usesOldSelf: checked.usesOldSelf, checked };
}

/** kube-apiserver's maxCardinality: how many values of this minimum size a request can hold. */
export function maxCardinality(minSize: number): bigint {
  return BigInt(Math.floor(MAX_REQUEST_BYTES / (minSize + 1)));
}

export function compileRule(rule: ValidationRule, decl: Decl, schema: JSONSchemaProps): CompiledRule {
  const out: CompiledRule = { rule, usesOldSelf: false, maxCost: 0n, maxCardinality: 0n, messageMaxCost: 0n };
  if (!rule.rule?.trim()) return out;
  const vars: Record<string, CelT> = { self: decl.type, oldSelf: rule.optionalOldSelf ? optional(decl.type) : decl.type };
  const c = compileExpr(rule.rule, vars);
  if (c.issues) {
    out.error = `compilation failed: ${c.issues}`;
    return out;
  }
  if (c.type?.k !== 'bool') {
    out.error = 'cel expression must evaluate to a bool';
    return out;
  }
  const badPattern = constantRegexError(c.expr!);
  if (badPattern) {
    out.error = `program instantiation failed: ${badPattern}`;
    return out;
  }
  out.usesOldSelf = c.usesOldSelf;
  out.program = c.program;
  out.maxCost = estimateCost(c.expr!, c.checked!, decl);
  out.maxCardinality = maxCardinality(decl.minSize);
  if (rule.messageExpression) {
    const m = compileExpr(rule.messageExpression, vars);
    if (m.issues) {
      out.messageError = `messageExpression compilation failed: ${m.issues}`;
      return out;
    }
    if (m.type?.k !== 'string') {
      out.messageError = 'messageExpression must evaluate to a string';
      return out;
    }
    out.messageProgram = m.program;
    out.messageMaxCost = estimateCost(m.expr!, m.checked!, decl);
  }
  if (rule.fieldPath) {
    const p = validFieldPath(rule.fieldPath, schema);
    if (!(p instanceof Error)) out.fieldPath = p.path;
  }
  return out;
}

const cache = new WeakMap<JSONSchemaProps, CompiledNode>();
const rootCache = new WeakMap<JSONSchemaProps, CompiledNode>();

/** The node's rules, compiled once. `isResourceRoot` adds apiVersion, kind and metadata to self. */
export function compiledRules(schema: JSONSchemaProps, isResourceRoot: boolean): CompiledNode {
  const store = isResourceRoot ? rootCache : cache;
  const hit = store.get(schema);
  if (hit) return hit;
  const decl = schemaDecl(schema, isResourceRoot);
  const rules = (schema['x-kubernetes-validations'] ?? []).map((r) =>
    decl ? compileRule(r, decl, schema) : { rule: r, usesOldSelf: false, maxCost: 0n, maxCardinality: 0n, messageMaxCost: 0n, error: 'failed to convert to declType for CEL validation rules' },
  );
  const node = { decl, rules };
  store.set(schema, node);
  return node;
}

