// What the server needs to know to serve one kind at one version, whether built in or defined by
// a CustomResourceDefinition.
import type { FieldError } from '../api/errors.ts';
import type { KubeObject } from '../storage/store.ts';

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps the server understands. */
export interface JSONSchemaProps {
  type?: string;
  format?: string;
  description?: string;
  title?: string;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  items?: JSONSchemaProps;
  additionalProperties?: boolean | JSONSchemaProps;
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  allOf?: JSONSchemaProps[];
  anyOf?: JSONSchemaProps[];
  oneOf?: JSONSchemaProps[];
  not?: JSONSchemaProps;
  example?: unknown;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: ValidationRule[];
  /** Strategic merge patch metadata (built-in kinds only). */
  'x-kubernetes-patch-strategy'?: string;
  'x-kubernetes-patch-merge-key'?: string;
}

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

export interface PrinterColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

/** A row of built-in table output: the cells after Name, computed from the object. */
export interface BuiltinTable {
  columns: Omit<PrinterColumn, 'jsonPath'>[];
  cells(obj: KubeObject, now: Date): unknown[];
}

export interface StrategyContext {
  now: Date;
  /** Non-fatal problems to report as Warning headers. */
  warnings: string[];
}

/** Per-kind rules applied on top of the generic ones (like a registry strategy in kube-apiserver). */
export interface KindStrategy {
  /** Fill server-owned fields on create (called on a private copy). */
  prepareForCreate?(obj: KubeObject, ctx: StrategyContext): void;
  /** Fill server-owned fields on update of the main resource (called on a private copy). */
  prepareForUpdate?(obj: KubeObject, old: KubeObject, ctx: StrategyContext): void;
  /** Kind-specific validation, beyond metadata and schema. */
  validate?(obj: KubeObject, old: KubeObject | undefined): FieldError[];
  /** Turn write-only convenience fields into stored ones (Secret stringData). */
  normalize?(obj: KubeObject): void;
}

export type NameRule = 'subdomain' | 'label' | 'path-segment';

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  namespaced: boolean;
  /** Key in the store; every version of a kind shares it. */
  storageResource: string;
  /** The version objects are kept in. */
  storageVersion: string;
  verbs: string[];
  statusSubresource: boolean;
  /** metadata.generation is kept (1 on create, +1 when the spec changes). */
  tracksGeneration: boolean;
  /** Schema of the whole object. */
  schema: JSONSchemaProps;
  /** CRD printer columns (after Name); builtins use `table` instead. */
  printerColumns?: PrinterColumn[];
  table?: BuiltinTable;
  builtin: boolean;
  /** Name of the CRD that defines it. */
  crdName?: string;
  strategy: KindStrategy;
  nameRule: NameRule;
  /** Extra field selectors beyond metadata.name / metadata.namespace. */
  fieldSelectors?: Record<string, (obj: KubeObject) => string | undefined>;
  /** Built-in kinds accept strategic merge patches; custom resources do not. */
  strategicMerge: boolean;
  /** DELETE answers with the deleted object (true) or a Success Status (false). */
  returnDeletedObject: boolean;
  /** Name in OpenAPI definitions, e.g. io.k8s.api.core.v1.Secret. */
  openapiName: string;
  deprecated?: boolean;
  deprecationWarning?: string;
  /** For review APIs: create answers with this, and nothing is stored. */
  answer?(request: KubeObject): KubeObject;
  /** Converts a stored object into this version (default: rewrite apiVersion). */
  fromStorage?(obj: KubeObject): KubeObject;
  /** Converts an object of this version into the stored form (default: rewrite apiVersion). */
  toStorage?(obj: KubeObject): KubeObject;
}

export function apiVersionOf(rt: Pick<ResourceType, 'group' | 'version'>): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

export function storageApiVersion(rt: ResourceType): string {
  return rt.group ? `${rt.group}/${rt.storageVersion}` : rt.storageVersion;
}
