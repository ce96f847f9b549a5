// x-kubernetes-validations: evaluates each CEL rule where its schema node has a value, with
// `self` bound to that value and `oldSelf` to the same place in the previous object (transition
// rules run on updates only). Failures read like kube-apiserver's:
//   spec.runtime: Invalid value: "object": set exactly one of docker or proxmox
import { OMIT_VALUE, fieldErr, type FieldError } from '../../api/errors.ts';
import type { JSONSchemaProps, ValidationRule } from '../../kinds/types.ts';
import { CelError, evaluate, parseCel, usesOldSelf } from './cel-lang.ts';
import { childPath, indexPath, isObject, keyPath } from './walk.ts';

/** True when any node of the schema carries x-kubernetes-validations. */
export function hasCelRules(schema: JSONSchemaProps | undefined): boolean {
  if (!schema) return false;
  if (schema['x-kubernetes-validations']?.length) return true;
  if (Object.values(schema.properties ?? {}).some(hasCelRules)) return true;
  if (schema.items && hasCelRules(schema.items)) return true;
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
  return errs;
}

function schemaType(schema: JSONSchemaProps, value: unknown): string {
  if (schema.type) return schema.type;
  if (schema['x-kubernetes-int-or-string']) return typeof value === 'string' ? 'string' : 'integer';
  if (Array.isArray(value)) return 'array';
  if (isObject(value)) return 'object';
  return typeof value;
}

function ruleText(rule: ValidationRule): string {
  return rule.rule.trim();
}

function fieldFor(path: string, fieldPath: string | undefined): string {
  if (!fieldPath) return path;
  const suffix = fieldPath.startsWith('.') ? fieldPath : `.${fieldPath}`;
  return path ? `${path}${suffix}` : suffix.slice(1);
}

function failure(rule: ValidationRule, path: string, type: string, detail: string): FieldError {
  const field = fieldFor(path, rule.fieldPath);
  switch (rule.reason) {
    case 'FieldValueForbidden':
      return fieldErr.forbidden(field, detail);
    case 'FieldValueRequired':
      return fieldErr.required(field, detail);
    case 'FieldValueDuplicate':
      return fieldErr.duplicate(field, type);
    default:
      return fieldErr.invalid(field, OMIT_VALUE, detail);
  }
}

function check(rules: ValidationRule[], value: unknown, old: unknown, hasOld: boolean, schema: JSONSchemaProps, path: string, errs: FieldError[]): void {
  const type = schemaType(schema, value);
  for (const rule of rules) {
    let node;
    try {
      node = parseCel(rule.rule);
    } catch (err) {
      errs.push(fieldErr.invalid(path, OMIT_VALUE, `compilation failed: ${(err as Error).message} in rule: ${ruleText(rule)}`));
      continue;
    }
    const transition = usesOldSelf(node);
    if (transition && !hasOld && !rule.optionalOldSelf) continue;
    const env: Record<string, unknown> = { self: value };
    if (transition) env.oldSelf = hasOld ? old : null;
    let result: unknown;
    try {
      result = evaluate(node, env);
    } catch (err) {
      const why = err instanceof CelError ? err.message : String(err);
      errs.push(fieldErr.invalid(fieldFor(path, rule.fieldPath), OMIT_VALUE, `${why} evaluating rule: ${ruleText(rule)}`));
      continue;
    }
    if (result !== true) {
      errs.push(failure(rule, path, type, rule.message || `failed rule: ${ruleText(rule)}`));
    }
  }
}

function walk(value: unknown, old: unknown, schema: JSONSchemaProps, path: string, errs: FieldError[], hasOld: boolean): void {
  if (value === undefined || value === null) return;
  const rules = schema['x-kubernetes-validations'];
  if (rules?.length) check(rules, value, old, hasOld && old !== undefined && old !== null, schema, path, errs);

  if (Array.isArray(value)) {
    const items = schema.items;
    if (!items) return;
    const keys = schema['x-kubernetes-list-type'] === 'map' ? (schema['x-kubernetes-list-map-keys'] ?? []) : undefined;
    value.forEach((item, i) => {
      let oldItem: unknown;
      let correlated = false;
      if (keys && Array.isArray(old) && isObject(item)) {
        oldItem = old.find((o) => isObject(o) && keys.every((k) => o[k] === item[k]));
        correlated = oldItem !== undefined;
      }
      walk(item, oldItem, items, indexPath(path, i), errs, correlated);
    });
    return;
  }
  if (!isObject(value)) return;
  const oldObj = isObject(old) ? old : undefined;
  for (const [key, child] of Object.entries(value)) {
    const prop = schema.properties?.[key];
    if (prop) {
      if (path === '' && key === 'metadata') continue;
      walk(child, oldObj?.[key], prop, childPath(path, key), errs, !!oldObj && key in oldObj);
      continue;
    }
    const ap = schema.additionalProperties;
    if (ap && typeof ap === 'object') walk(child, oldObj?.[key], ap, keyPath(path, key), errs, !!oldObj && key in oldObj);
  }
}
