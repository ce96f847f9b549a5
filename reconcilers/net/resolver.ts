// Name resolution for the guard. By default the system's resolver (getaddrinfo: /etc/hosts, then
// DNS), which is what node's own clients would have used. With servers configured (operator
// configuration, or a test's DNS server) a c-ares resolver asks exactly those servers, and
// /etc/resolv.conf is not read at all.
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { NameNotResolvedError } from './errors.ts';

export interface ResolvedName {
  addresses: Array<{ address: string; family: 4 | 6 }>;
  /** The smallest TTL of the answer, when the resolver reports one (DNS servers do, getaddrinfo does not). */
  ttlSeconds?: number;
}

export interface NameResolverOptions {
  /** DNS servers as `address` or `address:port` (`[v6]:port`); empty means the system resolver. */
  servers?: readonly string[];
  /** Per query attempt (default 2000 ms, two attempts). */
  timeoutMs?: number;
}

const NO_ANSWER = new Set(['ENODATA', 'ENOTFOUND', 'ENONAME', 'EAI_NONAME', 'EAI_NODATA', 'NXDOMAIN']);

/** Why a DNS server entry is unusable, or null. */
export function dnsServerProblem(entry: string): string | null {
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(entry) ?? [entry, entry, undefined];
  const [, address, port] = m as [string, string, string | undefined];
  if (isIP(address) === 0) return `"${entry.slice(0, 60)}" is not an IP address (with an optional :port; IPv6 as [addr]:port)`;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `"${entry.slice(0, 60)}" has a port outside 1-65535`;
  return null;
}

export class NameResolver {
  private readonly resolver?: dns.Resolver;
  readonly servers: readonly string[];

  constructor(opts: NameResolverOptions = {}) {
    this.servers = opts.servers ?? [];
    for (const s of this.servers) {
      const problem = dnsServerProblem(s);
      if (problem) throw new RangeError(`DNS server ${problem}`);
    }
    if (this.servers.length > 0) {
      this.resolver = new dns.Resolver({ timeout: opts.timeoutMs ?? 2_000, tries: 2 });
      this.resolver.setServers([...this.servers]);
    }
  }

  /** Every A and AAAA address of a name; throws NameNotResolvedError when there are none. */
  async resolve(name: string, field: string, consequence?: string): Promise<ResolvedName> {
    try {
      const resolved = this.resolver ? await this.query(this.resolver, name) : await this.system(name);
      if (resolved.addresses.length === 0) throw Object.assign(new Error('no A or AAAA record'), { code: 'ENODATA' });
      return resolved;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const detail = NO_ANSWER.has(code) ? 'no A or AAAA record' : `the resolver failed: ${code || (err as Error).message}`;
      throw new NameNotResolvedError({ field, host: name, detail, cause: err, ...(consequence ? { consequence } : {}) });
    }
  }

  private async system(name: string): Promise<ResolvedName> {
    const all = await dns.lookup(name, { all: true, order: 'verbatim' });
    return { addresses: all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })) };
  }

  private async query(resolver: dns.Resolver, name: string): Promise<ResolvedName> {
    const settle = async (family: 4 | 6) => {
      try {
        return family === 4 ? await resolver.resolve4(name, { ttl: true }) : await resolver.resolve6(name, { ttl: true });
      } catch (err) {
        if (NO_ANSWER.has((err as NodeJS.ErrnoException).code ?? '')) return [];
        throw err;
      }
    };
    const [v4, v6] = await Promise.all([settle(4), settle(6)]);
    const records = [...v4.map((r) => ({ ...r, family: 4 as const })), ...v6.map((r) => ({ ...r, family: 6 as const }))];
    const ttls = records.map((r) => r.ttl);
    return {
      addresses: records.map((r) => ({ address: r.address, family: r.family })),
      ...(ttls.length > 0 ? { ttlSeconds: Math.min(...ttls) } : {}),
    };
  }
}
