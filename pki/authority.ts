// A small private certificate authority: issue a CA, issue leaf certificates it signs, and read
// back what a certificate says. The embedded API's serving certificate, the webhook's self-managed
// certificates and the test fixtures' CAs are all made here, so there is one way to build one.
//
// Keys come from node:crypto (native and fast). node-forge builds the to-be-signed part of each
// certificate; node:crypto signs it with the CA's key. forge only models RSA keys, so the
// subjectPublicKeyInfo forge writes is replaced with the real key's DER before signing; that is
// what lets a leaf carry an ECDSA P-256 key (a TLS server signs every handshake with its leaf key,
// and ECDSA costs about a tenth of RSA there; clients such as client-node open a connection per
// request). The CA stays RSA 2048: it signs rarely, and forge computes its key identifier.
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export const DAY_MS = 24 * 60 * 60 * 1000;

export interface KeyPairPem {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateInfo {
  notBefore: number;
  notAfter: number;
  /** DNS names and IP addresses of the subjectAltName, as X509Certificate prints them. */
  names: string[];
  serialNumber: string;
}

export interface LeafRequest {
  /** DNS names and IP addresses for the subjectAltName. */
  names: string[];
  validity: Validity;
  /** Default: the first name (cut to the 64 characters X.509 allows). */
  commonName?: string;
  /** Default server. */
  usage?: 'server' | 'client';
  /** Default ec (P-256); rsa for an RSA 2048 key. */
  keyType?: 'ec' | 'rsa';
}

/** `days` from `now`, starting a minute early for clocks slightly behind ours. */
export function validFor(now: number, days: number): Validity {
  return { notBefore: new Date(now - 60_000), notAfter: new Date(now + days * DAY_MS) };
}

/** A self-signed CA that only signs leaf certificates (path length 0). */
export function issueCa(commonName: string, validity: Validity): KeyPairPem {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  // Set before the extensions: forge derives the subjectKeyIdentifier from it.
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  return { certPem: signCertificate(cert, validity, keys.publicKey, keys.privateKey), keyPem: pkcs8(keys.privateKey) };
}

/** A leaf certificate for `names`, signed by `ca`. */
export function issueLeaf(ca: KeyPairPem, req: LeafRequest): KeyPairPem {
  const usage = req.usage ?? 'server';
  if (usage === 'server' && req.names.length === 0) throw new Error('a serving certificate needs at least one DNS name or IP address');
  const keyType = req.keyType ?? 'ec';
  const keys = keyType === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = caCert.publicKey; // a placeholder forge can encode; signCertificate puts the real key in
  cert.setSubject([{ name: 'commonName', value: req.commonName ?? (req.names[0] ?? 'client').slice(0, 64) }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    // RSA keys may also encrypt the key exchange (TLS 1.2 RSA suites); ECDSA keys only sign.
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: keyType === 'rsa', critical: true },
    { name: 'extKeyUsage', serverAuth: usage === 'server', clientAuth: usage === 'client' },
    ...(req.names.length > 0 ? [{ name: 'subjectAltName', altNames: req.names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) }] : []),
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  return { certPem: signCertificate(cert, req.validity, keys.publicKey, createPrivateKey(ca.keyPem)), keyPem: pkcs8(keys.privateKey) };
}

/** Validity, names and serial number of a PEM certificate (the first one in the text). */
export function inspectCertificate(pem: string): CertificateInfo {
  const x = new X509Certificate(pem);
  const names = (x.subjectAltName ?? '')
    .split(', ')
    .filter(Boolean)
    .map((entry) => entry.replace(/^(DNS|IP Address):/, ''));
  return { notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo), names, serialNumber: x.serialNumber };
}

/** Whether the certificate names every one of `names` (IPv6 addresses in any spelling). */
export function coversNames(info: CertificateInfo, names: string[]): boolean {
  const held = new Set(info.names.map(canonicalName));
  return names.every((n) => held.has(canonicalName(n)));
}

/** Whether `pair`'s certificate was signed by the CA in `caPem` and its key belongs to it. */
export function isIssuedBy(pair: KeyPairPem, caPem: string): boolean {
  try {
    const cert = new X509Certificate(pair.certPem);
    const ca = new X509Certificate(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    return cert.checkPrivateKey(createPrivateKey(pair.keyPem));
  } catch {
    return false;
  }
}

function pkcs8(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return b.toString('hex');
}

/** Fills in serial and validity, puts the public `subjectKey` in, and signs with the (RSA) CA key. */
function signCertificate(cert: forge.pki.Certificate, validity: Validity, subjectKey: KeyObject, caKey: KeyObject): string {
  const asn1 = forge.asn1;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = validity.notBefore;
  cert.validity.notAfter = validity.notAfter;
  const sha256WithRSA = forge.pki.oids.sha256WithRSAEncryption!;
  (cert as unknown as { siginfo: { algorithmOid: string } }).siginfo.algorithmOid = sha256WithRSA;
  cert.signatureOid = sha256WithRSA;
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
  const spkiDer = subjectKey.export({ type: 'spki', format: 'der' });
  (tbs.value as forge.asn1.Asn1[])[6] = asn1.fromDer(forge.util.createBuffer(spkiDer.toString('binary')));
  const signature = sign('sha256', Buffer.from(asn1.toDer(tbs).getBytes(), 'binary'), caKey);
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(sha256WithRSA).getBytes()),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\u0000${signature.toString('binary')}`),
  ]);
  const der = Buffer.from(asn1.toDer(certificate).getBytes(), 'binary');
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}

/** Lower case; IPv6 addresses fully expanded the way X509Certificate prints them (0:0:0:0:0:0:0:1). */
function canonicalName(name: string): string {
  if (isIP(name) !== 6) return name.toLowerCase();
  const [head = '', tail = ''] = name.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const full = name.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return full.map((p) => p.replace(/^0+(?=.)/, '').toLowerCase()).join(':');
}
