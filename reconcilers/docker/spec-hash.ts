// A stable hash of a plain value: the same content gives the same hash whatever the key order, so a
// container is re-created only when something that matters changed. Pure; no I/O.
import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level. Undefined object fields are dropped (as JSON does),
 * so an unset optional field and a missing one hash alike; arrays keep their order.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortKeys(v)));
  if (value !== null && typeof value === 'object') {
    if (value instanceof Date) return value.toISOString();
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`cannot hash the number ${value}`);
  if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') {
    throw new TypeError(`cannot hash a ${typeof value}`);
  }
  return value;
}

/** First 16 hex digits of the SHA-256 of the canonical JSON: short enough for a label, long enough to never collide in practice. */
export function specHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}
