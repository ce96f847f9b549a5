// Defaulting: fills fields the user left unset, as a JSON Patch of `add` operations only. A value
// the user wrote is never rewritten, so what Git holds stays a subset of what the API holds and
// GitOps tools see no drift.
//
// Two sources of defaults:
// - the zod schema's own defaults (kube-apiserver already applies the same ones from the CRD
//   before calling the webhook, so these matter for API servers that do not);
// - defaults a CRD schema cannot express because they depend on other fields (computedDefaults).
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { kindDefinition, type WorkspaceSpec } from '../crds/index.ts';

/** Defaults that depend on other fields, applied to a parsed (schema-defaulted) spec in place. */
export function computedDefaults(kind: string, spec: unknown): void {
  if (kind === 'Workspace') {
    const ws = spec as WorkspaceSpec;
    // The home is mounted at the user's home directory unless told otherwise (documented default).
    ws.home.mountPath ??= `/home/${ws.user.name}`;
  }
}

/** The defaulted spec, or undefined when the spec is invalid (validation reports that). */
export function defaultedSpec(kind: string, spec: unknown): unknown {
  const def = kindDefinition(kind);
  if (!def) return undefined;
  const parsed = def.spec.safeParse(spec);
  if (!parsed.success) return undefined;
  const value = structuredClone(parsed.data);
  computedDefaults(kind, value);
  return value;
}

/**
 * JSON Patch operations (paths under /spec) that add what defaulting filled in. Operations that
 * would replace or remove a value the user set are dropped: defaulting never rewrites.
 */
export function defaultingPatch(kind: string, spec: unknown): Operation[] {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return [];
  const defaulted = defaultedSpec(kind, spec);
  if (defaulted === undefined) return [];
  return jsonpatch
    .compare(spec as object, defaulted as object)
    .filter((op) => op.op === 'add')
    .map((op) => ({ ...op, path: `/spec${op.path}` }));
}
