// Issuing and reading the webhook's certificates: a private CA and a serving certificate it signs.
// Keys come from node:crypto (fast, native); certificates are built and signed with node-forge.
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export const DAY_MS = 24 * 60 * 60 * 1000;

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface CertificateInfo {
  notBefore: number;
  notAfter: number;
  /** DNS names and IP addresses of the subjectAltName. */
  names: string[];
  serialNumber: string;
}

function newKeys(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    privateKey: forge.pki.privateKeyFromPem(keyPem),
    keyPem,
  };
}

function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return b.toString('hex');
}

function validity(cert: forge.pki.Certificate, now: number, days: number): void {
  // A minute of slack for clocks that are slightly behind ours.
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + days * DAY_MS);
}

/** A self-signed CA that only signs serving certificates (path length 0). */
export function issueCa(commonName: string, now: number, days: number): KeyPairPem {
  const keys = newKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, now, days);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** A server certificate for `names` (DNS names and IP addresses), signed by `ca`. */
export function issueServing(ca: KeyPairPem, names: string[], now: number, days: number): KeyPairPem {
  if (names.length === 0) throw new Error('a serving certificate needs at least one DNS name or IP address');
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const keys = newKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, now, days);
  cert.setSubject([{ name: 'commonName', value: names[0]!.slice(0, 64) }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** Validity and names of a PEM certificate (the first one in the text). */
export function inspectCertificate(pem: string): CertificateInfo {
  const x = new X509Certificate(pem);
  const names = (x.subjectAltName ?? '')
    .split(', ')
    .filter(Boolean)
    .map((entry) => entry.replace(/^(DNS|IP Address):/, ''));
  return { notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo), names, serialNumber: x.serialNumber };
}

/** Whether `cert` was signed by `ca` and its key pair matches `keyPem`. */
export function servingMatches(serving: KeyPairPem, caPem: string): boolean {
  try {
    const cert = new X509Certificate(serving.certPem);
    const ca = new X509Certificate(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    return cert.checkPrivateKey(createPrivateKey(serving.keyPem));
  } catch {
    return false;
  }
}
