// The pieces of the SSH provider that need no server: argument quoting (checked against real
// shells), refusal of unsafe argv, pinned host key parsing, the channel semaphore and deadlines.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { commandChunks, commandLine, shellQuote, validateArgv } from '../../reconcilers/ssh/command.ts';
import { fingerprintOf, hostKeyAlgorithms, parseHostKey } from '../../reconcilers/ssh/hostkey.ts';
import { Semaphore } from '../../reconcilers/ssh/semaphore.ts';
import { deadline, raceDeadline } from '../../reconcilers/ssh/deadline.ts';
import { assertRemotePath } from '../../reconcilers/ssh/sftp.ts';

const hostile = [
  'plain',
  'two words',
  "it's",
  '$HOME',
  '`id`',
  '$(touch /tmp/outrigger-pwned)',
  '; rm -rf /',
  '"double"',
  "'';'\\''",
  '\\backslash\\',
  '*',
  '~root',
  '-n',
  '',
  'a|b&c>d<e',
  '{a,b}',
  '!!',
  'ünïcødé',
];

describe('shell quoting', () => {
  for (const shell of ['/bin/sh', '/bin/bash'].filter((s) => existsSync(s))) {
    it(`every argument arrives byte for byte through ${shell} (what sshd runs the command with)`, () => {
      const line = commandLine(['printf', '%s\\0', ...hostile]);
      const out = execFileSync(shell, ['-c', line], { encoding: 'utf8' });
      assert.deepEqual(out.split('\0').slice(0, -1), hostile);
      assert.equal(existsSync('/tmp/outrigger-pwned'), false);
    });
  }
  it('leaves plain words bare and single-quotes everything else', () => {
    assert.equal(shellQuote('nginx'), 'nginx');
    assert.equal(shellQuote('/etc/nginx/nginx.conf'), '/etc/nginx/nginx.conf');
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.equal(shellQuote(''), "''");
  });

  it('splits a long argument list into commands that each fit on one shell command line, in order', () => {
    const paths = Array.from({ length: 2_000 }, (_, i) => `/etc/nginx/outrigger/routes/${'n'.repeat(63)}_${'r'.repeat(63)}-${i}/server.conf`);
    const chunks = commandChunks(['sync', '--'], paths);
    assert.ok(chunks.length > 1, 'more than one command');
    for (const argv of chunks) {
      assert.deepEqual(argv.slice(0, 2), ['sync', '--']);
      assert.ok(commandLine(argv).length <= 96 * 1024, `a command line of ${commandLine(argv).length} characters`);
    }
    assert.deepEqual(chunks.flatMap((argv) => argv.slice(2)), paths);
    assert.deepEqual(commandChunks(['mkdir', '-p'], []), []);
  });
});

describe('validateArgv', () => {
  const refused: Array<[string, string[]]> = [
    ['an empty argv', []],
    ['a program that is a shell snippet', ['nginx -t; id']],
    ['a program with a substitution', ['$(id)']],
    ['a relative program climbing directories', ['../../bin/sh']],
    ['a newline in an argument (never needed, and a log-injection vector)', ['echo', 'a\nb']],
    ['a NUL byte (cannot be passed to a program)', ['echo', 'a\u0000b']],
  ];
  for (const [reason, argv] of refused) {
    it(`refuses ${reason}`, () => assert.throws(() => validateArgv(argv), (e: Error & { code?: string }) => e.code === 'InvalidCommand'));
  }
  it('accepts absolute and bare programs', () => {
    validateArgv(['/usr/sbin/nginx', '-t']);
    validateArgv(['sudo', '-n', 'nginx', '-s', 'reload']);
  });
});

describe('pinned host keys', () => {
  const ed = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHmin1WqZyGEyaFoxsmXdocO87HNYrlqlLeDLphrNSM5 host@example';
  it('parses an OpenSSH line and computes the ssh-keygen fingerprint', () => {
    const k = parseHostKey(ed);
    assert.equal(k.type, 'ssh-ed25519');
    assert.equal(k.fingerprint, fingerprintOf(k.blob));
    assert.match(k.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.deepEqual(hostKeyAlgorithms(k), ['ssh-ed25519']);
  });
  it('offers every RSA signature algorithm for an RSA key', () => {
    const rsaBlob = Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('ssh-rsa'), Buffer.from([0, 0, 0, 1, 3])]);
    assert.deepEqual(hostKeyAlgorithms(parseHostKey(`ssh-rsa ${rsaBlob.toString('base64')}`)), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });
  const bad: Array<[string, string]> = [
    ['a line whose blob says another type (a swapped key)', 'ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIHmin1WqZyGEyaFoxsmXdocO87HNYrlqlLeDLphrNSM5'],
    ['an unsupported type', 'ssh-dss AAAAB3NzaC1kc3MAAACBAP'],
    ['a fingerprint instead of a key', 'SHA256:L5I2f/iqhOKy8oNFL1nIG3z4YvqpZnBO9zcVvpasptw'],
    ['not base64', 'ssh-ed25519 !!!!'],
  ];
  for (const [reason, line] of bad) {
    it(`refuses ${reason}, naming the field`, () => assert.throws(() => parseHostKey(line, 'spec.ssh.hostKey'), /spec\.ssh\.hostKey: .*expected one OpenSSH public key line/));
  }
});

describe('remote paths', () => {
  for (const p of ['relative/x', '/a/../b', '/a//b', '/a/./b', '/a/\nb', '/a/']) {
    it(`refuses ${JSON.stringify(p)}`, () => assert.throws(() => assertRemotePath(p), /must be absolute and normalised/));
  }
  it('accepts a plain absolute path', () => assertRemotePath('/etc/nginx/outrigger/routes/a_b/tls.0123.key'));
});

describe('Semaphore', () => {
  it('grants in order, never more than its size at once', async () => {
    const sem = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(Array.from({ length: 6 }, async (_, i) => {
      const release = await sem.acquire();
      active++;
      peak = Math.max(peak, active);
      order.push(i);
      await new Promise((r) => setImmediate(r));
      active--;
      release();
    }));
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
    assert.equal(sem.available, 2);
  });
  it('a waiter whose signal fires leaves the line and does not leak a slot', async () => {
    const sem = new Semaphore(1);
    const hold = await sem.acquire();
    const ac = new AbortController();
    const waiting = sem.acquire(ac.signal);
    ac.abort(new Error('gave up'));
    await assert.rejects(waiting, /gave up/);
    assert.equal(sem.waiting, 0);
    hold();
    assert.equal(sem.available, 1);
  });
});

describe('deadlines', () => {
  it('a timeout becomes SshTimeout naming the operation, and the abort hook runs', async () => {
    let aborted = false;
    const d = deadline({ timeoutMs: 20 }, 1000);
    await assert.rejects(raceDeadline(d, 'command sleep on h', new Promise(() => {}), () => { aborted = true; }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'SshTimeout');
      assert.match(e.message, /command sleep on h timed out after 20 ms/);
      return true;
    });
    assert.equal(aborted, true);
  });
  it('a caller abort becomes SshAborted', async () => {
    const ac = new AbortController();
    const d = deadline({ signal: ac.signal }, 1000);
    const p = raceDeadline(d, 'upload', new Promise(() => {}));
    ac.abort();
    await assert.rejects(p, (e: Error & { code?: string }) => e.code === 'SshAborted');
  });
});
