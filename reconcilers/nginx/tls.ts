// Checks a kubernetes.io/tls pair before it is written to a host: the certificate parses, the key is
// an unencrypted private key that matches it, its names cover every server name, and it is valid
// now. Errors describe the problem in words and never include any key material.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { TerminalError } from '../../controller/errors.ts';
import { defineReasons } from '../../controller/reasons.ts';

export const TlsErrorCodes = defineReasons('nginx', {
  CertificateInvalid: 'The TLS Secret does not hold a usable certificate and key for the route: the message says what is wrong',
});

export interface CertificateFacts {
  notBefore: Date;
  notAfter: Date;
  /** DNS names and IP addresses from subjectAltName (or the CN when there are none). */
  dnsNames: string[];
  serialNumber: string;
  /** SHA-256 fingerprint of the leaf (public, safe to show). */
  fingerprint256: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n-----END \1-----/g;

function pemBlocks(pem: string): Array<{ type: string; text: string }> {
  return [...pem.matchAll(PEM_BLOCK)].map((m) => ({ type: m[1]!, text: m[0] }));
}

function fail(field: string, message: string): TerminalError {
  return new TerminalError(TlsErrorCodes.CertificateInvalid, `${field}: ${message}`, { field });
}

/** Names the certificate covers, from subjectAltName DNS and IP entries, else the subject CN. */
function certificateNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san) {
    return san.split(', ').flatMap((entry) => {
      if (entry.startsWith('DNS:')) return [entry.slice(4).toLowerCase()];
      if (entry.startsWith('IP Address:')) return [entry.slice(11)];
      return [];
    });
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

/** Whether a certificate name covers a server name (RFC 6125: "*" stands for exactly one label). */
function covers(certName: string, serverName: string): boolean {
  if (certName === serverName) return true;
  if (!certName.startsWith('*.') || serverName.startsWith('*.')) return false;
  const dot = serverName.indexOf('.');
  return dot > 0 && serverName.slice(dot + 1) === certName.slice(2);
}

/**
 * Validates the pair for the given server names at `now`; returns public facts for status.
 * `field` is the Secret reference the user sees (spec.tls.secretRef).
 */
export function checkTlsPair(
  pair: { certificate: string; privateKey: string },
  serverNames: readonly string[],
  now: Date = new Date(),
  field = 'spec.tls.secretRef',
): CertificateFacts {
  if (typeof pair.certificate !== 'string' || typeof pair.privateKey !== 'string') {
    throw fail(field, 'the Secret must have tls.crt and tls.key (type kubernetes.io/tls)');
  }
  const certBlocks = pemBlocks(pair.certificate);
  if (certBlocks.length === 0) throw fail(field, 'tls.crt holds no PEM certificate');
  if (certBlocks.some((b) => b.type !== 'CERTIFICATE')) {
    throw fail(field, `tls.crt may hold only CERTIFICATE blocks (found ${[...new Set(certBlocks.map((b) => b.type))].join(', ')}); keep the key in tls.key`);
  }
  let chain: X509Certificate[];
  try {
    chain = certBlocks.map((b) => new X509Certificate(b.text));
  } catch {
    throw fail(field, 'tls.crt holds a PEM block that is not a valid X.509 certificate');
  }
  const leaf = chain[0]!;

  const keyBlocks = pemBlocks(pair.privateKey);
  if (keyBlocks.length !== 1) throw fail(field, `tls.key must hold exactly one PEM private key (found ${keyBlocks.length} PEM blocks)`);
  const keyType = keyBlocks[0]!.type;
  if (keyType === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(pair.privateKey)) {
    throw fail(field, 'tls.key is encrypted; nginx needs an unencrypted key (cert-manager writes one)');
  }
  if (!['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY'].includes(keyType)) {
    throw fail(field, `tls.key holds a ${keyType} block; a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY is needed`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyBlocks[0]!.text, format: 'pem' });
  } catch {
    // The library's message is replaced: it must never carry any part of the key.
    throw fail(field, 'tls.key could not be read as a private key');
  }
  if (!leaf.checkPrivateKey(key)) {
    throw fail(field, `tls.key does not match the certificate in tls.crt (subject ${leaf.subject.replace(/\n/g, ', ')}); put the matching key next to it`);
  }

  const names = certificateNames(leaf);
  const uncovered = serverNames.filter((s) => !names.some((n) => (isIPv4(s) ? n === s : covers(n, s))));
  if (uncovered.length > 0) {
    throw fail(field, `the certificate does not cover ${uncovered.join(', ')} (it covers ${names.join(', ') || 'no names'}); issue one for every server name`);
  }

  const notBefore = leaf.validFromDate;
  const notAfter = leaf.validToDate;
  if (now < notBefore) throw fail(field, `the certificate is not valid before ${notBefore.toISOString()}`);
  if (now > notAfter) throw fail(field, `the certificate expired at ${notAfter.toISOString()}; renew it`);
  return { notBefore, notAfter, dnsNames: names, serialNumber: leaf.serialNumber, fingerprint256: leaf.fingerprint256 };
}
