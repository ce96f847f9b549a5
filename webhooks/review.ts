// AdmissionReview v1 (admission.k8s.io/v1): the request kube-apiserver sends and the responses
// this webhook answers with. Only the fields Outrigger reads or writes are typed.
import type { FieldError } from '../crds/validate.ts';
import { describeFieldErrors } from '../crds/validate.ts';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmittedObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    deletionTimestamp?: string;
    [key: string]: unknown;
  };
  spec?: unknown;
  [key: string]: unknown;
}

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string };
  object?: AdmittedObject | null;
  oldObject?: AdmittedObject | null;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: {
    status: 'Failure';
    code: number;
    reason: string;
    message: string;
    details?: { name?: string; group?: string; kind?: string; causes?: Array<{ field: string; message: string; reason: string }> };
  };
  patchType?: 'JSONPatch';
  /** Base64 of a JSON Patch (RFC 6902). */
  patch?: string;
  /** Shown by kubectl as "Warning: ..."; each at most 120 characters is best, never multi-line. */
  warnings?: string[];
}

export interface AdmissionReview<T> {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: T;
}

export class MalformedReviewError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedReviewError';
  }
}

/** Checks the envelope kube-apiserver sends; the object inside is checked by the validators. */
export function parseReview(body: unknown): AdmissionRequest {
  const review = body as Partial<AdmissionReview<never>> | undefined;
  if (!review || typeof review !== 'object') throw new MalformedReviewError('the body must be an AdmissionReview JSON object');
  if (review.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview') {
    throw new MalformedReviewError('only admission.k8s.io/v1 AdmissionReview is supported (set admissionReviewVersions: [v1])');
  }
  const request = review.request;
  if (!request || typeof request !== 'object' || typeof request.uid !== 'string' || request.uid === '') {
    throw new MalformedReviewError('request.uid is missing');
  }
  if (!request.kind || typeof request.kind.kind !== 'string') throw new MalformedReviewError('request.kind is missing');
  if (!['CREATE', 'UPDATE', 'DELETE', 'CONNECT'].includes(request.operation)) throw new MalformedReviewError('request.operation is missing or unknown');
  return request;
}

export function reviewOf(response: AdmissionResponse): AdmissionReview<AdmissionResponse> {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

export function allow(request: AdmissionRequest, warnings: string[] = []): AdmissionResponse {
  return { uid: request.uid, allowed: true, ...(warnings.length > 0 ? { warnings } : {}) };
}

/** Allows with a JSON Patch, when there is anything to patch. */
export function allowWithPatch(request: AdmissionRequest, patch: unknown[], warnings: string[] = []): AdmissionResponse {
  if (patch.length === 0) return allow(request, warnings);
  return {
    ...allow(request, warnings),
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
  };
}

/**
 * Denies with one message naming every field (kube-apiserver prefixes it with
 * `admission webhook "<name>" denied the request: `) and the same errors as status causes.
 */
export function deny(request: AdmissionRequest, errors: FieldError[], warnings: string[] = []): AdmissionResponse {
  return {
    uid: request.uid,
    allowed: false,
    status: {
      status: 'Failure',
      code: 422,
      reason: 'Invalid',
      message: describeFieldErrors(errors),
      details: {
        name: request.name ?? request.object?.metadata?.name,
        group: request.kind.group,
        kind: request.kind.kind,
        causes: errors.map((e) => ({ field: e.path, message: e.message, reason: 'FieldValueInvalid' })),
      },
    },
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/** Denies because the webhook could not decide (a lookup failed): the user should retry. */
export function unavailable(request: AdmissionRequest, message: string): AdmissionResponse {
  return {
    uid: request.uid,
    allowed: false,
    status: { status: 'Failure', code: 503, reason: 'ServiceUnavailable', message },
  };
}
