// What CEL sees of a structural schema node, as kube-apiserver derives it (apiserver's
// SchemaDeclType): the static type of `self`, and the size bounds the cost estimator multiplies
// by (maxLength, maxItems, maxProperties, or what a 3 MiB request could hold).
import type { JSONSchemaProps } from '../../../kinds/types.ts';
import { BOOL, BYTES, DOUBLE, DURATION, DYN, INT, STRING, TIMESTAMP, list, map, type CelT } from './types.ts';

/** The largest request kube-apiserver takes, which bounds every unbounded string, list and map. */
export const MAX_REQUEST_BYTES = 3 * 1024 * 1024;

const MAX_DURATION_JSON = 32;
const MAX_DATETIME_JSON = 32;
const MIN_DURATION_JSON = 3;
const JSON_DATE = 12;
const MIN_DATETIME_JSON = 21;
const MIN_STRING = 2;
const MIN_BOOL = 4;
const MIN_NUMBER = 1;

export interface Decl {
  type: CelT;
  /** Longest string (in bytes, 4 per declared character) or most list/map entries. */
  maxElements: number;
  /** The smallest JSON a value of this node serializes to. */
  minSize: number;
  /** Object properties by their CEL (escaped) names. */
  fields?: Map<string, Decl>;
  /** List items or map values. */
  elem?: Decl;
  key?: Decl;
  /** x-kubernetes-list-type set or map: `==` ignores order and `+` merges (and the map keys). */
  listType?: 'set' | 'map';
  mapKeys?: string[];
}

const RESERVED = new Set([
  'true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let',
  'loop', 'package', 'namespace', 'return', 'var', 'void', 'while',
]);

const escaped = new Map<string, string | undefined>();

/** A property name as CEL rules spell it (`foo-bar` is `foo__dash__bar`), or undefined if it cannot be named. */
export function escapeName(name: string): string | undefined {
  if (escaped.has(name)) return escaped.get(name);
  const e = escape(name);
  if (escaped.size > 10_000) escaped.clear();
  escaped.set(name, e);
  return e;
}

function escape(name: string): string | undefined {
  if (!name || (name[0]! >= '0' && name[0]! <= '9')) return undefined;
  if (RESERVED.has(name)) return `__${name}__`;
  if (!/^[A-Za-z0-9_./-]+$/.test(name)) return undefined;
  return name.replace(/__|[-./]/g, (s) => ({ __: '__underscores__', '.': '__dot__', '-': '__dash__', '/': '__slash__' })[s]!);
}

/** Map keys: apiserver declares them as plain strings with no size bound, which it estimates as 0. */
const STRING_DECL: Decl = { type: STRING, maxElements: 0, minSize: MIN_STRING };

/** The schema with apiVersion, kind and metadata.name/generateName, as rules at a resource root see it. */
function withTypeAndObjectMeta(s: JSONSchemaProps): JSONSchemaProps {
  const p = s.properties ?? {};
  if (
    p.kind?.type === 'string' &&
    p.apiVersion?.type === 'string' &&
    p.metadata?.type === 'object' &&
    p.metadata.properties?.name?.type === 'string' &&
    p.metadata.properties?.generateName?.type === 'string'
  ) {
    return s;
  }
  return {
    ...s,
    properties: {
      ...p,
      kind: { type: 'string' },
      apiVersion: { type: 'string' },
      metadata: { type: 'object', properties: { name: { type: 'string' }, generateName: { type: 'string' } } },
    },
  };
}

function nonNegative(n: number): number {
  return n < 0 ? 0 : n;
}

function maxStringPerRequest(s: JSONSchemaProps): number {
  if (s['x-kubernetes-int-or-string']) return MAX_REQUEST_BYTES - 2;
  switch (s.format) {
    case 'duration':
      return MAX_DURATION_JSON;
    case 'date':
      return JSON_DATE;
    case 'date-time':
      return MAX_DATETIME_JSON;
    default:
      return MAX_REQUEST_BYTES - 2;
  }
}

/** undefined where kube-apiserver has no CEL type either (an array without items, an untyped node). */
export function schemaDecl(s: JSONSchemaProps | undefined, isResourceRoot = false): Decl | undefined {
  if (!s) return undefined;
  if (s['x-kubernetes-int-or-string']) {
    const maxElements = s.maxLength !== undefined ? nonNegative(s.maxLength) * 4 : maxStringPerRequest(s);
    return { type: DYN, maxElements, minSize: 1 };
  }
  if (isResourceRoot) s = withTypeAndObjectMeta(s);
  switch (s.type) {
    case 'array': {
      if (!s.items) return undefined;
      const elem = schemaDecl(s.items, !!s.items['x-kubernetes-embedded-resource']);
      if (!elem) return undefined;
      const maxItems = s.maxItems !== undefined ? nonNegative(s.maxItems) : Math.floor((MAX_REQUEST_BYTES - 2) / (elem.minSize + 1));
      const listType = s['x-kubernetes-list-type'];
      const kind = listType === 'set' || listType === 'map' ? { listType, ...(listType === 'map' ? { mapKeys: s['x-kubernetes-list-map-keys'] ?? [] } : {}) } : {};
      return { type: list(elem.type), maxElements: maxItems, minSize: 2, elem, ...kind };
    }
    case 'object': {
      const ap = s.additionalProperties;
      if (ap && typeof ap === 'object') {
        const elem = schemaDecl(ap, !!ap['x-kubernetes-embedded-resource']);
        if (!elem) return undefined;
        const maxProps = s.maxProperties !== undefined ? nonNegative(s.maxProperties) : Math.floor((MAX_REQUEST_BYTES - 2) / (elem.minSize + 6));
        return { type: map(STRING, elem.type), maxElements: maxProps, minSize: 2, elem, key: STRING_DECL };
      }
      const fields = new Map<string, Decl>();
      const types = new Map<string, CelT>();
      const required = new Set(s.required ?? []);
      let minSize = 2;
      for (const [name, prop] of Object.entries(s.properties ?? {})) {
        const d = schemaDecl(prop, !!prop['x-kubernetes-embedded-resource']);
        if (!d) continue;
        const cel = escapeName(name);
        if (cel) {
          fields.set(cel, d);
          types.set(cel, d.type);
        }
        if (required.has(name) && prop.default === undefined) minSize += name.length + d.minSize + 4;
      }
      return { type: { k: 'object', name: 'object', fields: types }, maxElements: 0, minSize, fields };
    }
    case 'string': {
      switch (s.format) {
        case 'byte':
          return { type: BYTES, maxElements: s.maxLength !== undefined ? nonNegative(s.maxLength) : maxStringPerRequest(s), minSize: MIN_STRING };
        case 'duration':
          return { type: DURATION, maxElements: maxStringPerRequest(s), minSize: MIN_DURATION_JSON };
        case 'date':
          return { type: TIMESTAMP, maxElements: maxStringPerRequest(s), minSize: JSON_DATE };
        case 'date-time':
          return { type: TIMESTAMP, maxElements: maxStringPerRequest(s), minSize: MIN_DATETIME_JSON };
      }
      let maxElements: number;
      if (s.maxLength !== undefined) maxElements = nonNegative(s.maxLength) * 4;
      else if (s.enum?.length) maxElements = Math.max(0, ...s.enum.map((v) => (typeof v === 'string' ? Buffer.byteLength(v) : 0)));
      else maxElements = maxStringPerRequest(s);
      return { type: STRING, maxElements, minSize: MIN_STRING };
    }
    case 'boolean':
      return { type: BOOL, maxElements: 0, minSize: MIN_BOOL };
    case 'number':
      return { type: DOUBLE, maxElements: 0, minSize: MIN_NUMBER };
    case 'integer':
      return { type: INT, maxElements: 0, minSize: MIN_NUMBER };
  }
  return undefined;
}
