// The one address classifier of the project: what kind of address an IP literal is (link-local,
// cloud metadata, loopback, private, ...), judged on the address itself and, for the IPv6 forms
// that carry an IPv4 address (mapped, compatible, SIIT, NAT64, 6to4), on that IPv4 address too.
// Parsing is ipaddr.js behind node's strict isIP, so 2852039166, 0xa9fea9fe or 0251.0376.0251.0376
// are never taken for addresses; IPv6 text is first made canonical by the WHATWG URL parser,
// because ipaddr.js reads "::a.b.c.d" as IPv4-mapped.
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

export type AddressClass =
  | 'unspecified' | 'link-local' | 'metadata' | 'multicast' | 'broadcast'
  | 'loopback' | 'private' | 'shared' | 'reserved' | 'public';

/** How messages name each class (after "is" or "resolves to"). */
export const ADDRESS_CLASS_DESCRIPTIONS: Record<AddressClass, string> = {
  'unspecified': 'an unspecified or "this network" address (0.0.0.0/8 or ::)',
  'link-local': 'a link-local address (169.254.0.0/16 or fe80::/10, where cloud metadata services live)',
  'metadata': 'a cloud metadata service address',
  'multicast': 'a multicast address',
  'broadcast': 'the broadcast address',
  'loopback': 'a loopback address (127.0.0.0/8 or ::1)',
  'private': 'a private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or fc00::/7)',
  'shared': 'a shared carrier-grade NAT address (100.64.0.0/10)',
  'reserved': 'a reserved or special-purpose address',
  'public': 'a public address',
};

/**
 * Where cloud providers serve instance metadata and credentials, beyond 169.254.0.0/16 (which is
 * link-local as a whole): the IPv6 endpoints of EC2 and EKS Pod Identity, Google's IPv6 endpoint,
 * Alibaba's, and Azure's host platform endpoint.
 */
const METADATA_ADDRESSES = new Set(['fd00:ec2::254', 'fd00:ec2::23', 'fd20:ce::254', '100.100.100.200', '168.63.129.16']);

export interface ClassifiedAddress {
  /** Canonical text (IPv6 compressed and lower-case, no zone index). */
  address: string;
  class: AddressClass;
  /** For IPv6 forms that carry an IPv4 address, that address (its class decides). */
  embeddedIPv4?: string;
}

/** The canonical text of an IP literal, or null when it is not one (strictly: dotted quad or IPv6). */
export function canonicalAddress(text: string): string | null {
  if (typeof text !== 'string') return null;
  if (isIPv4(text)) return text;
  const address = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  if (!isIPv6(address)) return null;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

export function isIpLiteral(text: string): boolean {
  return canonicalAddress(text) !== null;
}

const V4_RANGE_CLASS: Record<string, AddressClass> = {
  unspecified: 'unspecified', broadcast: 'broadcast', multicast: 'multicast', linkLocal: 'link-local',
  loopback: 'loopback', carrierGradeNat: 'shared', private: 'private', unicast: 'public',
};
const V6_RANGE_CLASS: Record<string, AddressClass> = {
  unspecified: 'unspecified', linkLocal: 'link-local', multicast: 'multicast', loopback: 'loopback',
  uniqueLocal: 'private', deprecatedSiteLocal: 'private', unicast: 'public',
};

function classifyV4(address: string): AddressClass {
  if (METADATA_ADDRESSES.has(address)) return 'metadata';
  return V4_RANGE_CLASS[ipaddr.IPv4.parse(address).range()] ?? 'reserved';
}

/** The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one. */
function embeddedIPv4(v6: ipaddr.IPv6): string | undefined {
  const b = v6.toByteArray();
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const v4 = (at: number) => b.slice(at, at + 4).join('.');
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12); // ::ffff:a.b.c.d, mapped
  if (zero(0, 12)) return v4(12); // ::a.b.c.d, compatible (:: and ::1 are judged before)
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return v4(12); // ::ffff:0:a.b.c.d, SIIT
  if (v6.range() === 'rfc6052') return v4(12); // 64:ff9b::a.b.c.d, NAT64's well-known prefix
  if (v6.range() === '6to4') return v4(2); // 2002:AABB:CCDD::, a 6to4 gateway
  return undefined;
}

/** Classifies an IP literal; null when the text is not one (a name, or a non-canonical numeric form). */
export function classifyAddress(text: string): ClassifiedAddress | null {
  const address = canonicalAddress(text);
  if (address === null) return null;
  if (isIPv4(address)) return { address, class: classifyV4(address) };
  if (METADATA_ADDRESSES.has(address)) return { address, class: 'metadata' };
  const v6 = ipaddr.IPv6.parse(address);
  const range = v6.range();
  if (range === 'unspecified' || range === 'loopback') return { address, class: V6_RANGE_CLASS[range]! };
  const inner = embeddedIPv4(v6);
  if (inner !== undefined) return { address, class: classifyV4(inner), embeddedIPv4: inner };
  return { address, class: V6_RANGE_CLASS[range] ?? 'reserved' };
}

/** "169.254.169.254, a link-local address (...)" or "::ffff:a9fe:a9fe (169.254.169.254), a link-local ..." */
export function describeAddress(c: ClassifiedAddress): string {
  const shown = c.embeddedIPv4 ? `${c.address} (which carries ${c.embeddedIPv4})` : c.address;
  return `${shown}, ${ADDRESS_CLASS_DESCRIPTIONS[c.class]}`;
}

// ---- networks ----------------------------------------------------------------------------------

export interface Network {
  /** As written, e.g. 10.0.0.0/8. */
  text: string;
  /** Its first and last addresses. */
  first: string;
  last: string;
  contains(address: string): boolean;
}

/** Why a CIDR is unacceptable, or null. Host bits must be zero, so what is allowed is what is written. */
export function cidrSyntaxProblem(value: string): string | null {
  if (typeof value !== 'string') return 'is not text';
  const m = /^([^/]+)\/(\d{1,3})$/.exec(value);
  if (!m) return 'is not address/prefix';
  const [, addr, bitsText] = m as unknown as [string, string, string];
  const bits = Number(bitsText);
  const v4 = isIPv4(addr);
  if (!v4 && !(isIPv6(addr) && !addr.includes('%'))) return 'does not start with an IPv4 or IPv6 address';
  if (bits > (v4 ? 32 : 128)) return `has a prefix longer than ${v4 ? 32 : 128}`;
  const canonical = canonicalAddress(addr)!;
  const network = (v4 ? ipaddr.IPv4 : ipaddr.IPv6).networkAddressFromCIDR(`${canonical}/${bits}`).toString();
  if (network !== ipaddr.parse(canonical).toString()) return `has host bits set after /${bits}`;
  return null;
}

/** Parses a CIDR (host bits zero); throws a RangeError saying what is wrong. */
export function parseNetwork(text: string): Network {
  const problem = cidrSyntaxProblem(text);
  if (problem) throw new RangeError(`"${String(text).slice(0, 60)}" ${problem}; write a network such as 10.0.0.0/8 or fd00::/8`);
  const [addr, bits] = text.split('/') as [string, string];
  const range: [ipaddr.IPv4 | ipaddr.IPv6, number] = [ipaddr.parse(canonicalAddress(addr)!), Number(bits)];
  const family = range[0].kind() === 'ipv4' ? ipaddr.IPv4 : ipaddr.IPv6;
  return {
    text,
    first: range[0].toString(),
    last: family.broadcastAddressFromCIDR(`${range[0].toString()}/${bits}`).toString(),
    contains(address: string): boolean {
      const c = canonicalAddress(address);
      if (c === null) return false;
      let parsed: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(c);
      // An IPv4-mapped address is in an IPv4 network when its IPv4 address is.
      if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
      return parsed.kind() === range[0].kind() && parsed.match(range);
    },
  };
}
