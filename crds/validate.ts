// Validation with the kinds' zod schemas, reporting errors by field path the way kube-apiserver
// spells them (spec.routes[0].upstream.address), for webhooks, reconcilers and the CLI.
import type { z } from 'zod';
import { API_VERSION, type KindDefinition } from './kind.ts';
import { OBJECT_NAME } from './common.ts';

export interface FieldError {
  /** Path from the object's root, such as spec.routes[0].upstream.address. */
  path: string;
  message: string;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** `spec` + ['routes', 0, 'path'] -> `spec.routes[0].path`. */
export function formatPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Unknown fields are reported on the field itself, as kube-apiserver's strict validation does. */
export function issuesToFieldErrors(base: string, issues: readonly z.core.$ZodIssue[]): FieldError[] {
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: formatPath(base, [...issue.path, key]), message: 'field not declared in schema: remove it' }))
      : [{ path: formatPath(base, issue.path), message: issue.message }],
  );
}

/** Parses a spec, filling defaults as kube-apiserver would. */
export function validateSpec<S extends z.ZodType>(def: KindDefinition<S>, spec: unknown): Validation<z.output<S>> {
  const result = def.spec.safeParse(spec);
  return result.success ? { ok: true, value: result.data } : { ok: false, errors: issuesToFieldErrors('spec', result.error.issues) };
}

/**
 * Checks a whole manifest of this kind: apiVersion, kind, metadata.name and the spec (status is
 * the controller's and is not checked here).
 */
export function validateManifest<S extends z.ZodType>(def: KindDefinition<S>, manifest: unknown): Validation<z.output<S>> {
  const errors: FieldError[] = [];
  const obj = (typeof manifest === 'object' && manifest !== null ? manifest : {}) as Record<string, unknown>;
  if (obj.apiVersion !== API_VERSION) errors.push({ path: 'apiVersion', message: `must be ${API_VERSION}` });
  if (obj.kind !== def.kind) errors.push({ path: 'kind', message: `must be ${def.kind}` });
  const metadata = (obj.metadata ?? {}) as Record<string, unknown>;
  const name = metadata.name;
  if (typeof name !== 'string' || name.length > 253 || !OBJECT_NAME.test(name)) {
    errors.push({ path: 'metadata.name', message: 'must be a lower-case DNS name (a-z, 0-9, "-", ".") of at most 253 characters' });
  }
  if (obj.spec === undefined) errors.push({ path: 'spec', message: 'is required' });
  const spec = obj.spec === undefined ? undefined : validateSpec(def, obj.spec);
  if (spec && !spec.ok) errors.push(...spec.errors);
  if (errors.length > 0 || !spec || !spec.ok) return { ok: false, errors };
  return { ok: true, value: spec.value };
}

/** One line per error: `spec.address: address is required when ssh is set`. */
export function describeFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('; ');
}
