// metadata.managedFields: who set which fields. Updates (create/update/patch) move ownership of
// the fields they change to their manager; applies (server-side apply) declare a manager's whole
// intent, merge it in, drop what the manager stopped declaring, and fail with 409 when another
// manager owns a field whose value would change (unless forced).
import { ApiError, badRequest } from '../../api/errors.ts';
import type { JSONSchemaProps } from '../../kinds/types.ts';
import { isObject } from '../schema/walk.ts';
import { FieldSet, pathString, type FieldPath } from './fieldset.ts';
import { compare, merge, removePaths, toFieldSet, valueAt, kindOf } from './typed.ts';

export interface ManagerEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time?: string;
  subresource?: string;
  set: FieldSet;
}

export interface Actor {
  manager: string;
  apiVersion: string;
  subresource?: string;
}

/** The identity of an entry, as kube-apiserver's BuildManagerIdentifier encodes it. */
export function managerKey(e: Pick<ManagerEntry, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  return JSON.stringify({
    manager: e.manager,
    operation: e.operation,
    ...(e.operation === 'Update' && e.apiVersion ? { apiVersion: e.apiVersion } : {}),
    ...(e.subresource ? { subresource: e.subresource } : {}),
  });
}

/** Fields nobody owns: identity and server-maintained metadata. */
const STRIPPED: FieldPath[] = [
  ['f:apiVersion'],
  ['f:kind'],
  ['f:metadata'],
  ...['name', 'namespace', 'creationTimestamp', 'selfLink', 'uid', 'clusterName', 'generation', 'managedFields', 'resourceVersion'].map(
    (f) => ['f:metadata', `f:${f}`],
  ),
];
const STRIP_SET = FieldSet.of(...STRIPPED);

export function decodeManagedFields(entries: unknown): ManagerEntry[] {
  if (entries === undefined || entries === null) return [];
  if (!Array.isArray(entries)) throw badRequest('metadata.managedFields must be a list');
  return entries.map((raw, i) => {
    const e = raw as Record<string, unknown>;
    if (!isObject(e) || typeof e.manager !== 'string' || (e.operation !== 'Apply' && e.operation !== 'Update')) {
      throw badRequest(`metadata.managedFields[${i}]: needs manager and operation (Apply or Update)`);
    }
    if (e.fieldsType !== undefined && e.fieldsType !== 'FieldsV1') {
      throw badRequest(`metadata.managedFields[${i}].fieldsType: only FieldsV1 is supported`);
    }
    let set: FieldSet;
    try {
      set = FieldSet.fromFieldsV1(e.fieldsV1 ?? {});
    } catch (err) {
      throw badRequest(`metadata.managedFields[${i}].fieldsV1: ${(err as Error).message}`);
    }
    return {
      manager: e.manager,
      operation: e.operation,
      apiVersion: typeof e.apiVersion === 'string' ? e.apiVersion : '',
      ...(typeof e.time === 'string' ? { time: e.time } : {}),
      ...(typeof e.subresource === 'string' && e.subresource ? { subresource: e.subresource } : {}),
      set,
    };
  });
}

/** Sorted as kube-apiserver sorts them: Apply before Update, then by time, manager, version. */
export function encodeManagedFields(entries: ManagerEntry[]): Record<string, unknown>[] {
  const seconds = (t?: string) => (t ? Math.floor(Date.parse(t) / 1000) : 0);
  return [...entries]
    .filter((e) => !e.set.isEmpty())
    .sort(
      (a, b) =>
        (a.operation < b.operation ? -1 : a.operation > b.operation ? 1 : 0) ||
        seconds(a.time) - seconds(b.time) ||
        (a.manager < b.manager ? -1 : a.manager > b.manager ? 1 : 0) ||
        (a.apiVersion < b.apiVersion ? -1 : a.apiVersion > b.apiVersion ? 1 : 0) ||
        ((a.subresource ?? '') < (b.subresource ?? '') ? -1 : (a.subresource ?? '') > (b.subresource ?? '') ? 1 : 0),
    )
    .map((e) => ({
      manager: e.manager,
      operation: e.operation,
      apiVersion: e.apiVersion,
      ...(e.time ? { time: e.time } : {}),
      fieldsType: 'FieldsV1',
      fieldsV1: e.set.toFieldsV1(),
      ...(e.subresource ? { subresource: e.subresource } : {}),
    }));
}

/** Which paths this operation may own: e.g. not status through the main resource. */
export type FieldScope = (path: FieldPath) => boolean;

function scoped(set: FieldSet, scope: FieldScope): FieldSet {
  return set.filter(scope).difference(STRIP_SET);
}

function nowTime(now: Date): string {
  return new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export interface UpdateInput {
  live: Record<string, unknown>;
  next: Record<string, unknown>;
  schema: JSONSchemaProps | undefined;
  managers: ManagerEntry[];
  actor: Actor;
  scope: FieldScope;
  now: Date;
}

/** Ownership after a create/update/patch by `actor` (operation Update). */
export function recordUpdate(input: UpdateInput): ManagerEntry[] {
  const { live, next, schema, actor, scope, now } = input;
  const c = compare(live, next, schema);
  const changed = scoped(c.modified.union(c.added), scope);
  const removed = scoped(c.removed, scope);
  const key = managerKey({ ...actor, operation: 'Update' });
  const out: ManagerEntry[] = [];
  let mine: ManagerEntry | undefined;
  for (const m of input.managers) {
    if (managerKey(m) === key) {
      mine = m;
      continue;
    }
    out.push({ ...m, set: m.set.difference(changed).difference(removed) });
  }
  const before = mine?.set ?? new FieldSet();
  const set = before.difference(removed).union(changed);
  out.push({
    manager: actor.manager,
    operation: 'Update',
    apiVersion: actor.apiVersion,
    ...(actor.subresource ? { subresource: actor.subresource } : {}),
    time: changed.isEmpty() && removed.isEmpty() && mine?.time ? mine.time : nowTime(now),
    set,
  });
  return out.filter((m) => !m.set.isEmpty());
}

export interface Conflict {
  managerKey: string;
  path: FieldPath;
}

export interface ApplyInput {
  /** The live object, or {} when the apply creates it. */
  live: Record<string, unknown>;
  config: Record<string, unknown>;
  schema: JSONSchemaProps | undefined;
  managers: ManagerEntry[];
  actor: Actor;
  scope: FieldScope;
  force: boolean;
  now: Date;
}

export interface ApplyResult {
  object: Record<string, unknown>;
  managers: ManagerEntry[];
}

/** Server-side apply of `config` by `actor`; throws the 409 conflict Status when it must. */
export function recordApply(input: ApplyInput): ApplyResult {
  const { live, config, schema, actor, scope, force, now } = input;
  const merged = merge(live, config, schema) as Record<string, unknown>;
  const key = managerKey({ ...actor, operation: 'Apply' });
  const last = input.managers.find((m) => managerKey(m) === key);
  const set = scoped(toFieldSet(config, schema), scope);
  const others = input.managers.filter((m) => managerKey(m) !== key);

  // Drop what this manager applied before, no longer applies, and nobody else owns.
  if (last) {
    const owned = others.reduce((acc, m) => acc.union(m.set), set);
    const dropped = last.set.paths().filter((p) => !owned.hasPrefix(p));
    removePaths(merged, dropped, schema);
    removeEmptiedParents(merged, dropped, owned, schema);
  }

  const c = compare(live, merged, schema);
  const changed = scoped(c.modified.union(c.added), scope);
  const removed = scoped(c.removed, scope);
  const conflicts: Conflict[] = [];
  for (const m of others) {
    for (const p of m.set.intersection(changed).paths()) conflicts.push({ managerKey: managerKey(m), path: p });
  }
  if (conflicts.length && !force) throw applyConflict(conflicts);

  const next: ManagerEntry[] = others.map((m) => ({ ...m, set: m.set.difference(changed).difference(removed) }));
  // The entry's time moves only when the apply changed the object (kube-apiserver's
  // managedFieldsUpdater); a no-op apply keeps the old time, or records none.
  const changedObject = !c.added.isEmpty() || !c.modified.isEmpty() || !c.removed.isEmpty();
  const time = changedObject ? nowTime(now) : last?.time;
  next.push({
    manager: actor.manager,
    operation: 'Apply',
    apiVersion: actor.apiVersion,
    ...(actor.subresource ? { subresource: actor.subresource } : {}),
    ...(time ? { time } : {}),
    set,
  });
  return { object: merged, managers: next.filter((m) => !m.set.isEmpty()) };
}

/** After removing fields, also remove the objects and lists left empty that nobody owns. */
function removeEmptiedParents(obj: Record<string, unknown>, removed: FieldPath[], owned: FieldSet, schema: JSONSchemaProps | undefined): void {
  const candidates = new Map<string, FieldPath>();
  for (const p of removed) {
    for (let n = p.length - 1; n >= 1; n--) candidates.set(JSON.stringify(p.slice(0, n)), p.slice(0, n));
  }
  const deepestFirst = [...candidates.values()].sort((a, b) => b.length - a.length);
  for (const parent of deepestFirst) {
    if (owned.hasPrefix(parent)) continue;
    const v = valueAt(obj, parent, schema);
    const empty = (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
    if (empty) removePaths(obj, [parent], schema);
  }
}

function printManager(key: string): string {
  const e = JSON.parse(key) as { manager: string; operation: string; apiVersion?: string; subresource?: string };
  let s = JSON.stringify(e.manager);
  if (e.subresource) s = `${s} with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === 'Update') return `${s} using ${e.apiVersion ?? ''}`;
  return s;
}

export class ApplyConflictError extends ApiError {
  readonly conflicts: Conflict[];
  constructor(code: number, reason: string, message: string, details: ConstructorParameters<typeof ApiError>[3], conflicts: Conflict[]) {
    super(code, reason, message, details);
    this.conflicts = conflicts;
  }
}

/** The 409 kube-apiserver answers an apply with conflicts, message and causes included. */
export function applyConflict(conflicts: Conflict[]): ApplyConflictError {
  let message: string;
  if (conflicts.length === 1) {
    const c = conflicts[0]!;
    message = `Apply failed with 1 conflict: conflict with ${printManager(c.managerKey)}: ${pathString(c.path)}`;
  } else {
    const byManager = new Map<string, FieldPath[]>();
    for (const c of conflicts) byManager.set(c.managerKey, [...(byManager.get(c.managerKey) ?? []), c.path]);
    const lines: string[] = [];
    for (const m of [...byManager.keys()].sort()) {
      lines.push(`conflicts with ${printManager(m)}:`);
      for (const p of byManager.get(m)!) lines.push(`- ${pathString(p)}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new ApplyConflictError(
    409,
    'Conflict',
    message,
    {
      causes: conflicts.map((c) => ({
        reason: 'FieldManagerConflict',
        message: `conflict with ${printManager(c.managerKey)}`,
        field: pathString(c.path),
      })),
    },
    conflicts,
  );
}

export { kindOf };
