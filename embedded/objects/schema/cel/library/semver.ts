// Kubernetes' semver library (version 1): isSemver(s[, normalize]), semver(s[, normalize]),
// major/minor/patch, compareTo, isGreaterThan, isLessThan, and `==`, which ignores build
// metadata. Versions parse as blang/semver's Parse does, with its error texts; normalize first
// drops a leading "v", fills in a missing minor and patch, and removes leading zeros.
import { makeOpaque, payloadOf, SEMVER_DESC } from '../opaque.ts';
import { BOOL, INT, SEMVER_T, STRING } from '../types.ts';
import { fn, method, type Overload } from './overload.ts';

interface Prerelease {
  num?: bigint;
  str?: string;
}

export interface Semver {
  major: bigint;
  minor: bigint;
  patch: bigint;
  pre: Prerelease[];
}

const NUMBERS = /^[0-9]*$/;
const ALPHANUM = /^[0-9A-Za-z-]*$/;
const UINT64_MAX = (1n << 64n) - 1n;

const quote = (s: string) => JSON.stringify(s);
const leadingZero = (s: string) => s.length > 1 && s[0] === '0';

/** Go's strconv.ParseUint(s, 10, 64). */
function parseUint(s: string): bigint {
  if (!/^[0-9]+$/.test(s)) throw new Error(`strconv.ParseUint: parsing ${quote(s)}: invalid syntax`);
  const v = BigInt(s);
  if (v > UINT64_MAX) throw new Error(`strconv.ParseUint: parsing ${quote(s)}: value out of range`);
  return v;
}

function number(s: string, what: string): bigint {
  if (!NUMBERS.test(s)) throw new Error(`Invalid character(s) found in ${what} number ${quote(s)}`);
  if (leadingZero(s)) throw new Error(`${what[0]!.toUpperCase()}${what.slice(1)} number must not contain leading zeroes ${quote(s)}`);
  return parseUint(s);
}

function prerelease(s: string): Prerelease {
  if (!s) throw new Error('Prerelease is empty');
  if (NUMBERS.test(s)) {
    if (leadingZero(s)) throw new Error(`Numeric PreRelease version must not contain leading zeroes ${quote(s)}`);
    return { num: parseUint(s) };
  }
  if (ALPHANUM.test(s)) return { str: s };
  throw new Error(`Invalid character(s) found in prerelease ${quote(s)}`);
}

export function parseSemver(s: string): Semver {
  if (!s) throw new Error('Version string empty');
  const first = s.indexOf('.');
  const second = first < 0 ? -1 : s.indexOf('.', first + 1);
  if (second < 0) throw new Error('No Major.Minor.Patch elements found');
  const major = number(s.slice(0, first), 'major');
  const minor = number(s.slice(first + 1, second), 'minor');
  let patch = s.slice(second + 1);
  let build: string[] = [];
  let pre: string[] = [];
  const plus = patch.indexOf('+');
  if (plus >= 0) {
    build = patch.slice(plus + 1).split('.');
    patch = patch.slice(0, plus);
  }
  const dash = patch.indexOf('-');
  if (dash >= 0) {
    pre = patch.slice(dash + 1).split('.');
    patch = patch.slice(0, dash);
  }
  const v: Semver = { major, minor, patch: number(patch, 'patch'), pre: pre.map(prerelease) };
  for (const b of build) {
    if (!b) throw new Error('Build meta data is empty');
    if (!ALPHANUM.test(b)) throw new Error(`Invalid character(s) found in build meta data ${quote(b)}`);
  }
  return v;
}

/** The library's normalizeAndParse. */
function normalizeAndParse(s: string): Semver {
  const parts = (s.startsWith('v') ? s.slice(1) : s).split('.');
  const split = parts.length > 3 ? [...parts.slice(0, 2), parts.slice(2).join('.')] : parts;
  const cleaned = split.map((p) => {
    if (p.length <= 1) return p;
    const trimmed = p.replace(/^0+/, '');
    return trimmed === '' || !/^[0-9]/.test(trimmed) ? `0${trimmed}` : trimmed;
  });
  if (cleaned.length < 3) {
    if (/[+-]/.test(cleaned[cleaned.length - 1]!)) throw new Error('short version cannot contain PreRelease/Build meta data');
    while (cleaned.length < 3) cleaned.push('0');
  }
  return parseSemver(cleaned.join('.'));
}

function cmp(a: bigint, b: bigint): number {
  return a === b ? 0 : a > b ? 1 : -1;
}

export function compareSemver(v: Semver, o: Semver): number {
  const c = cmp(v.major, o.major) || cmp(v.minor, o.minor) || cmp(v.patch, o.patch);
  if (c) return c;
  if (!v.pre.length || !o.pre.length) return v.pre.length === o.pre.length ? 0 : v.pre.length ? -1 : 1;
  for (let i = 0; i < v.pre.length && i < o.pre.length; i++) {
    const a = v.pre[i]!;
    const b = o.pre[i]!;
    let d: number;
    if (a.num !== undefined && b.num !== undefined) d = cmp(a.num, b.num);
    else if (a.num !== undefined) d = -1;
    else if (b.num !== undefined) d = 1;
    else d = a.str === b.str ? 0 : a.str! > b.str! ? 1 : -1;
    if (d) return d;
  }
  return cmp(BigInt(v.pre.length), BigInt(o.pre.length));
}

/** Equal versions (build metadata aside) share a key, so `==` agrees with compareTo. */
function semverValue(v: Semver) {
  const pre = v.pre.map((p) => (p.num !== undefined ? String(p.num) : p.str)).join('.');
  return makeOpaque(SEMVER_DESC, `${v.major}.${v.minor}.${v.patch}${pre ? `-${pre}` : ''}`, v);
}

function parse(s: string, normalize = false): Semver {
  return normalize ? normalizeAndParse(s) : parseSemver(s);
}

function isSemver(s: string, normalize = false): boolean {
  try {
    parse(s, normalize);
    return true;
  } catch {
    return false;
  }
}

const sv = (x: unknown) => payloadOf<Semver>(x);

export const SEMVER_OVERLOADS: Overload[] = [
  fn('string_to_semver', 'semver', [STRING], SEMVER_T, ((s: string) => semverValue(parse(s))) as never),
  fn('string_bool_to_semver', 'semver', [STRING, BOOL], SEMVER_T, ((s: string, n: boolean) => semverValue(parse(s, n))) as never),
  fn('is_semver_string', 'isSemver', [STRING], BOOL, ((s: string) => isSemver(s)) as never),
  fn('is_semver_string_bool', 'isSemver', [STRING, BOOL], BOOL, isSemver as never),
  method('semver_is_greater_than', 'isGreaterThan', SEMVER_T, [SEMVER_T], BOOL, ((a: unknown, b: unknown) => compareSemver(sv(a), sv(b)) === 1) as never),
  method('semver_is_less_than', 'isLessThan', SEMVER_T, [SEMVER_T], BOOL, ((a: unknown, b: unknown) => compareSemver(sv(a), sv(b)) === -1) as never),
  method('semver_compare_to', 'compareTo', SEMVER_T, [SEMVER_T], INT, ((a: unknown, b: unknown) => BigInt(compareSemver(sv(a), sv(b)))) as never),
  method('semver_major', 'major', SEMVER_T, [], INT, ((a: unknown) => sv(a).major) as never),
  method('semver_minor', 'minor', SEMVER_T, [], INT, ((a: unknown) => sv(a).minor) as never),
  method('semver_patch', 'patch', SEMVER_T, [], INT, ((a: unknown) => sv(a).patch) as never),
];
