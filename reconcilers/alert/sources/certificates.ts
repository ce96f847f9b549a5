// certificateExpiring: the certificates actually served (a TLS handshake to the ProxyRoute's Host
// on 443 with SNI set to the route's first server name, through the outbound guard, accepting any
// certificate so an expired or untrusted one is still read) and those in a kubernetes.io/tls
// Secret (every PEM block of tls.crt). The whole chain counts: the earliest notAfter of any
// certificate in it is when the chain stops working. Parsed with node's X509Certificate.
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { Outbound } from '../outbound.ts';
import type { Evaluation } from '../series.ts';

const DAY_MS = 86_400_000;

export interface ChainExpiry {
  notAfter: number;
  /** Subject of the certificate that expires first, and its place in the chain (0: the leaf). */
  subject: string;
  position: number;
  serialNumber: string;
  /** The leaf's serial number. */
  leafSerial: string;
}

/** Every certificate in a PEM bundle, in order. */
export function chainFromPem(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

export function earliestExpiry(chain: readonly X509Certificate[]): ChainExpiry | undefined {
  let best: ChainExpiry | undefined;
  chain.forEach((cert, position) => {
    const notAfter = Date.parse(cert.validTo);
    if (!best || notAfter < best.notAfter) best = { notAfter, subject: cert.subject.replace(/\n/g, ', '), position, serialNumber: cert.serialNumber, leafSerial: chain[0]!.serialNumber };
  });
  return best;
}

/** The chain a TLS server presents (leaf first), read without verifying it. */
export async function servedChain(opts: { host: string; port: number; servername: string; outbound: Outbound; field: string; timeoutMs: number; signal?: AbortSignal }): Promise<X509Certificate[]> {
  opts.outbound.checkLiteral(opts.host, opts.field);
  return await new Promise<X509Certificate[]>((resolve, reject) => {
    const socket = tls.connect({
      host: opts.host,
      port: opts.port,
      servername: opts.servername,
      rejectUnauthorized: false,
      lookup: opts.outbound.lookupFor(opts.field) as never,
      ALPNProtocols: ['http/1.1'],
    });
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`no TLS handshake with ${opts.host}:${opts.port} within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const onAbort = () => fail(new Error('cancelled'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      const chain: X509Certificate[] = [];
      let cert = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
      const seen = new Set<string>();
      while (cert?.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        chain.push(new X509Certificate(cert.raw));
        cert = cert.issuerCertificate;
      }
      socket.end();
      if (chain.length === 0) reject(new Error(`${opts.host}:${opts.port} presented no certificate`));
      else resolve(chain);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fail(err);
    });
  });
}

/** The server name to ask for: the first name without a wildcard, else the wildcard with a label in it. */
export function sniName(serverNames: readonly string[]): string {
  return serverNames.find((n) => !n.startsWith('*.')) ?? (serverNames[0] ?? '').replace(/^\*\./, 'outrigger-check.');
}

/** Fires within `withinDays`; the stage says the smallest renotifyAtDays threshold already crossed. */
export function expiryEvaluation(expiry: ChainExpiry, what: string, now: number, withinDays: number, renotifyAtDays: readonly number[]): Evaluation {
  const leftMs = expiry.notAfter - now;
  const days = leftMs / DAY_MS;
  const which = expiry.position === 0 ? 'the certificate' : `certificate ${expiry.position} of the chain (${expiry.subject})`;
  const when = new Date(expiry.notAfter).toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (leftMs <= 0) return { active: true, stage: 'expired', message: `${what}: ${which} expired at ${when}` };
  const active = days <= withinDays;
  const crossed = [...renotifyAtDays].filter((d) => d < withinDays && days <= d).sort((a, b) => a - b)[0];
  return {
    active,
    ...(active && crossed !== undefined ? { stage: `within-${crossed}d` } : {}),
    message: `${what}: ${which} expires at ${when}, in ${days >= 1 ? `${Math.floor(days)} days` : `${Math.max(1, Math.floor(leftMs / 3_600_000))} hours`} (serial ${expiry.leafSerial})`,
  };
}

/** When the evaluation would change next by time alone (the next threshold), for scheduling. */
export function nextThresholdAt(expiry: ChainExpiry, now: number, withinDays: number, renotifyAtDays: readonly number[]): number | undefined {
  const times = [withinDays, ...renotifyAtDays, 0].map((d) => expiry.notAfter - d * DAY_MS).filter((t) => t > now);
  return times.length > 0 ? Math.min(...times) : undefined;
}
