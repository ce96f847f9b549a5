// Rules for metadata every kind shares: name formats, labels, annotations, finalizers, owner
// references, and which fields an update may not change. Messages match apimachinery's.
import { randomBytes } from 'node:crypto';
import { OMIT_VALUE, fieldErr, type FieldError } from '../api/errors.ts';
import type { NameRule } from '../kinds/types.ts';

type Meta = Record<string, unknown>;

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const QUALIFIED_NAME = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE = `(${QUALIFIED_NAME})?`;

function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (!examples.length) return `${msg} (regex used for validation is '${fmt}')`;
  let out = `${msg} (e.g. `;
  examples.forEach((e, i) => {
    if (i > 0) out += ' or ';
    out += `'${e}', `;
  });
  return `${out}regex used for validation is '${fmt}')`;
}

const labelRe = new RegExp(`^${DNS1123_LABEL}$`);
const subdomainRe = new RegExp(`^${DNS1123_SUBDOMAIN}$`);
const qualifiedNameRe = new RegExp(`^${QUALIFIED_NAME}$`);
const labelValueRe = new RegExp(`^${LABEL_VALUE}$`);

export function dns1123LabelErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push('must be no more than 63 characters');
  if (!labelRe.test(value)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        DNS1123_LABEL,
        'my-name',
        '123-abc',
      ),
    );
  }
  return errs;
}

export function dns1123SubdomainErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push('must be no more than 253 characters');
  if (!subdomainRe.test(value)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        DNS1123_SUBDOMAIN,
        'example.com',
      ),
    );
  }
  return errs;
}

const DNS1035_LABEL = '[a-z]([-a-z0-9]*[a-z0-9])?';
const dns1035Re = new RegExp(`^${DNS1035_LABEL}$`);

export function dns1035LabelErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push('must be no more than 63 characters');
  if (!dns1035Re.test(value)) {
    errs.push(
      regexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        DNS1035_LABEL,
        'my-name',
        'abc-123',
      ),
    );
  }
  return errs;
}

export function pathSegmentNameErrors(value: string): string[] {
  if (value === '.' || value === '..') return [`may not be '${value}'`];
  const errs: string[] = [];
  for (const bad of ['/', '%']) if (value.includes(bad)) errs.push(`may not contain '${bad}'`);
  return errs;
}

export function nameErrors(value: string, rule: NameRule): string[] {
  if (rule === 'label') return dns1123LabelErrors(value);
  if (rule === 'subdomain') return dns1123SubdomainErrors(value);
  return pathSegmentNameErrors(value);
}

/** Label keys, annotation keys and finalizer names: `[prefix/]name`. */
export function qualifiedNameErrors(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0]!;
  } else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push(`prefix part ${'must be non-empty'}`);
    else for (const e of dns1123SubdomainErrors(prefix)) errs.push(`prefix part ${e}`);
  } else {
    return [
      `${regexError(
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        QUALIFIED_NAME,
        'MyName',
        'my.name',
        '123-abc',
      )} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length && !qualifiedNameRe.test(name)) {
    errs.push(
      `name part ${regexError(
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        QUALIFIED_NAME,
        'MyName',
        'my.name',
        '123-abc',
      )}`,
    );
  }
  return errs;
}

export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push('must be no more than 63 characters');
  if (!labelValueRe.test(value)) {
    errs.push(
      regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LABEL_VALUE,
        'MyValue',
        'my_value',
        '12345',
      ),
    );
  }
  return errs;
}

export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

export function validateLabels(labels: unknown, field: string): FieldError[] {
  if (labels === undefined || labels === null) return [];
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    for (const e of qualifiedNameErrors(k)) errs.push(fieldErr.invalid(field, k, e));
    for (const e of labelValueErrors(String(v ?? ''))) errs.push(fieldErr.invalid(field, v, e));
  }
  return errs;
}

function validateAnnotations(annotations: unknown, field: string): FieldError[] {
  if (annotations === undefined || annotations === null) return [];
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(annotations as Record<string, unknown>)) {
    for (const e of qualifiedNameErrors(k.toLowerCase())) errs.push(fieldErr.invalid(field, k, e));
    total += k.length + String(v ?? '').length;
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT) {
    errs.push(fieldErr.tooLong(field, `may not be more than ${TOTAL_ANNOTATION_SIZE_LIMIT} bytes`));
  }
  return errs;
}

function validateFinalizers(finalizers: unknown, field: string): FieldError[] {
  if (!Array.isArray(finalizers)) return [];
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  finalizers.forEach((f, i) => {
    const name = String(f);
    for (const e of qualifiedNameErrors(name)) errs.push(fieldErr.invalid(`${field}[${i}]`, name, e));
    if (seen.has(name)) errs.push(fieldErr.duplicate(`${field}[${i}]`, name));
    seen.add(name);
  });
  return errs;
}

function validateOwnerReferences(refs: unknown, field: string): FieldError[] {
  if (!Array.isArray(refs)) return [];
  const errs: FieldError[] = [];
  let controllers = 0;
  refs.forEach((r: Record<string, unknown>, i) => {
    for (const k of ['apiVersion', 'kind', 'name', 'uid']) {
      if (!r?.[k]) errs.push(fieldErr.invalid(`${field}[${i}].${k}`, r?.[k] ?? '', `${k} must not be empty`));
    }
    if (r?.controller === true) controllers++;
  });
  if (controllers > 1) errs.push(fieldErr.invalid(field, OMIT_VALUE, 'Only one reference can have Controller set to true'));
  return errs;
}

export interface MetaRules {
  namespaced: boolean;
  nameRule: NameRule;
}

/** ValidateObjectMeta: what every object must satisfy on create and update. */
export function validateObjectMeta(meta: Meta, rules: MetaRules): FieldError[] {
  const errs: FieldError[] = [];
  const name = meta.name as string | undefined;
  if (!name) {
    errs.push(fieldErr.required('metadata.name', 'name or generateName is required'));
  } else {
    for (const e of nameErrors(name, rules.nameRule)) errs.push(fieldErr.invalid('metadata.name', name, e));
  }
  if (meta.generateName) {
    for (const e of nameErrors(maskTrailingDash(String(meta.generateName)), rules.nameRule)) {
      errs.push(fieldErr.invalid('metadata.generateName', meta.generateName, e));
    }
  }
  if (rules.namespaced) {
    const ns = meta.namespace as string | undefined;
    if (!ns) errs.push(fieldErr.required('metadata.namespace', ''));
    else for (const e of dns1123LabelErrors(ns)) errs.push(fieldErr.invalid('metadata.namespace', ns, e));
  } else if (meta.namespace) {
    errs.push(fieldErr.forbidden('metadata.namespace', 'not allowed on this type'));
  }
  errs.push(...validateLabels(meta.labels, 'metadata.labels'));
  errs.push(...validateAnnotations(meta.annotations, 'metadata.annotations'));
  errs.push(...validateFinalizers(meta.finalizers, 'metadata.finalizers'));
  errs.push(...validateOwnerReferences(meta.ownerReferences, 'metadata.ownerReferences'));
  return errs;
}

function maskTrailingDash(s: string): string {
  return s.length > 1 && s.endsWith('-') ? `${s.slice(0, -1)}a` : s;
}

function goStringSlice(values: string[]): string {
  return `[]string{${values.map((v) => JSON.stringify(v)).join(', ')}}`;
}

/** ValidateObjectMetaUpdate: fields an update must not change. */
export function validateObjectMetaUpdate(meta: Meta, old: Meta): FieldError[] {
  const errs: FieldError[] = [];
  const immutable = (field: string) => {
    const a = meta[field];
    const b = old[field];
    if (JSON.stringify(a ?? null) !== JSON.stringify(b ?? null)) errs.push(fieldErr.invalid(`metadata.${field}`, a ?? null, 'field is immutable'));
  };
  for (const f of ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds']) immutable(f);
  if (old.deletionTimestamp) {
    const before = new Set((old.finalizers as string[] | undefined) ?? []);
    const extra = ((meta.finalizers as string[] | undefined) ?? []).filter((f) => !before.has(f));
    if (extra.length) {
      errs.push(
        fieldErr.forbidden(
          'metadata.finalizers',
          `no new finalizers can be added if the object is being deleted, found new finalizers ${goStringSlice([...new Set(extra)].sort())}`,
        ),
      );
    }
  }
  return errs;
}

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** names.SimpleNameGenerator: the prefix (cut to fit) plus five random characters. */
export function generateName(prefix: string): string {
  const maxPrefix = 63 - 5;
  const base = prefix.length > maxPrefix ? prefix.slice(0, maxPrefix) : prefix;
  const bytes = randomBytes(5);
  let suffix = '';
  for (const b of bytes) suffix += GENERATE_ALPHABET[b % GENERATE_ALPHABET.length];
  return base + suffix;
}

/** Default field manager from a User-Agent, as kube-apiserver derives it. */
export function managerFromUserAgent(userAgent: string | undefined): string {
  const ua = (userAgent ?? '').split('/')[0] ?? '';
  return ua.slice(0, 128) || 'unknown';
}
