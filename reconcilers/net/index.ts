// Public surface of the outbound guard (see README.md).
export { classifyAddress, canonicalAddress, describeAddress, isIpLiteral, parseNetwork, cidrSyntaxProblem, ADDRESS_CLASS_DESCRIPTIONS, type AddressClass, type ClassifiedAddress, type Network } from './address.ts';
export { judgeAddress, outboundPolicy, upstreamPolicy, NEVER_ALLOWED, INTERNAL_CLASSES, type AddressPolicy, type AddressVerdict } from './policy.ts';
export { NameResolver, dnsServerProblem, type NameResolverOptions, type ResolvedName } from './resolver.ts';
export { OutboundGuard, type LookupFunction, type VettedName } from './guard.ts';
export { ForbiddenAddressError, NameNotResolvedError, NetErrorCodes, type NetErrorCode } from './errors.ts';
import { OutboundGuard } from './guard.ts';
import { outboundPolicy } from './policy.ts';
import { NameResolver } from './resolver.ts';

/** The operator's settings (flags and environment of `outrigger controller` and `outrigger start`). */
export interface OutboundConfig {
  /** Networks the controller may reach on a user's behalf besides public addresses (e.g. 10.0.0.0/8). */
  allowCidrs?: readonly string[];
  /** DNS servers for every name the controller resolves from user input (default: the system's). */
  dnsServers?: readonly string[];
}

/** Builds the process's guard; throws a RangeError naming a bad range or server. */
export function createOutboundGuard(config: OutboundConfig = {}): OutboundGuard {
  return new OutboundGuard({ policy: outboundPolicy(config.allowCidrs ?? []), resolver: new NameResolver({ servers: config.dnsServers ?? [] }) });
}

/** Splits a comma- or space-separated list (environment variables), dropping empty entries. */
export function splitList(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter(Boolean);
}
