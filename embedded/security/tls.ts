// The serving certificate: a private CA (kept under the state directory) signs a server
// certificate for the addresses the server listens on. Both are reused across restarts; the
// server certificate is re-issued when its names change or it nears expiry. Issuing is pki/'s;
// this module only decides when, and keeps the files.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { coversNames, DAY_MS, inspectCertificate, isIssuedBy, issueCa, issueLeaf, validFor, type KeyPairPem } from '../../pki/authority.ts';

export interface ServingCert {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const RENEW_BEFORE_MS = 30 * DAY_MS;

function read(dir: string, cert: string, key: string): KeyPairPem | undefined {
  const certPath = join(dir, cert);
  const keyPath = join(dir, key);
  if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
  return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
}

function write(dir: string, cert: string, key: string, pair: KeyPairPem): void {
  writeFileSync(join(dir, key), pair.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, cert), pair.certPem, { mode: 0o644 });
}

function fresh(pair: KeyPairPem, now: number): boolean {
  try {
    return inspectCertificate(pair.certPem).notAfter - now > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

/** Names the certificate must cover: loopback always, plus the listen host. */
export function certNames(host: string): string[] {
  const names = new Set(['localhost', '127.0.0.1', '::1']);
  if (host && host !== '0.0.0.0' && host !== '::') names.add(host);
  return [...names].sort();
}

/** Loads the serving certificate for `names`, issuing a new one when needed. */
export function servingCert(dir: string, names: string[]): ServingCert {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const now = Date.now();
  let ca = read(dir, 'ca.crt', 'ca.key');
  if (!ca || !fresh(ca, now)) {
    ca = issueCa('outrigger-embedded-ca', validFor(now, 3650));
    write(dir, 'ca.crt', 'ca.key', ca);
  }
  const stored = read(dir, 'tls.crt', 'tls.key');
  if (stored && fresh(stored, now) && coversNames(inspectCertificate(stored.certPem), names) && isIssuedBy(stored, ca.certPem)) {
    return { caPem: ca.certPem, ...stored };
  }
  const serving = issueLeaf(ca, { names, commonName: 'outrigger-embedded-apiserver', validity: validFor(now, 365) });
  write(dir, 'tls.crt', 'tls.key', serving);
  return { caPem: ca.certPem, ...serving };
}
