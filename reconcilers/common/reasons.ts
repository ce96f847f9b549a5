// The reconcile kit's reasons: what any kind may report, whatever system it drives. Providers
// (docker/, ssh/, nginx/) and kinds (workspace/, host/, proxyroute/) define their own next to them.
import { defineReasons, RuntimeReasons } from '../../controller/index.ts';

export const KitReasons = defineReasons('kit', {
  InvalidSpec: 'The spec is invalid: the message names the field and what to change',
  ReferenceNotFound: 'An object this one names does not exist in its namespace yet: create it or fix the reference',
  ReferenceDeleting: 'An object this one names is being deleted; it waits until nothing uses it',
  ReferenceGone: 'An object this one named was gone when this one was deleted; what it made there may remain',
  SecretNotFound: 'A Secret this object reads does not exist: create it or fix the reference',
  SecretKeyMissing: 'A Secret this object reads lacks the key it names',
  Unreachable: 'The external system (engine, SSH host, API) cannot be reached; retried, and resumed as soon as it answers',
  ExternalError: 'The external system refused or failed a call; it is retried with backoff',
  CreatePending: 'A create was started but its outcome is unknown (the controller stopped mid-create)',
  Creating: 'The external object is being made',
  Created: 'The external object was made',
  Updated: 'The external object was brought in line with the spec',
  Deleted: 'The external object was deleted with the resource (deletionPolicy Delete)',
  Orphaned: 'The external object was left in place (deletionPolicy Orphan)',
  Deleting: 'The resource is being deleted; its external objects are being removed',
  InUse: 'This object is named by others and waits with its deletion until they are gone',
  NotInUse: 'Nothing names this object any more; its deletion goes ahead',
});

/** The error codes reconcilers raise: the runtime's and the kit's (providers add their own). */
export const ErrorCodes = {
  Internal: RuntimeReasons.Internal,
  Conflict: RuntimeReasons.Conflict,
  KubeApiError: RuntimeReasons.KubeApiError,
  ReconcileTimeout: RuntimeReasons.ReconcileTimeout,
  InvalidSpec: KitReasons.InvalidSpec,
  ReferenceNotFound: KitReasons.ReferenceNotFound,
  SecretNotFound: KitReasons.SecretNotFound,
  SecretKeyMissing: KitReasons.SecretKeyMissing,
  Unreachable: KitReasons.Unreachable,
  ExternalError: KitReasons.ExternalError,
} as const;
