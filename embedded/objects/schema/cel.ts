// x-kubernetes-validations on writes: walks the object and its schema together and runs each
// node's compiled rules (cel/compile.ts) with `self` bound to the value there and `oldSelf` to
// the same place in the previous object (transition rules run on updates only, unless the rule
// sets optionalOldSelf, when oldSelf is an optional), metering each evaluation against
// kube-apiserver's limits: 1,000,000 units per rule, 10,000,000 for all rules of one object.
// Failures read like kube-apiserver's:
//   spec: Invalid value: "object": no such key: zz evaluating rule: self.zz == 1
//   spec.s: Forbidden: got abc                 (reason, fieldPath and messageExpression applied)
import { OMIT_VALUE, fieldErr, type FieldError } from '../../api/errors.ts';
import type { JSONSchemaProps, ValidationRule } from '../../kinds/types.ts';
import { isCelError } from '@bufbuild/cel';
import { compiledRules, type CompiledRule } from './cel/compile.ts';
import { runtimeMessage } from './cel/errors.ts';
import { COST_LIMIT_EXCEEDED } from './cel/meter.ts';
import { optionalNone, optionalOf } from './cel/opaque.ts';
import { toCel } from './cel/values.ts';
import { childPath, indexPath, isObject, keyPath } from './walk.ts';

/** The longest message a messageExpression may produce. */
const MAX_MESSAGE_EXPRESSION_BYTES = 5 * 1024;

/** True when any node of the schema carries x-kubernetes-validations. */
export function hasCelRules(schema: JSONSchemaProps | undefined): boolean {
  if (!schema) return false;
  if (schema['x-kubernetes-validations']?.length) return true;
  if (Object.values(schema.properties ?? {}).some(hasCelRules)) return true;
  if (schema.items && hasCelRules(schema.items)) return true;
  if ((schema.allOf ?? []).some(hasCelRules)) return true;
  return typeof schema.additionalProperties === 'object' && hasCelRules(schema.additionalProperties);
}

/** Errors that stop the rules from running (kube-apiserver's hasBlockingErr). */
export function blocksRules(errs: FieldError[]): boolean {
  return errs.some((e) =>
    ['FieldValueNotSupported', 'FieldValueRequired', 'FieldValueTooLong', 'FieldValueTooMany', 'FieldValueTypeInvalid'].includes(e.type),
  );
}

/** What kube-apiserver reports instead of rule results when the object already failed. */
export const RULES_NOT_CHECKED: FieldError = {
  type: 'FieldValueInvalid',
  field: '<nil>',
  badValue: null,
  detail: 'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
};

export function validateCel(obj: unknown, old: unknown, schema: JSONSchemaProps): FieldError[] {
  const errs: FieldError[] = [];
  try {
    walk(obj, old, schema, '', errs, true, { remaining: RUNTIME_COST_BUDGET });
  } catch (err) {
    if (!(err instanceof BudgetExhausted)) throw err;
  }
  // apiserver's root field path is a nil field.Path, which prints as <nil>.
  for (const e of errs) if (e.field === '') e.field = '<nil>';
  return errs;
}

/** kube-apiserver's ruleErrorString: the message when there is one, else the rule. */
function ruleText(rule: ValidationRule): string {
  return rule.message?.trim() ? rule.message.trim() : rule.rule.trim();
}

function defaultMessage(rule: ValidationRule): string {
  return rule.message ? rule.message.trim() : `failed rule: ${rule.rule.trim()}`;
}

function failure(rule: ValidationRule, field: string, value: unknown, detail: string): FieldError {
  switch (rule.reason) {
    case 'FieldValueForbidden':
      return fieldErr.forbidden(field, detail);
    case 'FieldValueRequired':
      return fieldErr.required(field, detail);
    case 'FieldValueDuplicate':
      return fieldErr.duplicate(field, value);
    default:
      return fieldErr.invalid(field, value, detail);
  }
}

/** kube-apiserver's runtime budget for all the rules of one object (celconfig.RuntimeCELCostBudget). */
export const RUNTIME_COST_BUDGET = 10_000_000;

const OUT_OF_BUDGET = 'validation failed due to running out of cost budget, no further validation rules will be run';

/** What is left of the object's budget; below zero, no further rule runs. */
interface Budget {
  remaining: number;
}

/** Stops the walk: kube-apiserver returns at once when a rule exhausts the budget. */
class BudgetExhausted extends Error {}

type Message = { ok: true; text: string } | { ok: false; fatal?: FieldError };

/** The messageExpression's text; when it cannot be used the rule's message is, unless it exhausts the budget. */
function evaluatedMessage(c: CompiledRule, bindings: Record<string, unknown>, budget: Budget, field: string, type: string): Message {
  if (!c.messageProgram) return { ok: false };
  const run = c.messageProgram(bindings);
  if (run.cost > budget.remaining) {
    return { ok: false, fatal: fieldErr.invalid(field, type, 'messageExpression evaluation failed due to running out of cost budget, no further validation rules will be run') };
  }
  if (run.exceeded) {
    return { ok: false, fatal: fieldErr.invalid(field, type, `no further validation rules will be run due to call cost exceeds limit for messageExpression: ${JSON.stringify(c.rule.messageExpression)}`) };
  }
  budget.remaining -= run.cost;
  const r = run.result;
  if (isCelError(r) || typeof r !== 'string') return { ok: false };
  const msg = r.trim();
  if (!msg || msg.includes('\n') || Buffer.byteLength(msg) > MAX_MESSAGE_EXPRESSION_BYTES) return { ok: false };
  return { ok: true, text: msg };
}

function check(value: unknown, old: unknown, hasOld: boolean, schema: JSONSchemaProps, isRoot: boolean, path: string, errs: FieldError[], budget: Budget): void {
  const { decl, rules } = compiledRules(schema, isRoot);
  const type = schema.type ?? '';
  const badValue = type === 'object' || type === 'array' ? OMIT_VALUE : value;
  if (!rules.length) return;
  if (budget.remaining <= 0) {
    errs.push(fieldErr.invalid(path, type, OUT_OF_BUDGET));
    throw new BudgetExhausted();
  }
  let self: unknown;
  let oldSelf: unknown;
  let converted = false;
  for (const c of rules) {
    if (c.error) {
      errs.push(fieldErr.invalid(path, type, `rule compile error: ${c.error}`));
      continue;
    }
    if (!c.program) continue;
    const optionalOld = c.rule.optionalOldSelf === true;
    if (c.usesOldSelf && !hasOld && !optionalOld) continue;
    if (!converted) {
      self = toCel(value, decl);
      oldSelf = hasOld ? toCel(old, decl) : undefined;
      converted = true;
    }
    const bindings: Record<string, unknown> = { self };
    if (optionalOld) bindings.oldSelf = hasOld ? optionalOf(oldSelf) : optionalNone();
    else if (hasOld) bindings.oldSelf = oldSelf;
    const run = c.program(bindings);
    if (run.cost > budget.remaining) {
      errs.push(fieldErr.invalid(path, type, OUT_OF_BUDGET));
      throw new BudgetExhausted();
    }
    budget.remaining -= run.cost;
    if (run.exceeded) {
      errs.push(fieldErr.invalid(path, type, `'${COST_LIMIT_EXCEEDED}': no further validation rules will be run due to call cost exceeds limit for rule: ${ruleText(c.rule)}`));
      throw new BudgetExhausted();
    }
    const result = run.result;
    if (isCelError(result)) {
      const why = runtimeMessage(result);
      const detail =
        why === 'no such overload'
          ? `'${why}': call arguments did not match a supported operator, function or macro signature for rule: ${ruleText(c.rule)}`
          : `${why} evaluating rule: ${ruleText(c.rule)}`;
      errs.push(fieldErr.invalid(path, type, detail));
      continue;
    }
    if (result === true) continue;
    const field = c.fieldPath ? childPath(path, c.fieldPath) : path;
    // kube-apiserver evaluates messages with the plain activation, oldSelf only when there is one.
    const message = evaluatedMessage(c, hasOld ? { self, oldSelf } : { self }, budget, field, type);
    if (!message.ok && message.fatal) {
      errs.push(message.fatal);
      throw new BudgetExhausted();
    }
    errs.push(failure(c.rule, field, badValue, message.ok ? message.text : defaultMessage(c.rule)));
  }
}

/** Old list items that correlate with new ones: only in map-type lists, by their keys. */
function correlatedItem(schema: JSONSchemaProps, old: unknown, item: unknown): unknown {
  if (schema['x-kubernetes-list-type'] !== 'map' || !Array.isArray(old) || !isObject(item)) return undefined;
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  return old.find((o) => isObject(o) && keys.every((k) => o[k] === item[k]));
}

function walk(value: unknown, old: unknown, schema: JSONSchemaProps, path: string, errs: FieldError[], isRoot: boolean, budget: Budget): void {
  if (value === undefined || value === null) return;
  const hasOld = old !== undefined && old !== null;
  if (schema['x-kubernetes-validations']?.length) check(value, old, hasOld, schema, isRoot || !!schema['x-kubernetes-embedded-resource'], path, errs, budget);
  for (const sub of schema.allOf ?? []) walk(value, old, sub, path, errs, false, budget);

  if (Array.isArray(value)) {
    const items = schema.items;
    if (!items) return;
    value.forEach((item, i) => walk(item, correlatedItem(schema, old, item), items, indexPath(path, i), errs, false, budget));
    return;
  }
  if (!isObject(value)) return;
  // Children of an atomic map have no previous value to compare with.
  const correlatable = (schema['x-kubernetes-map-type'] ?? 'granular') === 'granular';
  const oldObj = correlatable && isObject(old) ? old : undefined;
  const ap = schema.additionalProperties;
  if (ap && typeof ap === 'object') {
    for (const [key, child] of Object.entries(value)) walk(child, oldObj?.[key], ap, keyPath(path, key), errs, false, budget);
  }
  if (schema.properties) {
    for (const [key, child] of Object.entries(value)) {
      const prop = schema.properties[key];
      if (!prop || (isRoot && key === 'metadata')) continue;
      walk(child, oldObj?.[key], prop, childPath(path, key), errs, false, budget);
    }
  }
}
