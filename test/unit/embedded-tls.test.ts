// The embedded API's serving certificate: kept across restarts, re-issued by the same CA when the
// names it must cover change, and issued again when its files are damaged.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { certNames, servingCert } from '../../embedded/security/tls.ts';
import { isIssuedBy } from '../../pki/authority.ts';

describe('embedded serving certificate', () => {
  it('is reused, re-issued for new names by the same CA, and replaced when unreadable', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'outrigger-embedded-tls-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const first = servingCert(dir, certNames('127.0.0.1'));
    assert.ok(isIssuedBy(first, first.caPem));
    const x = new X509Certificate(first.certPem);
    assert.ok(x.checkHost('localhost') && x.checkIP('127.0.0.1') && x.checkIP('::1'));

    assert.deepEqual(servingCert(dir, certNames('127.0.0.1')), first, 'a restart keeps what is on disk');

    const wider = servingCert(dir, certNames('192.0.2.10'));
    assert.equal(wider.caPem, first.caPem, 'clients keep trusting the same CA');
    assert.notEqual(wider.certPem, first.certPem);
    assert.ok(new X509Certificate(wider.certPem).checkIP('192.0.2.10'));

    writeFileSync(join(dir, 'tls.crt'), 'garbage');
    const repaired = servingCert(dir, certNames('192.0.2.10'));
    assert.equal(repaired.caPem, first.caPem);
    assert.ok(isIssuedBy(repaired, repaired.caPem));
  });
});
