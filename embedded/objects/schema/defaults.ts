// Applies `default` values from a structural schema, as kube-apiserver does for custom resources
// when decoding a request: a missing field with a default gets it, and a null in a non-nullable
// field with a default is replaced by the default.
import type { JSONSchemaProps } from '../../kinds/types.ts';
import { isObject } from './walk.ts';

/** Mutates `value` (a private copy) in place. */
export function applyDefaults(value: unknown, schema: JSONSchemaProps | undefined): void {
  if (!schema) return;
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) applyDefaults(item, schema.items);
    return;
  }
  if (!isObject(value)) return;
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const current = value[key];
    if (prop.default !== undefined && (current === undefined || (current === null && !prop.nullable))) {
      value[key] = structuredClone(prop.default);
    }
    if (value[key] !== undefined) applyDefaults(value[key], prop);
  }
  const ap = schema.additionalProperties;
  if (ap && typeof ap === 'object') {
    for (const key of Object.keys(value)) {
      if (schema.properties?.[key]) continue;
      applyDefaults(value[key], ap);
    }
  }
}
