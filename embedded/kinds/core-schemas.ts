// Schemas of the built-in kinds, in the same JSONSchemaProps form CRDs use, so one set of
// machinery validates them, types them for server-side apply and strategic merge, and publishes
// them in OpenAPI for `kubectl explain`. Descriptions are short summaries written for this server.
import type { JSONSchemaProps } from './types.ts';

const str = (description: string, extra: JSONSchemaProps = {}): JSONSchemaProps => ({ type: 'string', description, ...extra });
const int = (description: string, format = 'int32'): JSONSchemaProps => ({ type: 'integer', format, description });
const bool = (description: string): JSONSchemaProps => ({ type: 'boolean', description });
const time = (description: string): JSONSchemaProps => ({ type: 'string', format: 'date-time', description });
const microTime = (description: string): JSONSchemaProps => ({ type: 'string', format: 'date-time', description });
const obj = (description: string, properties: Record<string, JSONSchemaProps>, required?: string[]): JSONSchemaProps => ({
  type: 'object',
  description,
  properties,
  ...(required ? { required } : {}),
});
const stringMap = (description: string, format?: string): JSONSchemaProps => ({
  type: 'object',
  description,
  additionalProperties: { type: 'string', ...(format ? { format } : {}) },
});
const atomicList = (description: string, items: JSONSchemaProps): JSONSchemaProps => ({
  type: 'array',
  description,
  items,
  'x-kubernetes-list-type': 'atomic',
});

export const ownerReferenceSchema = obj(
  'Identifies an object that owns this one; when every owner is gone, the garbage collector deletes this object.',
  {
    apiVersion: str('API version of the owner.'),
    kind: str('Kind of the owner.'),
    name: str('Name of the owner.'),
    uid: str('UID of the owner.'),
    controller: bool('True if the owner is the managing controller.'),
    blockOwnerDeletion: bool('If true, the owner cannot be deleted in the foreground before this object is removed.'),
  },
  ['apiVersion', 'kind', 'name', 'uid'],
);

export const managedFieldsEntrySchema = obj('Which fields a workflow (field manager) set, for server-side apply.', {
  manager: str('The field manager.'),
  operation: str('Apply or Update.'),
  apiVersion: str('Version of the fields set.'),
  time: time('When the entry last changed.'),
  fieldsType: str('Format of fieldsV1; always FieldsV1.'),
  fieldsV1: { type: 'object', description: 'The set of fields, as a trie.', 'x-kubernetes-preserve-unknown-fields': true },
  subresource: str('The subresource the fields were set through, if any.'),
});

export const objectMetaSchema: JSONSchemaProps = obj('Standard object metadata: name, namespace, labels and what the server tracks.', {
  name: str('Unique name within the namespace (or the cluster, for cluster-scoped kinds). Cannot be changed.'),
  generateName: str('Prefix the server uses to generate a unique name when name is empty.'),
  namespace: str('Namespace the object lives in. Cannot be changed.'),
  selfLink: str('Deprecated; always empty.'),
  uid: str('Unique identifier set by the server. Read-only.'),
  resourceVersion: str('Opaque version of the object, for optimistic concurrency and watches.'),
  generation: int('Sequence number of the desired state; incremented on spec changes.', 'int64'),
  creationTimestamp: time('When the object was created. Read-only.'),
  deletionTimestamp: time('When deletion was requested; set by the server. Read-only.'),
  deletionGracePeriodSeconds: int('Seconds allowed for graceful termination.', 'int64'),
  labels: stringMap('Key/value pairs used to organize and select objects.'),
  annotations: stringMap('Arbitrary non-identifying metadata.'),
  ownerReferences: {
    type: 'array',
    description: 'Objects this object depends on.',
    items: ownerReferenceSchema,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['uid'],
    'x-kubernetes-patch-strategy': 'merge',
    'x-kubernetes-patch-merge-key': 'uid',
  },
  finalizers: {
    type: 'array',
    description: 'Entries that must be removed before the object is deleted from storage.',
    items: { type: 'string' },
    'x-kubernetes-list-type': 'set',
    'x-kubernetes-patch-strategy': 'merge',
  },
  managedFields: atomicList('Field ownership records for server-side apply.', managedFieldsEntrySchema),
});

const typeMeta = {
  apiVersion: str('Versioned schema of this representation of the object.'),
  kind: str('Kind of object this is.'),
};

const conditionSchema = (what: string): JSONSchemaProps =>
  obj(`A condition of the ${what}.`, {
    type: str('Type of the condition.'),
    status: str('True, False or Unknown.'),
    lastTransitionTime: time('Last time the status changed.'),
    reason: str('Machine-readable reason for the last transition.'),
    message: str('Human-readable details.'),
  }, ['type', 'status']);

export const namespaceSchema: JSONSchemaProps = obj('A scope for names; deleting it deletes everything in it.', {
  ...typeMeta,
  metadata: objectMetaSchema,
  spec: obj('Desired state of the namespace.', {
    finalizers: atomicList('Entries that must be cleared before the namespace is removed.', { type: 'string' }),
  }),
  status: obj('Observed state of the namespace.', {
    phase: str('Active or Terminating.', { enum: ['Active', 'Terminating'] }),
    conditions: {
      type: 'array',
      description: 'Latest observations of the namespace state.',
      items: conditionSchema('namespace'),
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      'x-kubernetes-patch-strategy': 'merge',
      'x-kubernetes-patch-merge-key': 'type',
    },
  }),
});

export const secretSchema: JSONSchemaProps = obj('Holds sensitive data such as passwords, tokens or keys.', {
  ...typeMeta,
  metadata: objectMetaSchema,
  data: stringMap('Secret data; values are base64-encoded.', 'byte'),
  stringData: stringMap('Write-only convenience: plain-text values merged into data on write.'),
  type: str('Used to facilitate programmatic handling of secret data; defaults to Opaque.'),
  immutable: bool('If true, data cannot be changed after creation.'),
});

export const configMapSchema: JSONSchemaProps = obj('Holds non-confidential configuration data.', {
  ...typeMeta,
  metadata: objectMetaSchema,
  data: stringMap('Configuration data as UTF-8 strings.'),
  binaryData: stringMap('Binary configuration data; values are base64-encoded.', 'byte'),
  immutable: bool('If true, data cannot be changed after creation.'),
});

const objectReferenceSchema = obj('A reference to an object.', {
  apiVersion: str('API version of the referent.'),
  kind: str('Kind of the referent.'),
  name: str('Name of the referent.'),
  namespace: str('Namespace of the referent.'),
  uid: str('UID of the referent.'),
  resourceVersion: str('Specific resourceVersion referred to.'),
  fieldPath: str('A field within the referent, if the reference is to part of it.'),
});

export const coreEventSchema: JSONSchemaProps = obj('A report of something that happened to an object (core/v1 form).', {
  ...typeMeta,
  metadata: objectMetaSchema,
  involvedObject: objectReferenceSchema,
  reason: str('Short machine-readable reason for the event.'),
  message: str('Human-readable description.'),
  source: obj('Component that reported the event.', { component: str('Component name.'), host: str('Node name.') }),
  firstTimestamp: time('When the event was first recorded.'),
  lastTimestamp: time('When the event most recently occurred.'),
  count: int('How many times this event occurred.'),
  type: str('Normal or Warning.'),
  eventTime: microTime('When the event was first observed.'),
  series: obj('Data about a series of repeated events.', { count: int('Occurrences in the series.'), lastObservedTime: microTime('Time of the last occurrence.') }),
  action: str('What action was taken or failed.'),
  related: objectReferenceSchema,
  reportingComponent: str('Controller that emitted the event.'),
  reportingInstance: str('ID of the controller instance.'),
}, ['metadata', 'involvedObject']);

export const eventsV1EventSchema: JSONSchemaProps = obj('A report of something that happened to an object (events.k8s.io/v1 form).', {
  ...typeMeta,
  metadata: objectMetaSchema,
  eventTime: microTime('When the event was first observed.'),
  series: obj('Data about a series of repeated events.', { count: int('Occurrences in the series.'), lastObservedTime: microTime('Time of the last occurrence.') }, ['count', 'lastObservedTime']),
  reportingController: str('Controller that emitted the event.'),
  reportingInstance: str('ID of the controller instance.'),
  action: str('What action was taken or failed.'),
  reason: str('Why the action was taken.'),
  regarding: objectReferenceSchema,
  related: objectReferenceSchema,
  note: str('Human-readable description.'),
  type: str('Normal or Warning.'),
  deprecatedSource: obj('Deprecated core/v1 source.', { component: str('Component name.'), host: str('Node name.') }),
  deprecatedFirstTimestamp: time('Deprecated core/v1 firstTimestamp.'),
  deprecatedLastTimestamp: time('Deprecated core/v1 lastTimestamp.'),
  deprecatedCount: int('Deprecated core/v1 count.'),
}, ['eventTime']);

export const leaseSchema: JSONSchemaProps = obj('A lease, used for leader election.', {
  ...typeMeta,
  metadata: objectMetaSchema,
  spec: obj('Specification of the lease.', {
    holderIdentity: str('Identity of the current holder.'),
    leaseDurationSeconds: int('How long candidates wait before forcing acquisition.'),
    acquireTime: microTime('When the current lease was acquired.'),
    renewTime: microTime('When the holder last renewed the lease.'),
    leaseTransitions: int('How many times the holder changed.'),
    strategy: str('Strategy for picking the leader in coordinated leader election.'),
    preferredHolder: str('Signals to the holder that it should give up the lease.'),
  }),
});

const anySchema: JSONSchemaProps = { 'x-kubernetes-preserve-unknown-fields': true };

const crdNamesSchema = obj('Names used to serve the custom resource.', {
  plural: str('Plural name used in URLs; must be lowercase.'),
  singular: str('Singular name; defaults to the lowercased kind.'),
  shortNames: atomicList('Short names for kubectl.', { type: 'string' }),
  kind: str('The serialized kind, CamelCase.'),
  listKind: str('The kind of lists; defaults to <kind>List.'),
  categories: atomicList('Groups the resource belongs to, as in `kubectl get all`.', { type: 'string' }),
}, ['plural', 'kind']);

export const crdSchema: JSONSchemaProps = obj('Defines a custom resource served by this API server.', {
  ...typeMeta,
  metadata: objectMetaSchema,
  spec: obj('Describes how the custom resource is served.', {
    group: str('API group of the resource, e.g. outrigger.dev.'),
    names: crdNamesSchema,
    scope: str('Cluster or Namespaced.'),
    versions: atomicList('Versions served, exactly one of them the storage version.', obj('One version of the resource.', {
      name: str('Version name, e.g. v1alpha1.'),
      served: bool('Whether the version is served.'),
      storage: bool('Whether objects are stored in this version.'),
      deprecated: bool('Whether the version is deprecated.'),
      deprecationWarning: str('Warning returned to clients of a deprecated version.'),
      schema: obj('Validation schema.', { openAPIV3Schema: { ...anySchema, type: 'object', description: 'OpenAPI v3 schema of the resource.' } }),
      subresources: obj('Subresources served.', {
        status: { ...anySchema, type: 'object', description: 'Enables the /status subresource.' },
        scale: { ...anySchema, type: 'object', description: 'Enables the /scale subresource (not served here).' },
      }),
      additionalPrinterColumns: atomicList('Extra columns for kubectl get.', obj('A printer column.', {
        name: str('Column title.'),
        type: str('integer, number, string, boolean or date.'),
        format: str('Optional format of the column.'),
        description: str('Column description.'),
        priority: int('0 shows the column by default; higher only with -o wide.'),
        jsonPath: str('Simple JSONPath evaluated against the object.'),
      }, ['name', 'type', 'jsonPath'])),
      selectableFields: atomicList('Fields usable in field selectors.', obj('A selectable field.', { jsonPath: str('Path of the field.') }, ['jsonPath'])),
    }, ['name', 'served', 'storage'])),
    conversion: { ...anySchema, type: 'object', description: 'How versions are converted; only None is supported here.' },
    preserveUnknownFields: bool('Deprecated; must be false.'),
  }, ['group', 'names', 'scope', 'versions']),
  status: obj('Observed state of the definition.', {
    conditions: {
      type: 'array',
      description: 'Established, NamesAccepted and Terminating.',
      items: conditionSchema('definition'),
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    acceptedNames: crdNamesSchema,
    storedVersions: atomicList('Versions objects have ever been stored in.', { type: 'string' }),
  }),
}, ['spec']);
