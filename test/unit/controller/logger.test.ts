import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, defaultLogFormat, type LogFormat } from '../../../controller/logger.ts';

function capture(format: LogFormat = 'json') {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  return { lines, logger: createLogger({ level: 'debug', destination, format }) };
}

const flushed = () => new Promise((resolve) => setImmediate(resolve));

describe('logger redaction', () => {
  for (const format of ['json', 'pretty'] as const) it(`censors Secret data and credential fields wherever they are nested (${format})`, async () => {
    const { lines, logger } = capture(format);
    logger.info({
      secret: { data: { password: 'aHVudGVyMg==' } },
      object: { data: { token: 'c2VjcmV0LXRva2Vu' }, stringData: { key: 'plain-secret' } },
      request: { headers: { authorization: 'Bearer abc.def.ghi' } },
      password: 'hunter2',
      privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----',
    }, 'something happened');
    await flushed();
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

describe('log format', () => {
  it('pretty prints one readable line per entry: time, level, message, then the fields', async () => {
    const { lines, logger } = capture('pretty');
    logger.info({ controller: 'workspace', key: 'ns/name' }, 'reconciled');
    logger.warn('slow');
    await flushed();
    const out = lines.join('').split('\n').filter(Boolean);
    assert.equal(out.length, 2, out.join('\n'));
    assert.match(out[0]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: reconciled \{"controller":"workspace","key":"ns\/name"\}$/);
    assert.match(out[1]!, /^\[[\d:.]+\] WARN: slow$/);
  });

  it('is pretty on a terminal and JSON anywhere else, unless LOG_FORMAT says otherwise', () => {
    assert.equal(defaultLogFormat({ isTTY: true }, {}), 'pretty');
    assert.equal(defaultLogFormat({ isTTY: false }, {}), 'json');
    assert.equal(defaultLogFormat({}, {}), 'json', 'a pipe or file has no isTTY');
    assert.equal(defaultLogFormat({ isTTY: true }, { LOG_FORMAT: 'json' }), 'json');
    assert.equal(defaultLogFormat({ isTTY: false }, { LOG_FORMAT: 'pretty' }), 'pretty');
  });
});
