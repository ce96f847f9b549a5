// Validates a value against an openAPIV3Schema the way kube-apiserver validates custom
// resources, producing field errors whose paths and messages match its output
// (`spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`).
import { fieldErr, type FieldError } from '../../api/errors.ts';
import type { JSONSchemaProps } from '../../kinds/types.ts';
import { checkFormat } from './formats.ts';
import { childPath, deepEqual, indexPath, isObject, jsonTypeOf, keyPath, preservesUnknown } from './walk.ts';

export interface ValidateOptions {
  /** Skip these top-level properties (metadata is validated by the metadata rules). */
  skipRootProperties?: string[];
}

export function validateValue(value: unknown, schema: JSONSchemaProps, path = '', opts: ValidateOptions = {}): FieldError[] {
  const errs: FieldError[] = [];
  walk(value, schema, path, errs, path === '' ? opts.skipRootProperties : undefined);
  return errs;
}

function typeMatches(value: unknown, type: string): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
    default:
      return true;
  }
}

function describe(path: string): string {
  return path || '<root>';
}

function walk(value: unknown, schema: JSONSchemaProps, path: string, errs: FieldError[], skip?: string[]): void {
  if (value === null || value === undefined) {
    if (schema.nullable || (!schema.type && !schema['x-kubernetes-int-or-string'])) return;
    if (schema.type) {
      errs.push(fieldErr.typeInvalid(path, 'null', `${describe(path)} in body must be of type ${schema.type}: "null"`));
    }
    return;
  }

  if (schema['x-kubernetes-int-or-string']) {
    if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) {
      errs.push(
        fieldErr.typeInvalid(path, jsonTypeOf(value), `${describe(path)} in body must be of type integer,string: "${jsonTypeOf(value)}"`),
      );
      return;
    }
  } else if (schema.type && !typeMatches(value, schema.type)) {
    const actual = jsonTypeOf(value);
    errs.push(fieldErr.typeInvalid(path, actual, `${describe(path)} in body must be of type ${schema.type}: "${actual}"`));
    return;
  }

  if (schema.enum && !schema.enum.some((e) => deepEqual(e, value))) {
    errs.push(fieldErr.notSupported(path, value, schema.enum));
  }

  if (typeof value === 'string') validateString(value, schema, path, errs);
  else if (typeof value === 'number') validateNumber(value, schema, path, errs);
  else if (Array.isArray(value)) validateArray(value, schema, path, errs);
  else if (isObject(value)) validateObject(value, schema, path, errs, skip);

  for (const sub of schema.allOf ?? []) walk(value, sub, path, errs);
  if (schema.anyOf?.length) {
    if (!schema.anyOf.some((s) => validateValue(value, s, path).length === 0)) {
      errs.push(fieldErr.invalid(path, value, `${describe(path)} in body must validate at least one schema (anyOf)`));
      // Like kube-openapi, also report why the first alternative failed.
      walk(value, schema.anyOf[0]!, path, errs);
    }
  }
  if (schema.oneOf?.length) {
    const matching = schema.oneOf.filter((s) => validateValue(value, s, path).length === 0).length;
    if (matching !== 1) {
      errs.push(fieldErr.invalid(path, value, `${describe(path)} in body must validate one and only one schema (oneOf)`));
      if (matching === 0) walk(value, schema.oneOf[0]!, path, errs);
    }
  }
  if (schema.not && validateValue(value, schema.not, path).length === 0) {
    errs.push(fieldErr.invalid(path, value, `${describe(path)} in body must not validate the schema (not)`));
  }
}

function validateString(value: string, schema: JSONSchemaProps, path: string, errs: FieldError[]): void {
  // Like kube-openapi's string validator, the first failing check is the only one reported.
  const length = [...value].length;
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    errs.push(fieldErr.tooLong(path, `may not be more than ${schema.maxLength} bytes`));
    return;
  }
  if (schema.minLength !== undefined && length < schema.minLength) {
    errs.push(fieldErr.invalid(path, value, `${describe(path)} in body should be at least ${schema.minLength} chars long`));
    return;
  }
  if (schema.pattern !== undefined) {
    let re: RegExp | undefined;
    try {
      re = new RegExp(schema.pattern, 'u');
    } catch {
      re = undefined;
    }
    if (re && !re.test(value)) {
      errs.push(fieldErr.invalid(path, value, `${describe(path)} in body should match '${schema.pattern}'`));
      return;
    }
  }
  if (schema.format && !checkFormat(schema.format, value)) {
    errs.push(fieldErr.invalid(path, value, `${describe(path)} in body must be of type ${schema.format}: ${JSON.stringify(value)}`));
  }
}

function validateNumber(value: number, schema: JSONSchemaProps, path: string, errs: FieldError[]): void {
  if (schema.maximum !== undefined) {
    if (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum) {
      const rel = schema.exclusiveMaximum ? 'less than' : 'less than or equal to';
      errs.push(fieldErr.invalid(path, value, `${describe(path)} in body should be ${rel} ${schema.maximum}`));
    }
  }
  if (schema.minimum !== undefined) {
    if (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum) {
      const rel = schema.exclusiveMinimum ? 'greater than' : 'greater than or equal to';
      errs.push(fieldErr.invalid(path, value, `${describe(path)} in body should be ${rel} ${schema.minimum}`));
    }
  }
  if (schema.multipleOf !== undefined && schema.multipleOf !== 0) {
    const q = value / schema.multipleOf;
    if (Math.abs(q - Math.round(q)) > 1e-9) {
      errs.push(fieldErr.invalid(path, value, `${describe(path)} in body should be a multiple of ${schema.multipleOf}`));
    }
  }
}

function validateArray(value: unknown[], schema: JSONSchemaProps, path: string, errs: FieldError[]): void {
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    errs.push(fieldErr.tooMany(path, value.length, schema.maxItems));
  }
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    errs.push(fieldErr.invalid(path, value.length, `${describe(path)} in body should have at least ${schema.minItems} items`));
  }
  if (schema.uniqueItems) {
    for (let i = 0; i < value.length; i++) {
      if (value.slice(0, i).some((v) => deepEqual(v, value[i]))) {
        errs.push(fieldErr.duplicate(indexPath(path, i), value[i]));
      }
    }
  }
  const listType = schema['x-kubernetes-list-type'];
  if (listType === 'set') {
    for (let i = 0; i < value.length; i++) {
      if (value.slice(0, i).some((v) => deepEqual(v, value[i]))) errs.push(fieldErr.duplicate(indexPath(path, i), value[i]));
    }
  } else if (listType === 'map') {
    const keys = schema['x-kubernetes-list-map-keys'] ?? [];
    const seen = new Set<string>();
    value.forEach((item, i) => {
      if (!isObject(item)) return;
      const k: Record<string, unknown> = {};
      for (const key of keys) if (item[key] !== undefined) k[key] = item[key];
      const id = JSON.stringify(keys.map((key) => item[key] ?? null));
      if (seen.has(id)) errs.push(fieldErr.duplicate(indexPath(path, i), k));
      seen.add(id);
    });
  }
  if (schema.items) {
    value.forEach((item, i) => walk(item, schema.items!, indexPath(path, i), errs));
  }
}

function validateObject(
  value: Record<string, unknown>,
  schema: JSONSchemaProps,
  path: string,
  errs: FieldError[],
  skip?: string[],
): void {
  const keys = Object.keys(value);
  if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) {
    errs.push(fieldErr.tooMany(path, keys.length, schema.maxProperties));
  }
  if (schema.minProperties !== undefined && keys.length < schema.minProperties) {
    errs.push(fieldErr.invalid(path, keys.length, `${describe(path)} in body should have at least ${schema.minProperties} properties`));
  }
  for (const req of schema.required ?? []) {
    if (skip?.includes(req)) continue;
    if (value[req] === undefined) errs.push(fieldErr.required(childPath(path, req), ''));
  }
  const props = schema.properties ?? {};
  const additional = schema.additionalProperties;
  for (const key of keys) {
    if (skip?.includes(key)) continue;
    const p = props[key];
    if (p) {
      walk(value[key], p, childPath(path, key), errs);
    } else if (additional && typeof additional === 'object') {
      walk(value[key], additional, keyPath(path, key), errs);
    } else if (additional === false && !preservesUnknown(schema)) {
      errs.push(fieldErr.forbidden(childPath(path, key), 'additional property is not allowed'));
    }
  }
}
