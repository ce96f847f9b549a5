// What the webhook decides for one AdmissionRequest: validation (schema, immutable fields,
// references, server-name conflicts) and defaulting. Pure apart from the injected lookup.
import { isDeepStrictEqual } from 'node:util';
import { API_VERSION, GROUP, kindDefinition, validateSpec, type KindDefinition, type ProxyRouteSpec } from '../crds/index.ts';
import type { FieldError } from '../crds/validate.ts';
import { serverNameConflicts } from './conflicts.ts';
import { defaultingPatch } from './defaults.ts';
import { immutableFieldChanges } from './immutable.ts';
import type { ObjectLookup } from './lookup.ts';
import { checkReferences, referencesOf } from './references.ts';
import { allow, allowWithPatch, deny, unavailable, type AdmissionRequest, type AdmissionResponse } from './review.ts';

export interface AdmitContext {
  lookup: ObjectLookup;
  /** Bounds the lookups; kube-apiserver gives up after the webhook's timeoutSeconds anyway. */
  signal: AbortSignal;
}

/** The kind this request is about, or a denial when it is not an Outrigger kind. */
function kindOf(request: AdmissionRequest): KindDefinition | AdmissionResponse {
  const def = request.kind.group === GROUP ? kindDefinition(request.kind.kind) : undefined;
  if (!def) {
    return deny(request, [{ path: 'kind', message: `${request.kind.group}/${request.kind.kind} is not an ${API_VERSION} kind: this webhook only admits Outrigger kinds (check the webhook configuration's rules)` }]);
  }
  return def;
}

const isResponse = (x: KindDefinition | AdmissionResponse): x is AdmissionResponse => 'uid' in x;

/** True when nothing but metadata changes, or the object is on its way out: never block those. */
function onlyMetadataOrDeleting(request: AdmissionRequest): boolean {
  if (request.object?.metadata?.deletionTimestamp) return true;
  return request.operation === 'UPDATE' && isDeepStrictEqual(request.object?.spec, request.oldObject?.spec);
}

export async function validateRequest(request: AdmissionRequest, ctx: AdmitContext): Promise<AdmissionResponse> {
  const def = kindOf(request);
  if (isResponse(def)) return def;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allow(request);
  if (request.subResource) return allow(request); // status is the controller's
  if (onlyMetadataOrDeleting(request)) return allow(request);

  const object = request.object ?? {};
  if (object.spec === undefined) return deny(request, [{ path: 'spec', message: 'is required' }]);
  const parsed = validateSpec(def, object.spec);
  if (!parsed.ok) return deny(request, parsed.errors);
  const spec = parsed.value;

  const errors: FieldError[] = [];
  let before: unknown;
  if (request.operation === 'UPDATE') {
    const old = validateSpec(def, request.oldObject?.spec);
    before = old.ok ? old.value : request.oldObject?.spec;
    errors.push(...immutableFieldChanges(def.kind, before, spec));
  }

  const namespace = request.namespace ?? object.metadata?.namespace ?? '';
  const warnings: string[] = [];
  try {
    const refs = referencesOf(def.kind, spec);
    const previous = request.operation === 'UPDATE' && before !== undefined ? safeReferences(def.kind, before) : [];
    const verdict = await checkReferences({ kind: def.kind, namespace }, refs, previous, ctx.lookup, ctx.signal);
    errors.push(...verdict.errors);
    warnings.push(...verdict.warnings);
    if (def.kind === 'ProxyRoute') {
      const previousNames = request.operation === 'UPDATE' ? ((before as Partial<ProxyRouteSpec> | undefined)?.serverNames ?? []) : [];
      const name = request.name ?? object.metadata?.name;
      errors.push(...(await serverNameConflicts({ namespace, name }, spec as ProxyRouteSpec, previousNames, ctx.lookup, ctx.signal)));
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return unavailable(request, `the admission webhook could not look up the objects this ${def.kind} refers to (${reason}); try again`);
  }
  return errors.length > 0 ? deny(request, errors, warnings) : allow(request, warnings);
}

/** References of a stored spec that may predate today's schema: none if it cannot be read. */
function safeReferences(kind: string, spec: unknown) {
  try {
    return referencesOf(kind, spec);
  } catch {
    return [];
  }
}

export function mutateRequest(request: AdmissionRequest): AdmissionResponse {
  const def = kindOf(request);
  if (isResponse(def)) return def;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allow(request);
  // A metadata-only update (a finalizer removed by the controller) must not turn into a spec write.
  if (request.subResource || onlyMetadataOrDeleting(request)) return allow(request);
  return allowWithPatch(request, defaultingPatch(def.kind, request.object?.spec));
}
