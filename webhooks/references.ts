// References between Outrigger objects: where each kind names another object, and what the named
// object must offer. The schema already guarantees a reference's shape (a name, no namespace
// field, so always the same namespace); this module checks the referent itself.
//
// Policy, as Kubernetes does for Pods and their ConfigMaps: a referent that does not exist yet is
// allowed with a warning (GitOps tools apply in any order; the controller reports Ready=False until
// it appears). A referent that exists but cannot serve (a Host without Docker for a container) is
// rejected, because it is wrong now and the user can fix it now.
import type { KubeObject } from '../controller/kube/resource.ts';
import { kindDefinition, referenceIdentity, type Reference } from '../crds/index.ts';
import type { ObjectLookup, ReferableKind } from './lookup.ts';

export type { Reference } from '../crds/index.ts';
import type { FieldError } from '../crds/validate.ts';

/**
 * The references of a parsed (defaulted) spec that admission checks: everything the kind declares
 * (crds/references.ts) except Secrets, which the webhook never reads (the controller reports a
 * missing one).
 */
export function referencesOf(kind: string, spec: unknown): Reference[] {
  const def = kindDefinition(kind);
  if (!def?.references) return [];
  return def.references(spec as never).filter((r) => r.kind !== 'Secret');
}


export interface ReferenceVerdict {
  errors: FieldError[];
  warnings: string[];
}

/**
 * Looks up the referents of `refs` that are new (absent from `previous`): an unchanged reference
 * was checked when it was written, and must not block unrelated edits if its referent changed
 * since. Lookup errors propagate (the caller answers "try again").
 */
export async function checkReferences(
  owner: { kind: string; namespace: string },
  refs: Reference[],
  previous: Reference[],
  lookup: ObjectLookup,
  signal: AbortSignal,
): Promise<ReferenceVerdict> {
  const known = new Set(previous.map(referenceIdentity));
  const fresh = refs.filter((r) => !known.has(referenceIdentity(r)));
  const cache = new Map<string, Promise<KubeObject | undefined>>();
  const fetch = (r: Reference) => {
    const key = `${r.kind}/${r.name}`;
    let found = cache.get(key);
    if (!found) cache.set(key, (found = lookup.get(r.kind as ReferableKind, owner.namespace, r.name, signal)));
    return found;
  };
  const results = await Promise.all(fresh.map(async (r) => ({ r, referent: await fetch(r) })));
  const verdict: ReferenceVerdict = { errors: [], warnings: [] };
  for (const { r, referent } of results) {
    if (!referent) {
      verdict.warnings.push(`${r.field}: ${r.kind} "${r.name}" does not exist in namespace "${owner.namespace}" yet; this ${owner.kind} stays not Ready until it does`);
      continue;
    }
    const problem = r.check?.(referent as { spec?: unknown });
    if (problem) verdict.errors.push({ path: r.field, message: problem });
  }
  return verdict;
}
