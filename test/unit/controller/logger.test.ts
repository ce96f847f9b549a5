import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../../controller/logger.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  return { lines, logger: createLogger({ level: 'debug', destination }) };
}

describe('logger redaction', () => {
  it('censors Secret data and credential fields wherever they are nested', () => {
    const { lines, logger } = capture();
    logger.info({
      secret: { data: { password: 'aHVudGVyMg==' } },
      object: { data: { token: 'c2VjcmV0LXRva2Vu' }, stringData: { key: 'plain-secret' } },
      request: { headers: { authorization: 'Bearer abc.def.ghi' } },
      password: 'hunter2',
      privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----',
    }, 'something happened');
    const out = lines.join('');
    for (const value of ['aHVudGVyMg==', 'c2VjcmV0LXRva2Vu', 'plain-secret', 'abc.def.ghi', 'hunter2', 'BEGIN OPENSSH']) {
      assert.ok(!out.includes(value), `"${value}" leaked into the log: ${out}`);
    }
    assert.match(out, /\[REDACTED\]/);
    assert.match(out, /something happened/);
  });

  it('keeps ordinary fields', () => {
    const { lines, logger } = capture();
    logger.info({ controller: 'workspace', key: 'ns/name' }, 'reconciled');
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.controller, 'workspace');
    assert.equal(entry.key, 'ns/name');
    assert.equal(entry.level, 'info');
  });
});
