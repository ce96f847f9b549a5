// The reason catalog: every condition reason and error code Outrigger writes into status or events
// is defined once, by the layer that owns it, with a one-line meaning. Layers call defineReasons
// at module load; a test checks that status and events use no reason outside the catalog, and
// docs/reasons.md is generated from it so a user who sees a reason can look it up.
// This module is generic: the runtime's own reasons are below, kinds and providers define theirs.

export interface ReasonEntry {
  reason: string;
  /** The layer that owns it, e.g. "controller", "kit", "docker", "workspace". */
  layer: string;
  meaning: string;
}

const catalog = new Map<string, ReasonEntry>();

type Meanings = Record<string, string | { reason: string; meaning: string }>;
type Reasons<T extends Meanings> = { readonly [K in keyof T]: T[K] extends { reason: infer R } ? R : K & string };

/**
 * Registers reasons and returns them as constants. A key maps to itself (`{ Ready: 'meaning' }`)
 * or to another spelling (`{ Timeout: { reason: 'SshTimeout', meaning } }`). Defining one reason
 * in two layers with different meanings is a programming error.
 */
export function defineReasons<const T extends Meanings>(layer: string, meanings: T): Reasons<T> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(meanings)) {
    const reason = typeof value === 'string' ? key : value.reason;
    const meaning = typeof value === 'string' ? value : value.meaning;
    const known = catalog.get(reason);
    if (known && known.meaning !== meaning) {
      throw new Error(`reason ${reason} is defined twice: by ${known.layer} ("${known.meaning}") and by ${layer} ("${meaning}")`);
    }
    if (!known) catalog.set(reason, { reason, layer, meaning });
    out[key] = reason;
  }
  return Object.freeze(out) as Reasons<T>;
}

export function isKnownReason(reason: string | undefined): boolean {
  return reason !== undefined && catalog.has(reason);
}

export function reasonEntry(reason: string): ReasonEntry | undefined {
  return catalog.get(reason);
}

/** Every reason defined so far, sorted by layer then name. */
export function reasonCatalog(): ReasonEntry[] {
  return [...catalog.values()].sort((a, b) => a.layer.localeCompare(b.layer) || a.reason.localeCompare(b.reason));
}

/** The runtime's own reasons: outcomes of a reconcile, whatever the kind. */
export const RuntimeReasons = defineReasons('controller', {
  Available: 'The resource is ready: the world matches its spec',
  ReconcileSuccess: 'The last reconcile succeeded',
  Progressing: 'Work is under way and will go on by itself',
  ReconcileTimeout: 'A reconcile took longer than the controller allows; it is retried',
  KubeApiError: 'The Kubernetes API refused or failed a request; it is retried',
  ApiUnreachable: 'The Kubernetes API server cannot be reached; the controller keeps retrying',
  Conflict: 'Another writer changed the object first; the reconcile runs again on fresh data',
  Internal: 'An unexpected error inside Outrigger; it is retried (please report it with the log)',
});
