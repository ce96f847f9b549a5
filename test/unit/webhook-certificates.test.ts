// When the self-managed webhook certificates are issued and renewed (time is a parameter, so
// rotation is tested without waiting), and that what is issued is what kube-apiserver needs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { silentLogger } from '../../controller/logger.ts';
import { createWebhookApp } from '../../webhooks/app.ts';
import { StaticLookup } from '../../webhooks/lookup.ts';
import { startWebhookServer } from '../../webhooks/server.ts';
import { FileCertificates } from '../../webhooks/tls/files.ts';
import { DAY_MS, inspectCertificate, isIssuedBy } from '../../pki/authority.ts';
import { caBundleOf, planCertificates, type CertificateBundle, type RotationPolicy } from '../../webhooks/tls/plan.ts';
import { bundleFromSecret, secretData } from '../../webhooks/tls/self-managed.ts';
import { certificateNames } from '../../webhooks/main.ts';

const names = certificateNames('outrigger-webhook', 'outrigger-system', ['127.0.0.1']);
const policy: RotationPolicy = { caDays: 100, caRenewBeforeDays: 20, servingDays: 30, servingRenewBeforeDays: 10 };
const T0 = Date.parse('2030-01-01T00:00:00Z');

describe('webhook certificates: issuing', () => {
  const first = planCertificates(undefined, names, T0, policy);

  it('issues a CA and a serving certificate for the Service names and extra addresses', () => {
    assert.equal(first.reason, 'no certificates yet');
    const info = inspectCertificate(first.bundle.serving.certPem);
    assert.deepEqual(info.names, [
      'outrigger-webhook.outrigger-system.svc',
      'outrigger-webhook.outrigger-system.svc.cluster.local',
      'outrigger-webhook.outrigger-system',
      'outrigger-webhook',
      '127.0.0.1',
    ]);
    assert.equal(info.notAfter, T0 + 30 * DAY_MS);
    const serving = new X509Certificate(first.bundle.serving.certPem);
    const ca = new X509Certificate(first.bundle.ca.certPem);
    assert.equal(ca.ca, true);
    assert.equal(serving.ca, false);
    assert.ok(serving.checkIssued(ca) && serving.verify(ca.publicKey), 'the serving certificate is signed by the CA');
    assert.ok(isIssuedBy(first.bundle.serving, first.bundle.ca.certPem));
    assert.ok(serving.checkHost('outrigger-webhook.outrigger-system.svc'), 'valid for the Service name kube-apiserver dials');
    assert.ok(serving.checkIP('127.0.0.1'));
  });

  it('round-trips through the Secret\'s data', () => {
    assert.deepEqual(bundleFromSecret({ metadata: {}, data: secretData(first.bundle) }), first.bundle);
    assert.equal(bundleFromSecret({ metadata: {}, data: { 'tls.crt': 'eA==' } }), undefined, 'an incomplete Secret is no bundle');
  });

  it('keeps a fresh bundle as it is', () => {
    const again = planCertificates(first.bundle, names, T0 + 5 * DAY_MS, policy);
    assert.equal(again.reason, undefined);
    assert.equal(again.bundle, first.bundle);
  });

  it('keeps a fresh bundle whose names include an IPv6 address (not re-issued on every check)', () => {
    const v6 = planCertificates(undefined, [...names, '::1', 'fd00::10'], T0, policy);
    assert.equal(planCertificates(v6.bundle, [...names, '::1', 'fd00::10'], T0 + DAY_MS, policy).reason, undefined);
  });
});

describe('webhook certificates: rotation', () => {
  const first = planCertificates(undefined, names, T0, policy).bundle;

  it('renews the serving certificate before it expires, with the same CA (caBundle unchanged)', () => {
    const justBefore = planCertificates(first, names, T0 + 19 * DAY_MS, policy);
    assert.equal(justBefore.reason, undefined, 'not due 11 days before expiry');
    const due = planCertificates(first, names, T0 + 20 * DAY_MS + 1, policy);
    assert.equal(due.reason, 'the serving certificate is due for renewal');
    assert.equal(due.bundle.ca, first.ca);
    assert.notEqual(due.bundle.serving.certPem, first.serving.certPem);
    assert.ok(isIssuedBy(due.bundle.serving, first.ca.certPem));
    assert.equal(caBundleOf(due.bundle), caBundleOf(first));
  });

  it('re-issues the serving certificate when a name is added', () => {
    const more = planCertificates(first, [...names, 'webhook.example.com'], T0 + DAY_MS, policy);
    assert.equal(more.reason, 'the serving certificate does not cover every name');
    assert.ok(inspectCertificate(more.bundle.serving.certPem).names.includes('webhook.example.com'));
  });

  it('re-issues a serving certificate that does not belong to the CA', () => {
    const stranger = planCertificates(undefined, names, T0, policy).bundle;
    const mixed = { ...first, serving: stranger.serving };
    assert.equal(planCertificates(mixed, names, T0 + DAY_MS, policy).reason, 'the serving certificate does not match the CA or its key');
  });

  it('renews the CA before it expires and trusts both CAs until the old one expires', () => {
    const at = T0 + 81 * DAY_MS;
    const renewed = planCertificates(first, names, at, policy);
    assert.equal(renewed.reason, 'the CA is due for renewal');
    assert.notEqual(renewed.bundle.ca.certPem, first.ca.certPem);
    assert.equal(renewed.bundle.previousCaPem, first.ca.certPem);
    assert.ok(isIssuedBy(renewed.bundle.serving, renewed.bundle.ca.certPem), 'the new serving certificate comes from the new CA');
    const bundle = caBundleOf(renewed.bundle);
    assert.ok(bundle.includes(first.ca.certPem.trim()) && bundle.includes(renewed.bundle.ca.certPem.trim()), 'replicas still serving the old certificate stay trusted');

    const stillTrusted = planCertificates(renewed.bundle, names, at + 10 * DAY_MS, policy);
    assert.equal(stillTrusted.reason, undefined);
    const afterOldExpiry = planCertificates(renewed.bundle, names, T0 + 100 * DAY_MS + 1, policy);
    assert.equal(afterOldExpiry.reason, 'the previous CA expired');
    assert.equal(afterOldExpiry.bundle.previousCaPem, undefined);
    assert.equal(caBundleOf(afterOldExpiry.bundle), `${renewed.bundle.ca.certPem.trim()}\n`);
  });

  it('starts over when the stored CA cannot be read', () => {
    const broken = { ...first, ca: { certPem: 'garbage', keyPem: first.ca.keyPem } };
    assert.equal(planCertificates(broken, names, T0, policy).reason, 'the stored CA is unreadable');
  });
});

describe('webhook certificates: serving', () => {
  it('serves over TLS and switches to renewed files without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outrigger-webhook-certs-'));
    const write = (b: CertificateBundle) => {
      writeFileSync(join(dir, 'tls.crt'), b.serving.certPem);
      writeFileSync(join(dir, 'tls.key'), b.serving.keyPem);
    };
    const first = planCertificates(undefined, ['127.0.0.1'], Date.now(), policy).bundle;
    write(first);
    const source = new FileCertificates({ dir, logger: silentLogger, pollIntervalMs: 20 });
    await source.start();
    const server = await startWebhookServer({ app: createWebhookApp({ lookup: new StaticLookup([]) }), host: '127.0.0.1', port: 0, certificates: source, logger: silentLogger });
    const servedSerial = (ca: string) =>
      new Promise<string>((resolvePromise, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: server.port, ca }, () => {
          const serial = socket.getPeerCertificate().serialNumber;
          socket.end();
          resolvePromise(serial);
        });
        socket.once('error', reject);
      });
    try {
      assert.equal((await servedSerial(first.ca.certPem)).toLowerCase(), inspectCertificate(first.serving.certPem).serialNumber.toLowerCase());
      // Renewed now (a new name makes it due), so it is valid for the handshake.
      const renewed = planCertificates(first, ['127.0.0.1', 'localhost'], Date.now(), policy).bundle;
      assert.notEqual(renewed.serving.certPem, first.serving.certPem);
      const changed = new Promise((r) => source.once('change', r));
      write(renewed);
      await changed;
      assert.equal((await servedSerial(first.ca.certPem)).toLowerCase(), inspectCertificate(renewed.serving.certPem).serialNumber.toLowerCase());
    } finally {
      source.stop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
