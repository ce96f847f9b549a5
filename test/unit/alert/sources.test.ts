// The evaluation sources that need no server: the access log follower (offsets, rotation, the
// first read's tail only), certificate chains and expiry stages, retry-after parsing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import forge from 'node-forge';
import { AccessLogFollower, MAX_FIRST_READ, type LogFiles } from '../../../reconcilers/alert/sources/access-log.ts';
import { chainFromPem, earliestExpiry, expiryEvaluation, sniName } from '../../../reconcilers/alert/sources/certificates.ts';
import { parseRetryAfter } from '../../../reconcilers/notify/index.ts';

/** A log file in memory that records which byte ranges were read. */
class FakeLog implements LogFiles {
  content = '';
  reads: Array<{ start: number; bytes: number }> = [];
  async lstat() { return { size: Buffer.byteLength(this.content) }; }
  async readFrom(_p: string, start: number) {
    const b = Buffer.from(this.content).subarray(start);
    this.reads.push({ start, bytes: b.length });
    return b;
  }
}

const line = (sec: number, status: number) => `${sec}.123 ${status}\n`;

describe('access log follower', () => {
  it('reads only what was appended since the last poll', async () => {
    const log = new FakeLog();
    const f = new AccessLogFollower();
    log.content = line(100, 200) + line(100, 502);
    await f.poll(log, '/x');
    log.content += line(101, 200);
    await f.poll(log, '/x');
    const l = line(100, 200).length;
    assert.deepEqual(log.reads, [{ start: 0, bytes: 2 * l }, { start: 2 * l, bytes: l }]);
    assert.deepEqual(f.rate(102_000, 60_000), { total: 3, errors: 1 });
  });

  it('keeps a partial last line until its end arrives', async () => {
    const log = new FakeLog();
    const f = new AccessLogFollower();
    log.content = '100.1 50';
    await f.poll(log, '/x');
    assert.deepEqual(f.rate(101_000, 60_000), { total: 0, errors: 0 });
    log.content += '3\n';
    await f.poll(log, '/x');
    assert.deepEqual(f.rate(101_000, 60_000), { total: 1, errors: 1 });
  });

  it('reads a truncated or rotated log again from the start', async () => {
    const log = new FakeLog();
    const f = new AccessLogFollower();
    log.content = line(100, 200).repeat(10);
    await f.poll(log, '/x');
    log.content = line(101, 500);
    await f.poll(log, '/x');
    assert.equal(log.reads.at(-1)!.start, 0);
    assert.deepEqual(f.rate(102_000, 60_000), { total: 11, errors: 1 });
  });

  it('the first read of a long log takes only its tail, from a line start', async () => {
    const log = new FakeLog();
    const f = new AccessLogFollower();
    const l = line(100, 200).length;
    log.content = line(100, 200).repeat(Math.ceil((MAX_FIRST_READ * 2) / l));
    await f.poll(log, '/x');
    assert.equal(log.reads[0]!.bytes, MAX_FIRST_READ);
    // The first line of the tail may be cut: it is skipped, whole lines only are counted.
    assert.equal(f.rate(101_000, 60_000).total, Math.floor(MAX_FIRST_READ / l) - (MAX_FIRST_READ % l === 0 ? 1 : 0));
  });

  it('counts only the window', () => {
    const f = new AccessLogFollower();
    f.ingest(`${line(10, 500)}${line(50, 500)}${line(69, 200)}`.trimEnd());
    assert.deepEqual(f.rate(70_000, 30_000), { total: 2, errors: 1 });
  });
});

function selfSigned(days: number, cn = 'bob.example.com'): { pem: string; notAfter: number } {
  const keys = forge.pki.rsa.generateKeyPair(1024);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '0a';
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Math.floor((Date.now() + days * 86_400_000) / 1000) * 1000);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer([{ name: 'commonName', value: cn }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { pem: forge.pki.certificateToPem(cert), notAfter: cert.validity.notAfter.getTime() };
}

describe('certificate expiry', () => {
  const leaf = selfSigned(60, 'leaf.example.com');
  const intermediate = selfSigned(10, 'Intermediate CA');

  it('the whole chain counts: an intermediate expiring first is what expires', () => {
    const e = earliestExpiry(chainFromPem(leaf.pem + intermediate.pem))!;
    assert.equal(e.position, 1);
    assert.equal(e.notAfter, intermediate.notAfter);
    assert.match(e.subject, /Intermediate CA/);
  });

  it('fires within withinDays, at stages 7 and 3 days, and when expired', () => {
    const e = earliestExpiry(chainFromPem(leaf.pem))!;
    const day = 86_400_000;
    const at = (daysLeft: number) => expiryEvaluation(e, 'x', e.notAfter - daysLeft * day, 30, [7, 3]);
    assert.deepEqual([at(31).active, at(31).stage], [false, undefined]);
    assert.deepEqual([at(29).active, at(29).stage], [true, undefined]);
    assert.equal(at(6.5).stage, 'within-7d');
    assert.equal(at(2).stage, 'within-3d');
    assert.equal(at(-1).stage, 'expired');
  });

  it('asks a wildcard-only route for a name under it', () => {
    assert.equal(sniName(['*.example.com']), 'outrigger-check.example.com');
    assert.equal(sniName(['*.example.com', 'www.example.com']), 'www.example.com');
  });
});

describe('Retry-After', () => {
  it('takes seconds or an HTTP date, capped at 10 minutes', () => {
    assert.equal(parseRetryAfter('3', 0), 3000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 0), 10_000);
    assert.equal(parseRetryAfter('99999', 0), 600_000);
    assert.equal(parseRetryAfter('soon', 0), undefined);
  });
});
