// JSON values as CEL sees them, typed by the schema the way kube-apiserver's UnstructuredToVal
// types them: `integer` is int, `number` is double (even when the JSON says 1), date-time and
// date strings are timestamps, duration strings durations, `format: byte` strings bytes, and
// object properties are read by their escaped names.
import { create } from '@bufbuild/protobuf';
import { DurationSchema, TimestampSchema } from '@bufbuild/protobuf/wkt';
import type { Decl } from './decl.ts';
import { escapeName } from './decl.ts';

type CelInput = unknown;

export function toCel(value: unknown, decl: Decl | undefined): CelInput {
  if (value === null || value === undefined) return null;
  if (!decl) return dynToCel(value);
  const t = decl.type;
  switch (t.k) {
    case 'int':
      return typeof value === 'number' ? BigInt(Math.trunc(value)) : dynToCel(value);
    case 'double':
      return typeof value === 'number' ? value : dynToCel(value);
    case 'timestamp':
      return typeof value === 'string' ? (timestampValue(value) ?? value) : dynToCel(value);
    case 'duration':
      return typeof value === 'string' ? (durationValue(value) ?? value) : dynToCel(value);
    case 'bytes':
      return typeof value === 'string' ? new Uint8Array(Buffer.from(value, 'base64')) : dynToCel(value);
    case 'list':
      return Array.isArray(value) ? value.map((v) => toCel(v, decl.elem)) : dynToCel(value);
    case 'map': {
      if (!isPlainObject(value)) return dynToCel(value);
      const m = new Map<string, CelInput>();
      for (const [k, v] of Object.entries(value)) m.set(k, toCel(v, decl.elem));
      return m;
    }
    case 'object': {
      if (!isPlainObject(value)) return dynToCel(value);
      const m = new Map<string, CelInput>();
      for (const [k, v] of Object.entries(value)) {
        const name = escapeName(k);
        const d = name ? decl.fields?.get(name) : undefined;
        if (name && d && v !== undefined) m.set(name, toCel(v, d));
      }
      return m;
    }
    default:
      return dynToCel(value);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Untyped JSON (int-or-string, preserved unknown fields): whole numbers are ints. */
export function dynToCel(value: unknown): CelInput {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isInteger(value) && Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(dynToCel);
  if (isPlainObject(value)) {
    const m = new Map<string, CelInput>();
    for (const [k, v] of Object.entries(value)) m.set(k, dynToCel(v));
    return m;
  }
  return value;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2}))?$/;

export function timestampValue(s: string) {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone = 'Z'] = m;
  const millis = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  if (Number.isNaN(millis)) return undefined;
  let offset = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    offset = sign * (Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(4, 6)) * 60);
  }
  return create(TimestampSchema, { seconds: BigInt(millis / 1000 - offset), nanos: Number(frac.padEnd(9, '0')) });
}

const UNIT_NANOS: Record<string, bigint> = { ns: 1n, us: 1000n, 'µs': 1000n, 'μs': 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

/** Go's time.ParseDuration, which is what `format: duration` means in a CRD. */
export function parseGoDuration(s: string): bigint | undefined {
  let rest = s;
  let sign = 1n;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1n;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (!rest) return undefined;
  let total = 0n;
  const part = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (rest) {
    const m = part.exec(rest);
    if (!m || (!m[1] && !m[2])) return undefined;
    const unit = UNIT_NANOS[m[3]!]!;
    const frac = m[2] ?? '';
    total += BigInt(m[1] || '0') * unit + (frac ? (BigInt(frac) * unit) / 10n ** BigInt(frac.length) : 0n);
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

export function durationValue(s: string) {
  const nanos = parseGoDuration(s);
  if (nanos === undefined) return undefined;
  return create(DurationSchema, { seconds: nanos / 1_000_000_000n, nanos: Number(nanos % 1_000_000_000n) });
}
