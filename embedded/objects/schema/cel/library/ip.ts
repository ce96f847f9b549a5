// Kubernetes' IP and CIDR libraries: ip(), isIP(), ip.isCanonical(), family(), the is* address
// class tests, string(); cidr(), isCIDR(), containsIP(), containsCIDR(), ip(), prefixLength(),
// masked(). Addresses parse by Go's net/netip rules (no leading zeros in IPv4 fields, RFC 4291
// IPv6) with its error texts, and kube-apiserver's extra refusals (zones, IPv4-mapped IPv6).
import { CIDR_DESC, IP_DESC, makeOpaque, payloadOf } from '../opaque.ts';
import { BOOL, CIDR_T, INT, IP_T, STRING } from '../types.ts';
import { fn, method, type Overload } from './overload.ts';

export interface Addr {
  bytes: Uint8Array;
  v4: boolean;
  zone: string;
}

interface Prefix {
  addr: Addr;
  bits: number;
}

class AddrError extends Error {}

function addrError(input: string, msg: string, at = ''): AddrError {
  return new AddrError(`ParseAddr(${JSON.stringify(input)}): ${msg}${at ? ` (at ${JSON.stringify(at)})` : ''}`);
}

function parseV4Fields(input: string, s: string, out: Uint8Array, offset: number): void {
  let val = 0;
  let pos = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c >= '0' && c <= '9') {
      if (digits === 1 && val === 0) throw addrError(input, 'IPv4 field has octet with leading zero');
      val = val * 10 + Number(c);
      digits++;
      if (val > 255) throw addrError(input, 'IPv4 field has value >255');
    } else if (c === '.') {
      if (i === 0 || i === s.length - 1 || s[i - 1] === '.') throw addrError(input, 'IPv4 field must have at least one digit', s.slice(i));
      if (pos === 3) throw addrError(input, 'IPv4 address too long');
      out[offset + pos++] = val;
      val = 0;
      digits = 0;
    } else {
      throw addrError(input, 'unexpected character', s.slice(i));
    }
  }
  if (pos < 3) throw addrError(input, 'IPv4 address too short');
  out[offset + 3] = val;
}

function parseV6(input: string): Addr {
  let s = input;
  let zone = '';
  const pct = s.indexOf('%');
  if (pct >= 0) {
    zone = s.slice(pct + 1);
    s = s.slice(0, pct);
    if (!zone) throw addrError(input, 'zone must be a non-empty string');
  }
  const ip = new Uint8Array(16);
  let ellipsis = -1;
  if (s.startsWith('::')) {
    ellipsis = 0;
    s = s.slice(2);
    if (!s) return { bytes: ip, v4: false, zone };
  }
  let i = 0;
  while (i < 16) {
    let off = 0;
    let acc = 0;
    for (; off < s.length; off++) {
      const d = parseInt(s[off]!, 16);
      if (Number.isNaN(d)) break;
      acc = acc * 16 + d;
      if (off > 3) throw addrError(input, 'each group must have 4 or less digits', s);
      if (acc > 0xffff) throw addrError(input, 'IPv6 field has value >=2^16', s);
    }
    if (off === 0) throw addrError(input, 'each colon-separated field must have at least one digit', s);
    if (off < s.length && s[off] === '.') {
      if (ellipsis < 0 && i !== 12) throw addrError(input, 'embedded IPv4 address must replace the final 2 fields of the address', s);
      if (i + 4 > 16) throw addrError(input, 'too many hex fields to fit an embedded IPv4 at the end of the address', s);
      parseV4Fields(input, s, ip, i);
      s = '';
      i += 4;
      break;
    }
    ip[i] = acc >> 8;
    ip[i + 1] = acc & 0xff;
    i += 2;
    s = s.slice(off);
    if (!s) break;
    if (s[0] !== ':') throw addrError(input, 'unexpected character, want colon', s);
    if (s.length === 1) throw addrError(input, 'colon must be followed by more characters', s);
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) throw addrError(input, 'multiple :: in address', s);
      ellipsis = i;
      s = s.slice(1);
      if (!s) break;
    }
  }
  if (s) throw addrError(input, 'trailing garbage after address', s);
  if (i < 16) {
    if (ellipsis < 0) throw addrError(input, 'address string too short');
    const n = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j]!;
    ip.fill(0, ellipsis, ellipsis + n);
  } else if (ellipsis >= 0) {
    throw addrError(input, 'the :: must expand to at least one field of zeros');
  }
  return { bytes: ip, v4: false, zone };
}

/** Go's netip.ParseAddr. */
export function parseAddr(s: string): Addr {
  for (const c of s) {
    if (c === '.') {
      const bytes = new Uint8Array(4);
      parseV4Fields(s, s, bytes, 0);
      return { bytes, v4: true, zone: '' };
    }
    if (c === ':') return parseV6(s);
    if (c === '%') throw addrError(s, 'missing IPv6 address');
  }
  throw addrError(s, 'unable to parse IP');
}

function isV4Mapped(a: Addr): boolean {
  return !a.v4 && a.bytes.slice(0, 10).every((b) => b === 0) && a.bytes[10] === 0xff && a.bytes[11] === 0xff;
}

/** What ip() accepts: a plain address, no zone, not IPv4-mapped IPv6. */
function parseIPAddr(raw: string): Addr {
  let a: Addr;
  try {
    a = parseAddr(raw);
  } catch (err) {
    throw new Error(`IP Address ${JSON.stringify(raw)} parse error during conversion from string: ${(err as Error).message}`);
  }
  if (a.zone) throw new Error(`IP address ${JSON.stringify(raw)} with zone value is not allowed`);
  if (isV4Mapped(a)) throw new Error(`IPv4-mapped IPv6 address ${JSON.stringify(raw)} is not allowed`);
  return a;
}

/** netip's canonical text: dotted IPv4, RFC 5952 IPv6 (longest zero run of 2+ groups as ::). */
export function addrString(a: Addr): string {
  if (a.v4) return [...a.bytes].join('.');
  if (isV4Mapped(a)) return `::ffff:${[...a.bytes.slice(12)].join('.')}${a.zone ? `%${a.zone}` : ''}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((a.bytes[i]! << 8) | a.bytes[i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(':');
  const text = best < 0 ? hex(groups) : `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
  return a.zone ? `${text}%${a.zone}` : text;
}

function ipValue(a: Addr) {
  return makeOpaque(IP_DESC, addrString(a), a);
}

function toIP(s: string) {
  return ipValue(parseIPAddr(s));
}

function succeeds(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch {
    return false;
  }
}

function isCanonical(s: string): boolean {
  return addrString(parseIPAddr(s)) === s;
}

const ip = (v: unknown) => payloadOf<Addr>(v);

function isUnspecified(a: Addr): boolean {
  return a.bytes.every((b) => b === 0);
}

function isLoopback(a: Addr): boolean {
  return a.v4 ? a.bytes[0] === 127 : a.bytes.slice(0, 15).every((b) => b === 0) && a.bytes[15] === 1;
}

function isLinkLocalMulticast(a: Addr): boolean {
  return a.v4 ? a.bytes[0] === 224 && a.bytes[1] === 0 && a.bytes[2] === 0 : a.bytes[0] === 0xff && (a.bytes[1]! & 0x0f) === 0x02;
}

function isLinkLocalUnicast(a: Addr): boolean {
  return a.v4 ? a.bytes[0] === 169 && a.bytes[1] === 254 : a.bytes[0] === 0xfe && (a.bytes[1]! & 0xc0) === 0x80;
}

function isMulticast(a: Addr): boolean {
  return a.v4 ? (a.bytes[0]! & 0xf0) === 0xe0 : a.bytes[0] === 0xff;
}

function isGlobalUnicast(a: Addr): boolean {
  if (a.v4 && a.bytes.every((b) => b === 255)) return false;
  return !isUnspecified(a) && !isLoopback(a) && !isMulticast(a) && !isLinkLocalUnicast(a);
}

// ---- CIDR ----

function parsePrefix(s: string): Prefix {
  const fail = (msg: string) => new Error(`netip.ParsePrefix(${JSON.stringify(s)}): ${msg}`);
  const slash = s.lastIndexOf('/');
  if (slash < 0) throw fail("no '/'");
  let addr: Addr;
  try {
    addr = parseAddr(s.slice(0, slash));
  } catch (err) {
    throw fail((err as Error).message);
  }
  if (!addr.v4 && addr.zone) throw fail('IPv6 zones cannot be present in a prefix');
  const bitsText = s.slice(slash + 1);
  if ((bitsText.length > 1 && (bitsText[0]! < '1' || bitsText[0]! > '9')) || !/^\d+$/.test(bitsText)) {
    throw fail(`bad bits after slash: ${JSON.stringify(bitsText)}`);
  }
  const bits = Number(bitsText);
  if (bits > (addr.v4 ? 32 : 128)) throw fail('prefix length out of range');
  return { addr, bits };
}

function toPrefix(raw: string): Prefix {
  let p: Prefix;
  try {
    p = parsePrefix(raw);
  } catch (err) {
    throw new Error(`network address parse error during conversion from string: ${(err as Error).message}`);
  }
  if (isV4Mapped(p.addr)) throw new Error(`IPv4-mapped IPv6 address ${JSON.stringify(raw)} is not allowed`);
  return p;
}

function masked(p: Prefix): Prefix {
  const bytes = new Uint8Array(p.addr.bytes);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, p.bits - i * 8));
    bytes[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return { addr: { ...p.addr, bytes }, bits: p.bits };
}

function contains(p: Prefix, a: Addr): boolean {
  if (p.addr.v4 !== a.v4) return false;
  const net = masked(p).addr.bytes;
  return masked({ addr: a, bits: p.bits }).addr.bytes.every((b, i) => b === net[i]);
}

/** cidr() and containsCIDR(string) wrap the parse error once more, as apiserver does. */
function toPrefixWrapped(raw: string): Prefix {
  try {
    return toPrefix(raw);
  } catch (err) {
    throw new Error(`network address parse error during conversion from string: ${(err as Error).message}`);
  }
}

function cidrValue(p: Prefix) {
  return makeOpaque(CIDR_DESC, `${addrString(p.addr)}/${p.bits}`, p);
}

const cidr = (v: unknown) => payloadOf<Prefix>(v);

export const IP_OVERLOADS: Overload[] = [
  fn('string_to_ip', 'ip', [STRING], IP_T, toIP as never),
  fn('is_ip', 'isIP', [STRING], BOOL, ((s: string) => succeeds(() => parseIPAddr(s))) as never),
  fn('ip_is_canonical', 'ip.isCanonical', [STRING], BOOL, isCanonical as never),
  method('ip_family', 'family', IP_T, [], INT, ((v: unknown) => (ip(v).v4 ? 4n : 6n)) as never),
  method('ip_is_unspecified', 'isUnspecified', IP_T, [], BOOL, ((v: unknown) => isUnspecified(ip(v))) as never),
  method('ip_is_loopback', 'isLoopback', IP_T, [], BOOL, ((v: unknown) => isLoopback(ip(v))) as never),
  method('ip_is_link_local_multicast', 'isLinkLocalMulticast', IP_T, [], BOOL, ((v: unknown) => isLinkLocalMulticast(ip(v))) as never),
  method('ip_is_link_local_unicast', 'isLinkLocalUnicast', IP_T, [], BOOL, ((v: unknown) => isLinkLocalUnicast(ip(v))) as never),
  method('ip_is_global_unicast', 'isGlobalUnicast', IP_T, [], BOOL, ((v: unknown) => isGlobalUnicast(ip(v))) as never),
  fn('ip_to_string', 'string', [IP_T], STRING, ((v: unknown) => addrString(ip(v))) as never),
  fn('string_to_cidr', 'cidr', [STRING], CIDR_T, ((s: string) => cidrValue(toPrefixWrapped(s))) as never),
  fn('is_cidr', 'isCIDR', [STRING], BOOL, ((s: string) => succeeds(() => toPrefix(s))) as never),
  method('cidr_contains_ip_string', 'containsIP', CIDR_T, [STRING], BOOL, ((c: unknown, s: string) => {
    // apiserver passes the failed conversion on as an argument, which then matches no overload.
    let a: Addr;
    try {
      a = parseIPAddr(s);
    } catch {
      throw new Error('no such overload');
    }
    return contains(cidr(c), a);
  }) as never),
  method('cidr_contains_ip_ip', 'containsIP', CIDR_T, [IP_T], BOOL, ((c: unknown, a: unknown) => contains(cidr(c), ip(a))) as never),
  method('cidr_contains_cidr_string', 'containsCIDR', CIDR_T, [STRING], BOOL, ((c: unknown, s: string) => {
    const p = cidr(c);
    const o = toPrefixWrapped(s);
    return p.bits <= o.bits && contains(p, o.addr);
  }) as never),
  method('cidr_contains_cidr', 'containsCIDR', CIDR_T, [CIDR_T], BOOL, ((c: unknown, d: unknown) => {
    const p = cidr(c);
    const o = cidr(d);
    return p.bits <= o.bits && contains(p, o.addr);
  }) as never),
  method('cidr_ip', 'ip', CIDR_T, [], IP_T, ((c: unknown) => ipValue(cidr(c).addr)) as never),
  method('cidr_prefix_length', 'prefixLength', CIDR_T, [], INT, ((c: unknown) => BigInt(cidr(c).bits)) as never),
  method('cidr_masked', 'masked', CIDR_T, [], CIDR_T, ((c: unknown) => cidrValue(masked(cidr(c)))) as never),
  fn('cidr_to_string', 'string', [CIDR_T], STRING, ((c: unknown) => `${addrString(cidr(c).addr)}/${cidr(c).bits}`) as never),
];
