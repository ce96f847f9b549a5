// The outbound guard as the Alert controller and the notify provider use it: every connection made
// on a user's behalf (HTTP probes, the TLS handshake of certificateExpiring, webhook, Slack and
// Alertmanager receivers, SMTP) resolves and checks its destination through this narrow interface,
// which reconcilers/net's OutboundGuard (`platform.outbound`, the operator's allowed ranges and DNS
// servers) satisfies. Kept narrow so the notify provider needs no import of net/.
import type { LookupAddress, LookupOptions } from 'node:dns';

export type LookupFunction = (
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

export interface Outbound {
  /** A `lookup` for net/tls/http/undici that only hands out allowed addresses; `field` names the source. */
  lookupFor(field: string): LookupFunction;
  /** Throws when `host` is an IP literal that may not be reached. */
  checkLiteral(host: string, field: string): unknown;
  /** Resolves and checks a name (or literal): the addresses a connection may use. */
  vet(host: string, field: string): Promise<{ host: string; addresses: Array<{ address: string; family: 4 | 6 }> }>;
}
