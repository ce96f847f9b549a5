// The certificate authority every certificate of the project comes from: what it issues is what a
// TLS peer checks (issuer, signature, names, key usage), for server and client leafs of both key types.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { coversNames, inspectCertificate, isIssuedBy, issueCa, issueLeaf, validFor } from '../../pki/authority.ts';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const now = Date.now();
const ca = issueCa('test-ca', validFor(now, 10));
const other = issueCa('other-ca', validFor(now, 10));

describe('pki: the CA', () => {
  it('is a self-signed CA certificate valid for the days asked', () => {
    const x = new X509Certificate(ca.certPem);
    assert.equal(x.ca, true);
    assert.ok(x.verify(x.publicKey), 'self-signed');
    assert.equal(inspectCertificate(ca.certPem).notAfter, Math.floor((now + 10 * 86_400_000) / 1000) * 1000);
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  });
});

describe('pki: leaf certificates', () => {
  it('a server leaf has an ECDSA key by default, is signed by the CA and covers its DNS names and IPs', () => {
    const leaf = issueLeaf(ca, { names: ['api.test', '127.0.0.1', '::1'], validity: validFor(now, 1) });
    const x = new X509Certificate(leaf.certPem);
    assert.equal(createPublicKey(leaf.certPem).asymmetricKeyType, 'ec');
    assert.equal(x.ca, false);
    assert.ok(x.checkIssued(new X509Certificate(ca.certPem)));
    assert.ok(isIssuedBy(leaf, ca.certPem));
    assert.ok(x.checkHost('api.test') && x.checkIP('127.0.0.1') && x.checkIP('::1'));
    assert.deepEqual(x.keyUsage, [SERVER_AUTH]);
    assert.match(x.subject, /CN=api\.test/);
  });

  it('a client leaf with an RSA key is for client authentication only', () => {
    const leaf = issueLeaf(ca, { names: [], commonName: 'someone', usage: 'client', keyType: 'rsa', validity: validFor(now, 1) });
    const x = new X509Certificate(leaf.certPem);
    assert.equal(createPublicKey(leaf.certPem).asymmetricKeyType, 'rsa');
    assert.deepEqual(x.keyUsage, [CLIENT_AUTH]);
    assert.equal(x.subjectAltName, undefined);
    assert.ok(isIssuedBy(leaf, ca.certPem));
  });

  it('a server leaf needs a name', () => {
    assert.throws(() => issueLeaf(ca, { names: [], validity: validFor(now, 1) }), /at least one DNS name or IP address/);
  });

  it('isIssuedBy refuses another CA and a key of another certificate', () => {
    const a = issueLeaf(ca, { names: ['a.test'], validity: validFor(now, 1) });
    const b = issueLeaf(ca, { names: ['a.test'], validity: validFor(now, 1) });
    assert.equal(isIssuedBy(a, other.certPem), false);
    assert.equal(isIssuedBy({ certPem: a.certPem, keyPem: b.keyPem }, ca.certPem), false);
  });

  it('coversNames compares DNS names without case and IPv6 addresses in any spelling', () => {
    const info = inspectCertificate(issueLeaf(ca, { names: ['API.test', '::1', 'fd00::a:1'], validity: validFor(now, 1) }).certPem);
    assert.ok(coversNames(info, ['api.test', '0:0:0:0:0:0:0:1', 'fd00:0::a:1']));
    assert.equal(coversNames(info, ['api.test', '::2']), false);
  });

  it('a TLS client trusting the CA completes a handshake with a leaf of each key type, and one trusting another CA does not', async () => {
    for (const keyType of ['ec', 'rsa'] as const) {
      const leaf = issueLeaf(ca, { names: ['127.0.0.1'], keyType, validity: validFor(now, 1) });
      const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => s.end('hi'));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      const handshake = (caPem: string) => new Promise<void>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, ca: caPem }, () => { socket.destroy(); resolve(); });
        socket.once('error', reject);
      });
      try {
        await handshake(ca.certPem);
        await assert.rejects(handshake(other.certPem), /self-signed|unable to verify|certificate/i);
      } finally {
        server.close();
      }
    }
  });
});
