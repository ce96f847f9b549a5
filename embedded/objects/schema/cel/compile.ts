// Compiling a schema node's x-kubernetes-validations the way kube-apiserver does: parse, type
// check against the node's CEL type (`self`, and `oldSelf` plain or optional), require a bool
// (a string for messageExpression), estimate the worst-case cost, normalize fieldPath. Results
// are kept per schema node, so each rule is compiled once per CRD version.
import { parse, plan, type CelResult } from '@bufbuild/cel';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import type { JSONSchemaProps, ValidationRule } from '../../../kinds/types.ts';
import { checkExpr, constantRegexError, formatIssues } from './check.ts';
import { estimateCost } from './cost.ts';
import { MAX_REQUEST_BYTES, schemaDecl, type Decl } from './decl.ts';
import { ENV } from './env.ts';
import { validFieldPath } from './field-path.ts';
import { optional, type CelT } from './types.ts';

export type Program = (bindings: Record<string, unknown>) => CelResult;

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

function parseError(src: string, message: string): string {
  // @bufbuild/cel reports `<input>:line:col: what`; show it the way cel-go lays errors out.
  const m = /^<input>:(\d+):(\d+): ([\s\S]*)$/.exec(message);
  if (!m) return `ERROR: <input>:1:1: Syntax error: ${message}`;
  const line = Number(m[1]);
  const col = Number(m[2]);
  const offset = src.split('\n').slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + col - 1;
  return formatIssues(src, [{ offset, message: `Syntax error: ${m[3]}` }]);
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
  let parsed;
  try {
    parsed = parse(src);
  } catch (err) {
    return { usesOldSelf: false, issues: parseError(src, (err as Error).message) };
  }
  const checked = checkExpr(parsed, src, vars);
  if (checked.errors) return { usesOldSelf: checked.usesOldSelf, issues: checked.errors };
  const program = plan(ENV, parsed) as unknown as Program;
  return { expr: parsed.expr, program, type: checked.type, usesOldSelf: checked.usesOldSelf, checked };
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

