// Errors as kube-apiserver returns them: a metav1.Status with reason, code and details. Every
// failure the server reports goes through one of these builders so the shapes stay identical.

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** Thrown anywhere in request handling; the HTTP layer writes `status` with `status.code`. */
export class ApiError extends Error {
  readonly status: Status;
  /** Warning headers gathered before the request failed (kube-apiserver sends them too). */
  warnings: string[] = [];
  /** Sent as text/plain instead of a Status (the HTTP mux's own 404). */
  plainText?: string;
  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'ApiError';
    this.status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      ...(details ? { details } : {}),
      code,
    };
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string {
    return this.status.reason ?? '';
  }
}

/** A resource as errors name it: `workspaces.outrigger.dev`, or `secrets` for the core group. */
export interface QualifiedResource {
  group: string;
  resource: string;
}

export function qualifiedResourceString(r: QualifiedResource): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

function resourceDetails(r: QualifiedResource, name: string): StatusDetails {
  return { name, ...(r.group ? { group: r.group } : {}), kind: r.resource };
}

export function notFound(r: QualifiedResource, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedResourceString(r)} "${name}" not found`, resourceDetails(r, name));
}

/**
 * A path nothing serves: kube-apiserver answers it from its HTTP mux with a plain-text
 * "404 page not found", not a Status.
 */
export function resourceNotServed(): ApiError {
  const err = new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
  err.plainText = '404 page not found\n';
  return err;
}

export function alreadyExists(r: QualifiedResource, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualifiedResourceString(r)} "${name}" already exists`, resourceDetails(r, name));
}

export function conflict(r: QualifiedResource, name: string, why: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResourceString(r)} "${name}": ${why}`,
    resourceDetails(r, name),
  );
}

export const OBJECT_MODIFIED = 'the object has been modified; please apply your changes to the latest version and try again';

export function staleResourceVersion(r: QualifiedResource, name: string): ApiError {
  return conflict(r, name, OBJECT_MODIFIED);
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function methodNotSupported(r: QualifiedResource, verb: string): ApiError {
  return new ApiError(
    405,
    'MethodNotAllowed',
    `${verb} is not supported on resources of kind "${qualifiedResourceString(r)}"`,
    { ...(r.group ? { group: r.group } : {}), kind: r.resource },
  );
}

export function unsupportedMediaType(contentType: string, accepted: string[]): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
    contentType ? {} : undefined,
  );
}

export function notAcceptable(accepted: string[]): ApiError {
  return new ApiError(406, 'NotAcceptable', `only the following media types are accepted: ${accepted.join(', ')}`);
}

/** etcd's request size limit as kube-apiserver enforces it on request bodies. */
export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;

export function requestEntityTooLarge(limit: number = MAX_REQUEST_BODY_BYTES): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);
}

export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

export function gone(message: string): ApiError {
  return new ApiError(410, 'Gone', message);
}

export function forbidden(r: QualifiedResource, name: string, why: string, causes?: StatusCause[]): ApiError {
  const subject = name ? `${qualifiedResourceString(r)} "${name}"` : qualifiedResourceString(r);
  return new ApiError(403, 'Forbidden', `${subject} is forbidden: ${why}`, {
    ...resourceDetails(r, name),
    ...(causes ? { causes } : {}),
  });
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

export function timeout(message: string, retryAfterSeconds = 1): ApiError {
  return new ApiError(504, 'Timeout', message, { retryAfterSeconds });
}

export function internalError(err: unknown): ApiError {
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, {
    causes: [{ message }],
  });
}

export function serviceUnavailable(message: string): ApiError {
  return new ApiError(503, 'ServiceUnavailable', message);
}

// ---- field errors (k8s.io/apimachinery/pkg/util/validation/field) ----

export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueTypeInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueNotFound'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'InternalError';

const TYPE_TEXT: Record<FieldErrorType, string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueTypeInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueNotFound: 'Not found',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  InternalError: 'Internal error',
};

/** A marker for errors whose bad value must not be printed (secrets, huge values). */
export const OMIT_VALUE = Symbol('omit value');

export interface FieldError {
  type: FieldErrorType;
  field: string;
  badValue?: unknown;
  detail?: string;
}

/** Go's %#v for unstructured values, which is how kube-apiserver prints non-scalar bad values. */
export function goSyntax(value: unknown): string {
  if (value === null || value === undefined) return 'interface {}(nil)';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[]interface {}{${value.map(goSyntax).join(', ')}}`;
  const entries = Object.keys(value as object)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${goSyntax((value as Record<string, unknown>)[k])}`);
  return `map[string]interface {}{${entries.join(', ')}}`;
}

/** A bad value printed as given (a Go struct kube-apiserver prints through encoding/json). */
export class RawBadValue {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

function formatBadValue(value: unknown): string {
  if (value instanceof RawBadValue) return value.text;
  if (value === null) return 'null';
  if (value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return goSyntax(value);
}

/** The part of a field error after `<field>: `, exactly as field.Error.ErrorBody() prints it. */
export function fieldErrorBody(e: FieldError): string {
  let s: string;
  if (
    e.type === 'FieldValueRequired' ||
    e.type === 'FieldValueForbidden' ||
    e.type === 'FieldValueTooLong' ||
    e.type === 'InternalError' ||
    e.badValue === OMIT_VALUE
  ) {
    s = TYPE_TEXT[e.type];
  } else {
    s = `${TYPE_TEXT[e.type]}: ${formatBadValue(e.badValue)}`;
  }
  if (e.detail) s += `: ${e.detail}`;
  return s;
}

export function fieldErrorString(e: FieldError): string {
  return `${e.field}: ${fieldErrorBody(e)}`;
}

export const fieldErr = {
  required: (field: string, detail = ''): FieldError => ({ type: 'FieldValueRequired', field, detail }),
  invalid: (field: string, badValue: unknown, detail: string): FieldError => ({ type: 'FieldValueInvalid', field, badValue, detail }),
  typeInvalid: (field: string, badValue: unknown, detail: string): FieldError => ({
    type: 'FieldValueTypeInvalid',
    field,
    badValue,
    detail,
  }),
  notSupported: (field: string, badValue: unknown, supported: unknown[]): FieldError => ({
    type: 'FieldValueNotSupported',
    field,
    badValue,
    detail: supported.length ? `supported values: ${supported.map((v) => formatBadValue(v)).join(', ')}` : '',
  }),
  duplicate: (field: string, badValue: unknown): FieldError => ({ type: 'FieldValueDuplicate', field, badValue }),
  forbidden: (field: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field, detail }),
  tooLong: (field: string, detail: string): FieldError => ({ type: 'FieldValueTooLong', field, detail }),
  tooMany: (field: string, actual: number, max: number): FieldError => ({
    type: 'FieldValueTooMany',
    field,
    badValue: actual,
    detail: `must have at most ${max} items`,
  }),
};

/** Like utilerrors.NewAggregate(...).Error(): one message alone, several in brackets, deduplicated. */
export function aggregateMessages(messages: string[]): string {
  const seen = new Set<string>();
  const unique = messages.filter((m) => (seen.has(m) ? false : (seen.add(m), true)));
  if (unique.length === 1) return unique[0] ?? '';
  return `[${unique.join(', ')}]`;
}

/** 422 Invalid, as errors.NewInvalid builds it. `kind` is `Workspace.outrigger.dev` or `Secret`. */
export function invalid(group: string, kind: string, name: string, errors: FieldError[]): ApiError {
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  const message = errors.length
    ? `${qualifiedKind} "${name}" is invalid: ${aggregateMessages(errors.map(fieldErrorString))}`
    : `${qualifiedKind} "${name}" is invalid`;
  return new ApiError(422, 'Invalid', message, {
    ...(name ? { name } : {}),
    ...(group ? { group } : {}),
    kind,
    causes: errors.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field })),
  });
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}
