// The serving certificate: a private CA (kept under the state directory) signs a server
// certificate for the addresses the server listens on. Both are reused across restarts; the
// server certificate is re-issued when its names change or it nears expiry. Keys are generated
// by node:crypto, certificates are built with node-forge.
//
// The CA is RSA (node-forge signs it). The serving key is ECDSA P-256: clients such as
// client-node open a new TLS connection per request, and an ECDSA signature costs the server a
// tenth of an RSA one. node-forge only models RSA keys, so the serving certificate's
// to-be-signed part is built by forge with a placeholder key, its SubjectPublicKeyInfo swapped
// for the EC key's with forge's ASN.1 tools, and signed with the CA key by node:crypto.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

export interface ServingCert {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function newKeyPair(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    privateKey: forge.pki.privateKeyFromPem(privatePem),
    privatePem,
  };
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return b.toString('hex');
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

function loadOrCreateCa(dir: string): { certPem: string; cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey; keyPem: string } {
  const certPath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'ca.key');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const certPem = readFileSync(certPath, 'utf8');
    const x = new X509Certificate(certPem);
    if (Date.parse(x.validTo) - Date.now() > 30 * DAY_MS) {
      const keyPem = readFileSync(keyPath, 'utf8');
      return { certPem, cert: forge.pki.certificateFromPem(certPem), key: forge.pki.privateKeyFromPem(keyPem), keyPem };
    }
  }
  const keys = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3650 * DAY_MS);
  const subject = [{ name: 'commonName', value: 'outrigger-embedded-ca' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  writeSecret(keyPath, keys.privatePem);
  writeFileSync(certPath, certPem, { mode: 0o644 });
  return { certPem, cert, key: keys.privateKey, keyPem: keys.privatePem };
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
  const ca = loadOrCreateCa(dir);
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const certPem = readFileSync(certPath, 'utf8');
    const x = new X509Certificate(certPem);
    const sans = (x.subjectAltName ?? '').split(', ').map((s) => s.replace(/^(DNS|IP Address):/, '').toLowerCase());
    const fresh = Date.parse(x.validTo) - Date.now() > 30 * DAY_MS;
    const covers = names.every((n) => sans.includes(n.toLowerCase()) || sans.includes(expandIPv6(n)));
    if (fresh && covers && x.checkIssued(new X509Certificate(ca.certPem)) && x.verify(createPublicKey(ca.certPem))) {
      return { caPem: ca.certPem, certPem, keyPem: readFileSync(keyPath, 'utf8') };
    }
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const certPem = issueEcServingCert(ca, publicKey.export({ type: 'spki', format: 'der' }), names);
  writeSecret(keyPath, keyPem);
  writeFileSync(certPath, certPem, { mode: 0o644 });
  return { caPem: ca.certPem, certPem, keyPem };
}

function issueEcServingCert(
  ca: { cert: forge.pki.Certificate; keyPem: string },
  ecSpkiDer: Buffer,
  names: string[],
): string {
  const asn1 = forge.asn1;
  const cert = forge.pki.createCertificate();
  cert.publicKey = ca.cert.publicKey; // placeholder, replaced below
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * DAY_MS);
  cert.setSubject([{ name: 'commonName', value: 'outrigger-embedded-apiserver' }]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
  ]);
  const sha256WithRSA = forge.pki.oids.sha256WithRSAEncryption!;
  (cert as unknown as { siginfo: { algorithmOid: string } }).siginfo.algorithmOid = sha256WithRSA;
  cert.signatureOid = sha256WithRSA;
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
  (tbs.value as forge.asn1.Asn1[])[6] = asn1.fromDer(forge.util.createBuffer(ecSpkiDer.toString('binary')));
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  const signature = sign('sha256', tbsDer, createPrivateKey(ca.keyPem));
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

function expandIPv6(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  // X509Certificate prints IPv6 SANs fully expanded, e.g. 0:0:0:0:0:0:0:1.
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const full = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return full.map((p) => p.replace(/^0+(?=.)/, '').toLowerCase()).join(':');
}
