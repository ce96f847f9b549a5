// The parts of kube-apiserver's CRD schema validation that decide whether a CRD is accepted:
// structural schemas (every specified field has a type) and x-kubernetes-validations rules that
// are well formed, compile against the schema, stay within the cost limits (10,000,000 per rule,
// 100,000,000 for the whole schema, each rule's estimate multiplied by how many times it can run
// in one object) and only use oldSelf where the old value can be correlated (not inside set or
// atomic lists). Errors come in kube-apiserver's order: schema errors, then rule errors.
import { RawBadValue, fieldErr, type FieldError } from '../api/errors.ts';
import { compiledRules, type CompiledRule } from '../objects/schema/cel/compile.ts';
import { MAX_U64, multiplySaturating } from '../objects/schema/cel/cost.ts';
import { validFieldPath } from '../objects/schema/cel/field-path.ts';
import type { JSONSchemaProps, ValidationRule } from './types.ts';

const RULE_COST_LIMIT = 10_000_000n;
const CRD_COST_LIMIT = 100_000_000n;
const REASONS = ['FieldValueDuplicate', 'FieldValueForbidden', 'FieldValueInvalid', 'FieldValueRequired'];

interface Found {
  schema: FieldError[];
  cel: FieldError[];
}

interface Ctx {
  /** Whether CEL rules are checked at all (not when the schema is not structural). */
  cel: boolean;
  total: bigint;
  expensive: { path: string; cost: bigint }[];
}

export function crdSchemaErrors(root: JSONSchemaProps, base: string): FieldError[] {
  const structural: FieldError[] = [];
  if (!root.type) structural.push(fieldErr.required(`${base}.type`, 'must not be empty at the root'));
  else if (root.type !== 'object') structural.push(fieldErr.invalid(`${base}.type`, root.type, 'must be object at the root'));
  structuralErrors(root, base, structural);
  const ctx: Ctx = { cel: structural.length === 0, total: 0n, expensive: [] };
  const found = walk(root, base, true, undefined, 1n, ctx);
  const errs = [...structural, ...found.schema, ...found.cel];
  if (ctx.total > CRD_COST_LIMIT) {
    for (const e of ctx.expensive) errs.push(fieldErr.forbidden(e.path, 'contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema'));
    errs.push(fieldErr.forbidden(base, costMessage('x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema', ctx.total, CRD_COST_LIMIT)));
  }
  return errs;
}

function typeOptional(s: JSONSchemaProps): boolean {
  return !!s['x-kubernetes-int-or-string'] || !!s['x-kubernetes-preserve-unknown-fields'];
}

function structuralErrors(s: JSONSchemaProps, path: string, errs: FieldError[]): void {
  if (s.properties && s.additionalProperties !== undefined && s.additionalProperties !== false) {
    errs.push(fieldErr.forbidden(`${path}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'));
  }
  for (const [name, prop] of Object.entries(s.properties ?? {})) {
    const p = `${path}.properties[${name}]`;
    if (!prop.type && !typeOptional(prop)) errs.push(fieldErr.required(`${p}.type`, 'must not be empty for specified object fields'));
    structuralErrors(prop, p, errs);
  }
  if (s.items) {
    if (!s.items.type && !typeOptional(s.items)) errs.push(fieldErr.required(`${path}.items.type`, 'must not be empty for specified array items'));
    structuralErrors(s.items, `${path}.items`, errs);
  }
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    const p = `${path}.additionalProperties`;
    if (!s.additionalProperties.type && !typeOptional(s.additionalProperties)) errs.push(fieldErr.required(`${p}.type`, 'must not be empty for specified object fields'));
    structuralErrors(s.additionalProperties, p, errs);
  }
}

/** How many values a child can have per value of its parent (undefined: unbounded). */
function maxElements(s: JSONSchemaProps): bigint | undefined {
  if (s.type === 'object') {
    if (s.additionalProperties !== undefined && s.additionalProperties !== false) return s.maxProperties !== undefined ? BigInt(Math.max(0, s.maxProperties)) : undefined;
    return 1n;
  }
  if (s.type === 'array') return s.maxItems !== undefined ? BigInt(Math.max(0, s.maxItems)) : undefined;
  return 1n;
}

function childCardinality(parent: JSONSchemaProps, card: bigint | undefined): bigint | undefined {
  if (card === undefined) return undefined;
  const m = maxElements(parent);
  return m === undefined ? undefined : multiplySaturating(card, m);
}

/** A ValidationRule as kube-apiserver prints it in errors (encoding/json of its Go struct). */
function ruleValue(r: ValidationRule): RawBadValue {
  const json = JSON.stringify({
    Rule: r.rule ?? '',
    Message: r.message ?? '',
    MessageExpression: r.messageExpression ?? '',
    Reason: r.reason ?? null,
    FieldPath: r.fieldPath ?? '',
    OptionalOldSelf: r.optionalOldSelf ?? null,
  });
  return new RawBadValue(json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

function goFloat(x: number, digits?: number): string {
  return digits === undefined ? x.toFixed(6) : x.toFixed(digits);
}

export function costMessage(what: string, cost: bigint, limit: bigint): string {
  const f = Number(cost) / Number(limit);
  const factor = f > 100 ? 'more than 100x' : f < 1.5 ? `${goFloat(f)}x` : `${goFloat(f, 1)}x`;
  return `${what} exceeds budget by factor of ${factor} (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)`;
}

function hasNewlines(s: string): boolean {
  return /[\n\r]/.test(s);
}

function ruleSchemaErrors(s: JSONSchemaProps, path: string): FieldError[] {
  const errs: FieldError[] = [];
  (s['x-kubernetes-validations'] ?? []).forEach((r, i) => {
    const p = `${path}.x-kubernetes-validations[${i}]`;
    const rule = (r.rule ?? '').trim();
    const message = (r.message ?? '').trim();
    if (!rule) errs.push(fieldErr.required(`${p}.rule`, 'rule is not specified'));
    else if (r.message && !message) errs.push(fieldErr.invalid(`${p}.message`, r.message, 'must be non-empty if specified'));
    else if (hasNewlines(message)) errs.push(fieldErr.invalid(`${p}.message`, r.message, 'must not contain line breaks'));
    else if (hasNewlines(rule) && !message) errs.push(fieldErr.required(`${p}.message`, 'message must be specified if rule contains line breaks'));
    if (r.messageExpression && !r.messageExpression.trim()) errs.push(fieldErr.required(`${p}.messageExpression`, 'messageExpression must be non-empty if specified'));
    if (r.reason !== undefined && !REASONS.includes(r.reason)) errs.push(fieldErr.notSupported(`${p}.reason`, r.reason, REASONS));
    if (r.fieldPath && !r.fieldPath.trim()) errs.push(fieldErr.invalid(`${p}.fieldPath`, r.fieldPath, 'must be non-empty if specified'));
    if (r.fieldPath && hasNewlines(r.fieldPath)) errs.push(fieldErr.invalid(`${p}.fieldPath`, r.fieldPath, 'must not contain line breaks'));
    if (r.fieldPath && validFieldPath(r.fieldPath, s) instanceof Error) errs.push(fieldErr.invalid(`${p}.fieldPath`, r.fieldPath, 'must be a valid path'));
  });
  return errs;
}

function ruleCelErrors(s: JSONSchemaProps, path: string, isRoot: boolean, uncorrelatableAt: string | undefined, card: bigint | undefined, ctx: Ctx): FieldError[] {
  const errs: FieldError[] = [];
  const compiled = compiledRules(s, isRoot || !!s['x-kubernetes-embedded-resource']);
  compiled.rules.forEach((c: CompiledRule, i) => {
    const p = `${path}.x-kubernetes-validations[${i}]`;
    const cost = c.maxCost === 0n ? 0n : multiplySaturating(c.maxCost, card ?? c.maxCardinality);
    if (cost > RULE_COST_LIMIT) errs.push(fieldErr.forbidden(`${p}.rule`, costMessage('estimated rule cost', cost, RULE_COST_LIMIT)));
    observe(ctx, `${p}.rule`, cost);
    if (c.error) errs.push(fieldErr.invalid(`${p}.rule`, ruleValue(c.rule), c.error));
    if (c.messageError) {
      errs.push(fieldErr.invalid(`${p}.messageExpression`, ruleValue(c.rule), c.messageError));
    } else if (c.messageProgram) {
      if (c.messageMaxCost > RULE_COST_LIMIT) errs.push(fieldErr.forbidden(`${p}.messageExpression`, costMessage('estimated messageExpression cost', c.messageMaxCost, RULE_COST_LIMIT)));
      observe(ctx, `${p}.messageExpression`, c.messageMaxCost);
    }
    if (c.usesOldSelf) {
      if (uncorrelatableAt) errs.push(fieldErr.invalid(`${p}.rule`, c.rule.rule, `oldSelf cannot be used on the uncorrelatable portion of the schema within ${uncorrelatableAt}`));
    } else if (c.rule.optionalOldSelf !== undefined) {
      errs.push(fieldErr.invalid(`${p}.optionalOldSelf`, c.rule.optionalOldSelf, 'may not be set if oldSelf is not used in rule'));
    }
  });
  return errs;
}

function observe(ctx: Ctx, path: string, cost: bigint): void {
  ctx.total = ctx.total + cost > MAX_U64 ? MAX_U64 : ctx.total + cost;
  if (cost < CRD_COST_LIMIT / 100n) return;
  ctx.expensive.push({ path, cost });
  ctx.expensive.sort((a, b) => (a.cost > b.cost ? -1 : a.cost < b.cost ? 1 : 0));
  ctx.expensive.length = Math.min(ctx.expensive.length, 4);
}

/** `uncorrelatableAt` is the list path under which oldSelf has nothing to compare with. */
function walk(s: JSONSchemaProps, path: string, isRoot: boolean, uncorrelatableAt: string | undefined, card: bigint | undefined, ctx: Ctx): Found {
  const found: Found = { schema: [], cel: [] };
  const add = (f: Found) => {
    found.schema.push(...f.schema);
    found.cel.push(...f.cel);
  };
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    add(walk(s.additionalProperties, `${path}.additionalProperties`, false, uncorrelatableAt, childCardinality(s, card), ctx));
  }
  for (const [name, prop] of Object.entries(s.properties ?? {})) {
    add(walk(prop, `${path}.properties[${name}]`, false, uncorrelatableAt, childCardinality(s, card), ctx));
  }
  if (s.items) {
    const listType = s['x-kubernetes-list-type'];
    add(walk(s.items, `${path}.items`, false, uncorrelatableAt ?? (listType === 'map' ? undefined : path), childCardinality(s, card), ctx));
  }
  if (s['x-kubernetes-validations']?.length) {
    found.schema.push(...ruleSchemaErrors(s, path));
    if (ctx.cel && found.schema.length === 0) found.cel.push(...ruleCelErrors(s, path, isRoot, uncorrelatableAt, card, ctx));
  }
  return found;
}
