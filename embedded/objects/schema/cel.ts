// x-kubernetes-validations on writes: walks the object and its schema together and runs each
// node's compiled rules (cel/compile.ts) with `self` bound to the value there and `oldSelf` to
// the same place in the previous object (transition rules run on updates only, unless the rule
// sets optionalOldSelf, when oldSelf is an optional). Failures read like kube-apiserver's:
//   spec: Invalid value: "object": no such key: zz evaluating rule: self.zz == 1
//   spec.s: Forbidden: got abc                 (reason, fieldPath and messageExpression applied)
import { OMIT_VALUE, fieldErr, type FieldError } from '../../api/errors.ts';
import type { JSONSchemaProps, ValidationRule } from '../../kinds/types.ts';
import { isCelError } from '@bufbuild/cel';
import { compiledRules, type CompiledRule } from './cel/compile.ts';
import { runtimeMessage } from './cel/errors.ts';
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
  walk(obj, old, schema, '', errs, true);
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

/** The messageExpression's text, or undefined when it cannot be used (the message is then). */
function evaluatedMessage(c: CompiledRule, bindings: Record<string, unknown>): string | undefined {
  if (!c.messageProgram) return undefined;
  const r = c.messageProgram(bindings);
  if (isCelError(r) || typeof r !== 'string') return undefined;
  const msg = r.trim();
  if (!msg || msg.includes('\n') || Buffer.byteLength(msg) > MAX_MESSAGE_EXPRESSION_BYTES) return undefined;
  return msg;
}

function check(value: unknown, old: unknown, hasOld: boolean, schema: JSONSchemaProps, isRoot: boolean, path: string, errs: FieldError[]): void {
  const { decl, rules } = compiledRules(schema, isRoot);
  const type = schema.type ?? '';
  const badValue = type === 'object' || type === 'array' ? OMIT_VALUE : value;
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
    const result = c.program(bindings);
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
    const detail = evaluatedMessage(c, hasOld ? { self, oldSelf } : { self }) ?? defaultMessage(c.rule);
    errs.push(failure(c.rule, field, badValue, detail));
  }
}

/** Old list items that correlate with new ones: only in map-type lists, by their keys. */
function correlatedItem(schema: JSONSchemaProps, old: unknown, item: unknown): unknown {
  if (schema['x-kubernetes-list-type'] !== 'map' || !Array.isArray(old) || !isObject(item)) return undefined;
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  return old.find((o) => isObject(o) && keys.every((k) => o[k] === item[k]));
}

function walk(value: unknown, old: unknown, schema: JSONSchemaProps, path: string, errs: FieldError[], isRoot: boolean): void {
  if (value === undefined || value === null) return;
  const hasOld = old !== undefined && old !== null;
  if (schema['x-kubernetes-validations']?.length) check(value, old, hasOld, schema, isRoot || !!schema['x-kubernetes-embedded-resource'], path, errs);
  for (const sub of schema.allOf ?? []) walk(value, old, sub, path, errs, false);

  if (Array.isArray(value)) {
    const items = schema.items;
    if (!items) return;
    value.forEach((item, i) => walk(item, correlatedItem(schema, old, item), items, indexPath(path, i), errs, false));
    return;
  }
  if (!isObject(value)) return;
  const oldObj = isObject(old) ? old : undefined;
  const ap = schema.additionalProperties;
  if (ap && typeof ap === 'object') {
    for (const [key, child] of Object.entries(value)) walk(child, oldObj?.[key], ap, keyPath(path, key), errs, false);
  }
  if (schema.properties) {
    for (const [key, child] of Object.entries(value)) {
      const prop = schema.properties[key];
      if (!prop || (isRoot && key === 'metadata')) continue;
      walk(child, oldObj?.[key], prop, childPath(path, key), errs, false);
    }
  }
}
