// Pruning: fields a structural schema does not specify are dropped (unless the schema says
// x-kubernetes-preserve-unknown-fields). The dropped paths are returned so strict field
// validation can reject them and warn mode can name them.
import type { JSONSchemaProps } from '../../kinds/types.ts';
import { isObject, preservesUnknown } from './walk.ts';

const ROOT_META = ['apiVersion', 'kind', 'metadata'];

/**
 * Mutates `value` (a private copy). `isRoot` keeps apiVersion, kind and metadata, which every
 * object has whether or not its schema lists them; embedded resources keep them too.
 */
export function prune(value: unknown, schema: JSONSchemaProps | undefined, path = '', isRoot = true): string[] {
  const dropped: string[] = [];
  walk(value, schema, path, isRoot, dropped);
  return dropped;
}

function join(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}

function walk(value: unknown, schema: JSONSchemaProps | undefined, path: string, keepMeta: boolean, dropped: string[]): void {
  if (!schema) return;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => walk(item, schema.items, `${path}[${i}]`, !!schema.items?.['x-kubernetes-embedded-resource'], dropped));
    return;
  }
  if (!isObject(value)) return;
  const props = schema.properties;
  const ap = schema.additionalProperties;
  const preserve = preservesUnknown(schema);
  for (const key of Object.keys(value)) {
    const child = props?.[key];
    if (child) {
      walk(value[key], child, join(path, key), !!child['x-kubernetes-embedded-resource'], dropped);
      continue;
    }
    if (ap && typeof ap === 'object') {
      walk(value[key], ap, join(path, key), !!ap['x-kubernetes-embedded-resource'], dropped);
      continue;
    }
    if (ap === true || preserve) continue;
    if (keepMeta && ROOT_META.includes(key)) continue;
    if (!props && !schema.type) continue; // an untyped schema node accepts anything
    delete value[key];
    dropped.push(join(path, key));
  }
}
