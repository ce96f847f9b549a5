// meta.k8s.io/v1 Table output, what `kubectl get` asks for: Name plus the kind's columns (the
// CRD's additionalPrinterColumns, or the built-in kind's own), cells computed on the server.
import type { KubeObject } from '../storage/store.ts';
import type { ResourceType } from '../kinds/types.ts';
import { ageOf } from './human-duration.ts';
import { evaluateJsonPath, parseJsonPath } from './jsonpath.ts';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface TableOptions {
  includeObject: IncludeObject;
  noHeaders?: boolean;
  now: Date;
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

const NAME_COLUMN = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace. Cannot be updated.',
  priority: 0,
};

export function columnsOf(rt: ResourceType): Record<string, unknown>[] {
  const extra = rt.table
    ? rt.table.columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 }))
    : (rt.printerColumns ?? []).map((c) => ({
        name: c.name,
        type: c.type,
        format: c.format ?? '',
        description: c.description || `Custom resource definition column (in JSONPath format): ${c.jsonPath}`,
        priority: c.priority ?? 0,
      }));
  return [NAME_COLUMN, ...extra];
}

/** Go's fmt %v of a JSON value, as client-go's JSONPath printer writes non-string results. */
function printValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(printValue).join(' ')}]`;
  if (typeof v === 'object') {
    const entries = Object.keys(v as object)
      .sort()
      .map((k) => `${k}:${printValue((v as Record<string, unknown>)[k])}`);
    return `map[${entries.join(' ')}]`;
  }
  return String(v);
}

function cellFor(type: string, value: unknown, now: Date): unknown {
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'string':
      return printValue(value);
    case 'integer':
      return typeof value === 'number' ? Math.trunc(value) : null;
    case 'number':
      return typeof value === 'number' ? value : null;
    case 'boolean':
      return typeof value === 'boolean' ? value : null;
    case 'date':
      return typeof value === 'string' ? (Number.isNaN(Date.parse(value)) ? '<invalid>' : ageOf(value, now)) : null;
    default:
      return null;
  }
}

const compiled = new WeakMap<object, ReturnType<typeof parseJsonPath>>();

function columnSteps(col: { jsonPath: string }): ReturnType<typeof parseJsonPath> | undefined {
  let steps = compiled.get(col);
  if (!steps) {
    try {
      steps = parseJsonPath(col.jsonPath);
    } catch {
      return undefined;
    }
    compiled.set(col, steps);
  }
  return steps;
}

export function rowCells(rt: ResourceType, obj: KubeObject, now: Date): unknown[] {
  const name = (obj.metadata as Record<string, unknown> | undefined)?.name ?? '';
  if (rt.table) return [name, ...rt.table.cells(obj, now)];
  return [
    name,
    ...(rt.printerColumns ?? []).map((col) => {
      const steps = columnSteps(col);
      if (!steps) return null;
      const results = evaluateJsonPath(steps, obj);
      return results.length ? cellFor(col.type, results[0], now) : null;
    }),
  ];
}

function rowObject(obj: KubeObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata ?? {} };
}

export function toTable(rt: ResourceType, objects: KubeObject[], listMeta: ListMeta, opts: TableOptions): Record<string, unknown> {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    ...(opts.noHeaders ? {} : { columnDefinitions: columnsOf(rt) }),
    rows: objects.map((o) => {
      const object = rowObject(o, opts.includeObject);
      return { cells: rowCells(rt, o, opts.now), ...(object ? { object } : {}) };
    }),
  };
}

export function toPartialMetadata(obj: KubeObject): Record<string, unknown> {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata ?? {} };
}
