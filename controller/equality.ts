// Semantic equality of API objects: key order and undefined-valued keys do not matter, because
// neither survives a round trip through the API server.
import { isDeepStrictEqual } from 'node:util';

export function normalize<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

export function semanticEqual(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normalize(a), normalize(b));
}
