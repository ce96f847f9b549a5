// Navigating a structural schema and naming fields the way apimachinery's field.Path prints them.
import type { JSONSchemaProps } from '../../kinds/types.ts';

export function childPath(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}

export function indexPath(parent: string, i: number): string {
  return `${parent}[${i}]`;
}

export function keyPath(parent: string, key: string): string {
  return `${parent}[${key}]`;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function preservesUnknown(schema: JSONSchemaProps | undefined): boolean {
  return schema?.['x-kubernetes-preserve-unknown-fields'] === true;
}

/** Schema of `key` inside an object schema, or undefined when the key is unknown. */
export function propertySchema(schema: JSONSchemaProps | undefined, key: string): JSONSchemaProps | undefined {
  if (!schema) return undefined;
  const p = schema.properties?.[key];
  if (p) return p;
  const ap = schema.additionalProperties;
  if (ap && typeof ap === 'object') return ap;
  if (ap === true) return {};
  return undefined;
}

/** True for objects that are maps (free keys) rather than structs (named properties). */
export function isMapSchema(schema: JSONSchemaProps | undefined): boolean {
  return !!schema && !schema.properties && (schema.additionalProperties === true || typeof schema.additionalProperties === 'object');
}

/** JSON type name of a value, as schema errors report it. */
export function jsonTypeOf(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ak = Object.keys(a as object);
  const bk = Object.keys(b as object);
  if (ak.length !== bk.length) return false;
  for (const k of ak) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

