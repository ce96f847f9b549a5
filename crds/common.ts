// Pieces every kind shares: references, conditions, durations, quantities, name and address
// patterns, and `withRules`, which attaches a CEL rule (for kube-apiserver) and the same rule in
// TypeScript (for zod, so webhooks and reconcilers enforce exactly what the CRD enforces).
//
// Every pattern here must mean the same in JavaScript and in RE2 (kube-apiserver and CEL): no
// lookarounds, no backreferences, no flags, anchored with ^ and $.
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Rules that a structural schema cannot carry as patterns: CEL in the CRD, TypeScript in zod.

export type RuleReason = 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueDuplicate';

export interface Rule<T> {
  /** CEL expression kube-apiserver evaluates with `self` bound to the value. */
  rule: string;
  /** What is wrong and what to do about it; shown to the user by both layers. */
  message: string;
  /** Where to report the error, relative to the value (`.address`); default: the value itself. */
  fieldPath?: string;
  reason?: RuleReason;
  /** The same rule in TypeScript; true when the value is acceptable. */
  holds: (value: T) => boolean;
}

/** The rule list as it is written into the CRD (`x-kubernetes-validations`). */
export type CelValidation = Omit<Rule<unknown>, 'holds'>;

export const VALIDATIONS_KEY = 'x-kubernetes-validations';

/**
 * Attaches rules to a schema. kube-apiserver evaluates the CEL; zod evaluates `holds`. Call it
 * after `.describe()`; the returned schema keeps the description.
 */
export function withRules<S extends z.ZodType>(schema: S, rules: Rule<z.output<S>>[]): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const r of rules) {
      if (r.holds(value)) continue;
      ctx.addIssue({ code: 'custom', message: r.message, path: fieldPathToZodPath(r.fieldPath), input: value });
    }
  });
  const validations: CelValidation[] = rules.map(({ holds: _holds, ...cel }) => cel);
  const previous = z.globalRegistry.get(schema) ?? {};
  const existing = (previous[VALIDATIONS_KEY] as CelValidation[] | undefined) ?? [];
  return refined.meta({ ...previous, [VALIDATIONS_KEY]: [...existing, ...validations] }) as S;
}

/**
 * Marks a field immutable with a CEL transition rule (`self == oldSelf`): kube-apiserver rejects
 * an update that changes it. zod sees no old object: an admission webhook compares old and new
 * itself for these fields.
 */
export const RECREATE_HINT = 'delete and re-create the resource to change it';
export function immutable<S extends z.ZodType>(schema: S, field: string): S {
  return withRules(schema, [{ rule: 'self == oldSelf', message: `${field} is immutable: ${RECREATE_HINT}`, holds: () => true }]);
}

function fieldPathToZodPath(fieldPath: string | undefined): string[] {
  return fieldPath ? fieldPath.split('.').filter(Boolean) : [];
}

/** How many of the values are set (CEL's `has()`): for "exactly one of" rules. */
export function countSet(...values: unknown[]): number {
  return values.filter((v) => v !== undefined).length;
}

/** CEL for "exactly one of these fields is set". */
export function exactlyOneCel(fields: string[]): string {
  return `${fields.map((f) => `(has(self.${f}) ? 1 : 0)`).join(' + ')} == 1`;
}

// ---------------------------------------------------------------------------------------------
// Patterns (RE2 and JavaScript alike).

const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
/** A DNS-1123 subdomain: how Kubernetes object names are spelled. */
export const OBJECT_NAME = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
/** A DNS-1123 label: names that become container, network or VM names. */
export const DNS_LABEL = new RegExp(`^${LABEL}$`);
/** A key in a Secret's data. */
export const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
/** An IANA service name: how ports are named (as in a Pod's containerPort name). */
export const PORT_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4_SRC = `${OCTET}(\\.${OCTET}){3}`;
// Loose on purpose (the reconcilers re-check with node:net): hex groups and colons only, no zone.
const IPV6_SRC = '[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}';
// Lower-case DNS name whose last label starts with a letter, so numeric forms such as
// 2852039166 or 0xa9fea9fe cannot pass for a host name.
const HOSTNAME_SRC = `(${LABEL}\\.)*[a-z]([-a-z0-9]*[a-z0-9])?`;
export const IPV4 = new RegExp(`^${IPV4_SRC}$`);
export const IPV6 = new RegExp(`^${IPV6_SRC}$`);
export const HOSTNAME = new RegExp(`^${HOSTNAME_SRC}$`);
export const IP_ADDRESS = new RegExp(`^(${IPV4_SRC}|${IPV6_SRC})$`);
/** A host name, an IPv4 address or an IPv6 address (without brackets). */
export const ADDRESS = new RegExp(`^(${HOSTNAME_SRC}|${IPV4_SRC}|${IPV6_SRC})$`);
export const CIDR = new RegExp(`^(${IPV4_SRC}/([0-9]|[12][0-9]|3[0-2])|${IPV6_SRC}/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))$`);
/**
 * Addresses a request must never be sent to: link-local (cloud metadata services live there),
 * unspecified, and the well-known metadata names. Checked by CEL (`matches`) and by zod.
 */
export const FORBIDDEN_TARGET =
  /^(169\.254\.[0-9.]*|0+(\.0+){0,3}|100\.100\.100\.200|[fF][eE][89aAbB][0-9a-fA-F]:.*|:+|0*:[0:]*|[fF][dD]00:[eE][cC]2::254|metadata|metadata\.google\.internal|metadata\.azure\.internal|instance-data|instance-data\.ec2\.internal)$/;

/** Go-style duration with an optional day unit, largest unit first: `30s`, `5m`, `1h30m`, `7d`. */
export const DURATION = /^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$/;
/** A non-negative Kubernetes quantity without exponent: `2`, `500m`, `1.5`, `512Mi`, `20G`. */
export const QUANTITY = /^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[mkMGTPE])?$/;
/** RFC 3339 timestamp as Kubernetes writes it. */
export const TIMESTAMP = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$/;
/** An absolute file path: plain characters, no `.` or `..` segments, no `//`. */
const PATH_CHAR = '[A-Za-z0-9_@+-]';
const PATH_CHAR_DOT = '[A-Za-z0-9._@+-]';
const PATH_SEGMENT = `(${PATH_CHAR}${PATH_CHAR_DOT}*|\\.${PATH_CHAR}${PATH_CHAR_DOT}*|\\.\\.${PATH_CHAR_DOT}+)`;
export const ABSOLUTE_PATH = new RegExp(`^(/${PATH_SEGMENT})+/?$`);
/** One OpenSSH public key line, `<type> <base64> [comment]`: no options prefix, no newline. */
export const SSH_PUBLIC_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [ -~]*)?$/;
/** A host key as the SSH layer pins it (reconcilers/ssh/hostkey.ts supports these types). */
export const SSH_HOST_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) [A-Za-z0-9+/]+={0,2}( [ -~]*)?$/;
/** A POSIX user name. */
export const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
/** An e-mail address without display name (nothing that could break a mail header). */
export const EMAIL = new RegExp(`^[A-Za-z0-9._%+-]+@(${LABEL}\\.)*${LABEL}$`);

// ---------------------------------------------------------------------------------------------
// Field builders.

/** A string with a length limit (every string has one, so CEL cost stays bounded). */
export function text(maxLength: number, pattern?: RegExp, hint?: string): z.ZodString {
  const s = z.string().max(maxLength);
  return pattern ? s.regex(pattern, hint ? { error: hint } : undefined) : s;
}

export const objectName = () => text(253, OBJECT_NAME, 'must be a lower-case DNS name (a-z, 0-9, "-", ".")');
export const dnsLabel = () => text(63, DNS_LABEL, 'must be a DNS label: a-z, 0-9 and "-", starting and ending with a letter or digit, at most 63 characters');
export const portName = () => text(15, PORT_NAME, 'must be a port name: a-z, 0-9 and "-", starting with a letter, at most 15 characters');
export const port = () => z.number().int().min(1).max(65535);
export const address = () =>
  text(253, ADDRESS, 'must be a lower-case host name, an IPv4 address or an IPv6 address without brackets');
export const ipAddress = () => text(64, IP_ADDRESS, 'must be an IPv4 address or an IPv6 address without brackets');
export const cidr = () => text(64, CIDR, 'must be a CIDR such as 10.0.0.0/24 or fd00::/64');
export const absolutePath = () => text(1024, ABSOLUTE_PATH, 'must be an absolute path of plain characters (A-Z a-z 0-9 . _ @ + -) without "." or ".." segments');
export const sshPublicKey = () =>
  text(8192, SSH_PUBLIC_KEY, 'must be one OpenSSH public key line such as "ssh-ed25519 AAAA... user@laptop" (no options, no newlines)');
export const unixUser = () => text(32, UNIX_USER, 'must be a POSIX user name: a-z, 0-9, "_" and "-", starting with a letter or "_"');
export const email = () => text(254, EMAIL, 'must be a plain e-mail address such as ops@example.com');

/**
 * A list whose items are identified by key fields (`x-kubernetes-list-type: map`), so server-side
 * apply merges items by key and kube-apiserver rejects duplicates; zod rejects them too.
 */
export function listMap<T extends z.ZodType>(item: T, keys: string[], maxItems: number) {
  return z
    .array(item)
    .max(maxItems)
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((value, index) => {
        const parts = keys.map((k) => `${k} ${JSON.stringify((value as Record<string, unknown>)[k])}`);
        const id = parts.join(', ');
        if (seen.has(id)) ctx.addIssue({ code: 'custom', message: `duplicate ${id}: each item needs a unique ${keys.join(' and ')}`, path: [index], input: value });
        seen.add(id);
      });
    })
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': keys });
}

/** A list of unique scalars (`x-kubernetes-list-type: set`). */
export function listSet<T extends z.ZodType>(item: T, maxItems: number) {
  return z
    .array(item)
    .max(maxItems)
    .superRefine((items, ctx) => {
      const seen = new Set<unknown>();
      items.forEach((value, index) => {
        if (seen.has(value)) ctx.addIssue({ code: 'custom', message: `duplicate value ${JSON.stringify(value)}: each item may appear once`, path: [index], input: value });
        seen.add(value);
      });
    })
    .meta({ 'x-kubernetes-list-type': 'set' });
}

/** A duration such as `30s`, `5m`, `1h30m` or `7d` (largest unit first). */
export const duration = () =>
  z
    .string()
    .min(2)
    .max(32)
    .regex(DURATION, { error: 'must be a duration such as 30s, 5m, 1h30m or 7d (units d, h, m, s, ms; largest first)' });

/** A Kubernetes quantity, written as a number (`2`) or a string (`500m`, `4Gi`). */
export const quantity = () =>
  z
    .union([z.number().int().min(0), text(64, QUANTITY, 'must be a quantity such as 2, 500m, 1.5, 512Mi or 20Gi')])
    .meta({ 'x-kubernetes-int-or-string': true });

export const timestamp = () => text(64, TIMESTAMP, 'must be an RFC 3339 time such as 2030-01-31T18:00:00Z').meta({ format: 'date-time' });

/** A reference to an object of another kind in the same namespace (never across namespaces). */
export function localObjectReference(kind: string) {
  return z.strictObject({ name: objectName().describe(`Name of the ${kind} in the same namespace.`) })
    .describe(`A reference to a ${kind} in the same namespace.`);
}
export type LocalObjectReference = z.infer<ReturnType<typeof localObjectReference>>;

/**
 * A reference to one key of a Secret in the same namespace. There is no namespace field on
 * purpose: a resource can only ever read Secrets next to it.
 */
export function secretKeyRef(defaultKey?: string) {
  const key = text(253, SECRET_KEY, 'must be a Secret data key: A-Z, a-z, 0-9, "-", "_" and "."');
  return z
    .strictObject({
      name: objectName().describe('Name of the Secret in the same namespace.'),
      key: (defaultKey === undefined ? key : key.default(defaultKey)).describe(
        defaultKey === undefined ? 'Key within the Secret.' : `Key within the Secret (default ${defaultKey}).`,
      ),
    })
    .describe('A key of a Secret in the same namespace.');
}
export type SecretKeyRef = z.infer<ReturnType<typeof secretKeyRef>>;

/** A whole Secret in the same namespace, when its type fixes the keys (kubernetes.io/tls). */
export function secretReference() {
  return z.strictObject({ name: objectName().describe('Name of the Secret in the same namespace.') })
    .describe('A Secret in the same namespace.');
}
export type SecretReference = z.infer<ReturnType<typeof secretReference>>;

export const deletionPolicy = () =>
  z
    .enum(['Delete', 'Orphan'])
    .default('Delete')
    .describe('What happens to the external objects when this resource is deleted: Delete removes them, Orphan leaves them running and untouched.');
export type DeletionPolicy = 'Delete' | 'Orphan';

// ---------------------------------------------------------------------------------------------
// Status pieces.

export const conditionSchema = z
  .strictObject({
    type: text(316, /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/).describe(
      'Condition type: Ready, Synced, Reconciling, Stalled, or a kind-specific type.',
    ),
    status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
    reason: text(1024, /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/).optional().describe('Machine-readable CamelCase reason for the last transition.'),
    message: text(32768).optional().describe('Human-readable explanation: what happened and what to do about it.'),
    lastTransitionTime: timestamp().optional().describe('When the status last changed (not when it was last checked).'),
    observedGeneration: z.number().int().min(0).optional().describe('The metadata.generation this condition was computed from.'),
  })
  .describe('One aspect of the resource\'s state, in the Kubernetes condition convention.');
export type Condition = z.infer<typeof conditionSchema>;

export const conditionsField = () =>
  z
    .array(conditionSchema)
    .max(32)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
    .optional()
    .describe('Current conditions. Ready and Synced are always present once reconciled; Reconciling and Stalled where they apply.');

export const observedGeneration = () =>
  z.number().int().min(0).optional().describe('The metadata.generation the controller last acted on.');

/** The status shape shared by all kinds, extended with the kind's own fields (all optional). */
export function statusSchema<Shape extends z.ZodRawShape>(description: string, shape: Shape) {
  return z.strictObject({ observedGeneration: observedGeneration(), conditions: conditionsField(), ...shape }).describe(description);
}

// ---------------------------------------------------------------------------------------------
// Parsing helpers the reconcilers share.

const DURATION_UNITS_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Milliseconds in a duration string that matched DURATION. */
export function parseDuration(value: string): number {
  if (value.length < 2 || !DURATION.test(value)) throw new RangeError(`not a duration: ${JSON.stringify(value.slice(0, 40))}`);
  let total = 0;
  for (const m of value.matchAll(/([0-9]+)(ms|d|h|m|s)/g)) total += Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
  return total;
}

const QUANTITY_SUFFIX: Record<string, number> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The numeric value of a quantity (bytes for memory and disk, cores for cpu). */
export function parseQuantity(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(value);
  const factor = m ? QUANTITY_SUFFIX[m[2]!] : undefined;
  if (!m || factor === undefined || !QUANTITY.test(value)) throw new RangeError(`not a quantity: ${JSON.stringify(value.slice(0, 40))}`);
  return Number(m[1]) * factor;
}
