// Checking a kubernetes.io/tls pair before it reaches a host; errors never carry key material.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { checkTlsPair } from '../../reconcilers/nginx/tls.ts';
import { createTestCa, type IssuedCertificate, type TestCa } from '../fixtures/hosts.ts';

let ca: TestCa;
let good: IssuedCertificate;
let other: IssuedCertificate;

before(() => {
  ca = createTestCa();
  good = ca.issue(['app.example.com', '*.apps.example.com', '192.0.2.7']);
  other = ca.issue(['app.example.com']);
});

function keyBody(pem: string): string {
  return pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
}

function rejects(pair: { certificate: string; privateKey: string }, names: string[], fragment: RegExp, now?: Date): void {
  assert.throws(() => checkTlsPair(pair, names, now), (err: Error & { code?: string; field?: string }) => {
    assert.equal(err.code, 'CertificateInvalid');
    assert.equal(err.field, 'spec.tls.secretRef');
    assert.match(err.message, fragment);
    // No line of any key may leak into the message.
    for (const pem of [pair.privateKey, good.privateKey]) {
      for (const chunk of keyBody(pem).match(/.{1,16}/g) ?? []) assert.ok(!err.message.includes(chunk), 'key material in the error');
    }
    return true;
  });
}

describe('checkTlsPair', () => {
  it('accepts a matching pair covering exact, wildcard and IP names, and reports public facts', () => {
    const facts = checkTlsPair(good, ['app.example.com', 'x.apps.example.com', '*.apps.example.com', '192.0.2.7']);
    assert.deepEqual(facts.dnsNames, ['app.example.com', '*.apps.example.com', '192.0.2.7']);
    assert.ok(facts.notAfter > new Date());
    assert.match(facts.fingerprint256, /^[0-9A-F:]+$/);
  });

  const table: Array<[string, () => void]> = [
    ['a key from another certificate does not match', () => rejects({ certificate: good.certificate, privateKey: other.privateKey }, ['app.example.com'], /does not match/)],
    ['a name the certificate does not cover is named in the error', () => rejects(good, ['app.example.com', 'admin.example.com'], /does not cover admin\.example\.com/)],
    ['a wildcard covers exactly one label, not two', () => rejects(good, ['a.b.apps.example.com'], /does not cover/)],
    ['a wildcard server name needs a wildcard certificate', () => rejects(other, ['*.example.com'], /does not cover/)],
    ['an expired certificate', () => rejects(ca.issue(['app.example.com'], { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }), ['app.example.com'], /expired/)],
    ['a certificate not yet valid', () => rejects(good, ['app.example.com'], /not valid before/, new Date(Date.now() - 5 * 86_400_000))],
    ['an encrypted key nginx could not read', () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
      rejects({ certificate: good.certificate, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }).toString() }, ['app.example.com'], /encrypted/);
    }],
    ['a key pasted into tls.crt (it would be written where certificates go)', () => rejects({ certificate: good.certificate + good.privateKey, privateKey: good.privateKey }, ['app.example.com'], /only CERTIFICATE blocks/)],
    ['garbage instead of a key', () => rejects({ certificate: good.certificate, privateKey: '-----BEGIN PRIVATE KEY-----\nAAAAnotakeyAAAA\n-----END PRIVATE KEY-----\n' }, ['app.example.com'], /could not be read/)],
    ['no certificate at all', () => rejects({ certificate: 'hello', privateKey: good.privateKey }, ['app.example.com'], /no PEM certificate/)],
    ['two keys in tls.key', () => rejects({ certificate: good.certificate, privateKey: good.privateKey + other.privateKey }, ['app.example.com'], /exactly one/)],
  ];
  for (const [reason, run] of table) it(`rejects: ${reason}`, run);
});
