// The guarded lookup: every outbound connection the controller makes on a user's behalf resolves
// its host name here. Every address of the answer is judged before any socket exists; one refused
// address refuses the name, and the socket is handed only the vetted addresses, so nothing can
// re-resolve (and be rebound) between the check and the connect. Node's net and tls skip `lookup`
// for IP literals, so the agents and the undici connector below judge literals themselves: every
// connection, including each redirect hop an HTTP client follows, passes one of the two checks.
import http from 'node:http';
import https from 'node:https';
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { Socket } from 'node:net';
import { ForbiddenAddressError, NameNotResolvedError } from './errors.ts';
import { judgeAddress, type AddressPolicy, type AddressVerdict } from './policy.ts';
import { NameResolver } from './resolver.ts';

/** node's `lookup` option (net.connect, tls.connect, http.request, undici's connect options). */
export type LookupFunction = (
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

export interface VettedName {
  host: string;
  addresses: Array<{ address: string; family: 4 | 6 }>;
  ttlSeconds?: number;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

export class OutboundGuard {
  readonly policy: AddressPolicy;
  readonly resolver: NameResolver;

  constructor(opts: { policy: AddressPolicy; resolver?: NameResolver }) {
    this.policy = opts.policy;
    this.resolver = opts.resolver ?? new NameResolver();
  }

  /** The same resolver under another policy (ProxyRoute upstreams share the operator's DNS settings). */
  withPolicy(policy: AddressPolicy): OutboundGuard {
    return new OutboundGuard({ policy, resolver: this.resolver });
  }

  /**
   * Throws ForbiddenAddressError when `host` is an IP literal the policy refuses; returns the
   * verdict for a literal, null for a name.
   */
  checkLiteral(host: string, field: string, consequence?: string): AddressVerdict | null {
    const verdict = judgeAddress(stripBrackets(host), this.policy);
    if (verdict && !verdict.allowed) throw this.refusal(field, host, verdict, false, consequence);
    return verdict;
  }

  /**
   * Resolves a name (or takes a literal) and judges every address; throws ForbiddenAddressError on
   * the first refused one, NameNotResolvedError when there is none. `consequence` ends the message
   * (default "nothing was sent").
   */
  async vet(host: string, field: string, consequence?: string): Promise<VettedName> {
    const literal = this.checkLiteral(host, field, consequence);
    if (literal) return { host, addresses: [{ address: literal.address, family: literal.address.includes(':') ? 6 : 4 }] };
    const resolved = await this.resolver.resolve(host, field, consequence);
    if (resolved.addresses.length === 0) throw new NameNotResolvedError({ field, host, detail: 'no A or AAAA record', ...(consequence ? { consequence } : {}) });
    for (const a of resolved.addresses) {
      const verdict = judgeAddress(a.address, this.policy);
      // An answer that is not an IP literal cannot come from a resolver; refuse it rather than guess.
      if (!verdict) throw this.refusal(field, host, { address: a.address, class: 'reserved', reason: 'the answer is not an address' }, true, consequence);
      if (!verdict.allowed) throw this.refusal(field, host, verdict, true, consequence);
    }
    return { host, addresses: resolved.addresses, ...(resolved.ttlSeconds !== undefined ? { ttlSeconds: resolved.ttlSeconds } : {}) };
  }

  /** A `lookup` for net/tls/http/undici: resolves through the guard and hands over only vetted addresses. */
  lookupFor(field: string): LookupFunction {
    return (hostname, options, callback) => {
      this.vet(hostname, field).then((vetted) => {
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
        const wanted = vetted.addresses.filter((a) => !family || a.family === family);
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`${field}: "${hostname}" has no IPv${family} address`), { code: 'ENOTFOUND', hostname }), '', 0);
        } else if (options.all) {
          callback(null, wanted.map((a) => ({ address: a.address, family: a.family })));
        } else {
          callback(null, wanted[0]!.address, wanted[0]!.family);
        }
      }, (err: NodeJS.ErrnoException) => callback(err, '', 0));
    };
  }

  /** An http.Agent whose every connection goes through the guard. */
  httpAgent(field: string, options: http.AgentOptions = {}): http.Agent {
    const guard = this;
    return new (class extends http.Agent {
      override createConnection(opts: http.ClientRequestArgs, cb?: (err: Error | null, socket: Socket) => void): Socket | undefined {
        return guard.guardedCreate(field, opts, cb, (o) => super.createConnection(o as never, cb as never) as Socket);
      }
    })(options);
  }

  /** An https.Agent whose every connection goes through the guard (certificate checks unchanged). */
  httpsAgent(field: string, options: https.AgentOptions = {}): https.Agent {
    const guard = this;
    return new (class extends https.Agent {
      override createConnection(opts: http.ClientRequestArgs, cb?: (err: Error | null, socket: Socket) => void): Socket | undefined {
        return guard.guardedCreate(field, opts, cb, (o) => super.createConnection(o as never, cb as never) as Socket);
      }
    })(options);
  }

  /**
   * Wraps an undici connector (`buildConnector({ ...tls, lookup: guard.lookupFor(field) })`) so IP
   * literals are judged too: `new Agent({ connect: guard.connector(field, buildConnector(...)) })`.
   */
  connector<O extends { hostname: string }, C extends (err: Error, socket: null) => void>(field: string, base: (options: O, callback: C) => void): (options: O, callback: C) => void {
    return (options, callback) => {
      try {
        this.checkLiteral(options.hostname, field);
      } catch (err) {
        callback(err as Error, null);
        return;
      }
      base(options, callback);
    };
  }

  private guardedCreate(
    field: string,
    opts: http.ClientRequestArgs,
    cb: ((err: Error | null, socket: Socket) => void) | undefined,
    create: (opts: http.ClientRequestArgs) => Socket,
  ): Socket | undefined {
    const host = opts.host ?? opts.hostname ?? 'localhost';
    try {
      this.checkLiteral(host, field);
    } catch (err) {
      if (!cb) throw err;
      cb(err as Error, undefined as never);
      return undefined;
    }
    return create({ ...opts, lookup: this.lookupFor(field) as never });
  }

  private refusal(field: string, host: string, v: Pick<AddressVerdict, 'address' | 'class' | 'embeddedIPv4' | 'reason'>, resolved: boolean, consequence?: string): ForbiddenAddressError {
    return new ForbiddenAddressError({
      field, host, address: v.address, addressClass: v.class, policy: this.policy.name, hint: v.reason ?? 'refused', resolved,
      ...(consequence ? { consequence } : {}),
      ...(v.embeddedIPv4 ? { embeddedIPv4: v.embeddedIPv4 } : {}),
    });
  }
}
