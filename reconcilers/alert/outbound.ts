// ---------------------------------------------------------------------------------------------
// PLUG POINT: the outbound guard. Every connection the Alert controller makes on a user's behalf
// (HTTP probes, the TLS handshake of certificateExpiring, webhook, Slack and Alertmanager
// receivers, SMTP) is opened through this interface and nothing else. It is the shape of
// reconcilers/net's OutboundGuard (`platform.outbound`: lookupFor, checkLiteral, vet), which is
// being added on another branch; once it is on main, pass `platform.outbound` where index.ts
// passes `unguardedOutbound` and delete the pass-through below. Until then names resolve through
// the system resolver and every address is allowed.
// ---------------------------------------------------------------------------------------------
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';

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

/** The pass-through used until the guard is plugged in (see the header). */
export const unguardedOutbound: Outbound = {
  lookupFor: () => (hostname, options, callback) => dnsLookup(hostname, options as never, callback as never),
  checkLiteral: () => null,
  async vet(host) {
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    if (isIP(bare)) return { host, addresses: [{ address: bare, family: isIP(bare) === 6 ? 6 : 4 }] };
    const found = await new Promise<LookupAddress[]>((resolve, reject) => dnsLookup(bare, { all: true }, (err, a) => (err ? reject(err) : resolve(a))));
    return { host, addresses: found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })) };
  },
};
