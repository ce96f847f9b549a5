// Which address classes a connection may reach. Two policies share one classifier:
// - upstreamPolicy: what nginx on a Host may proxy to. Loopback and private networks are normal
//   there (a service on the host itself, a Workspace on a Docker network), as the ProxyRoute
//   validation always allowed for IP literals.
// - outboundPolicy: what the controller itself connects to on a user's behalf (probes, receivers,
//   the Proxmox API). Its own loopback and the networks around it are refused too, unless the
//   operator allows ranges (--allow-outbound-cidr), never the user's object.
// Some classes are refused by both and no configuration lifts them: link-local, cloud metadata,
// unspecified, multicast and broadcast.
import { ADDRESS_CLASS_DESCRIPTIONS, classifyAddress, parseNetwork, type AddressClass, type ClassifiedAddress, type Network } from './address.ts';

/** Never reachable through Outrigger, whatever the operator allows. */
export const NEVER_ALLOWED: ReadonlySet<AddressClass> = new Set(['unspecified', 'link-local', 'metadata', 'multicast', 'broadcast']);
/** Refused for the controller's own outbound connections unless an operator range contains the address. */
export const INTERNAL_CLASSES: ReadonlySet<AddressClass> = new Set(['loopback', 'private', 'shared', 'reserved']);

export interface AddressPolicy {
  /** Short name for messages ("ProxyRoute upstreams", "outbound connections"). */
  name: string;
  /** Classes refused unless an allowed network contains the address (NEVER_ALLOWED always is). */
  refused: ReadonlySet<AddressClass>;
  /** Operator-allowed networks: they lift INTERNAL_CLASSES only. */
  allowed: readonly Network[];
}

export interface AddressVerdict extends ClassifiedAddress {
  allowed: boolean;
  /** Why it is refused and whether configuration could change that (only when refused). */
  reason?: string;
}

export const upstreamPolicy: AddressPolicy = { name: 'ProxyRoute upstreams', refused: NEVER_ALLOWED, allowed: [] };

/**
 * The policy for the controller's outbound connections. Throws a RangeError naming the bad entry
 * when a range is not a network, or lies entirely in a class that can never be allowed.
 */
export function outboundPolicy(allowCidrs: readonly string[] = []): AddressPolicy {
  const allowed = allowCidrs.map((text) => {
    const network = parseNetwork(text);
    // A range wholly inside one never-allowed class would only pretend to allow something.
    const first = classifyAddress(network.first)!.class;
    if (NEVER_ALLOWED.has(first) && classifyAddress(network.last)!.class === first) {
      throw new RangeError(`"${text}" holds only addresses Outrigger never connects to (${ADDRESS_CLASS_DESCRIPTIONS[first]}); no configuration can allow them`);
    }
    return network;
  });
  return { name: 'outbound connections', refused: new Set([...NEVER_ALLOWED, ...INTERNAL_CLASSES]), allowed };
}

/** Judges one IP literal under a policy; null when the text is not an IP literal. */
export function judgeAddress(text: string, policy: AddressPolicy): AddressVerdict | null {
  const c = classifyAddress(text);
  if (!c) return null;
  if (NEVER_ALLOWED.has(c.class)) return { ...c, allowed: false, reason: 'no configuration allows it' };
  if (!policy.refused.has(c.class)) return { ...c, allowed: true };
  const inner = c.embeddedIPv4 ?? c.address;
  if (INTERNAL_CLASSES.has(c.class) && policy.allowed.some((n) => n.contains(inner) || n.contains(c.address))) return { ...c, allowed: true };
  const hint = INTERNAL_CLASSES.has(c.class)
    ? 'an operator can allow its range in the controller\'s configuration (--allow-outbound-cidr)'
    : 'no configuration allows it';
  return { ...c, allowed: false, reason: hint };
}
