// The SSH provider against real sshd in network namespaces: one shared connection per host, the
// pinned host key, commands with quoted arguments, atomic SFTP writes, timeouts and recovery.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SshPool, writeNewFiles, type SshTarget } from '../../reconcilers/ssh/index.ts';
import { hostsSkipReason, startTestHosts, type TestHost, type TestHosts } from '../fixtures/hosts.ts';
import { waitFor } from '../fixtures/wait.ts';

function target(h: TestHost, overrides: Partial<SshTarget> = {}): SshTarget {
  return { host: h.address, port: h.sshPort, username: h.username, privateKey: h.clientPrivateKey, hostKey: h.hostPublicKey, ...overrides };
}

describe('SSH provider on real sshd', { skip: hostsSkipReason() }, () => {
  let fixture: TestHosts;
  let a: TestHost;
  let b: TestHost;
  let pool: SshPool;

  before(async () => {
    fixture = await startTestHosts(2);
    [a, b] = fixture.hosts as [TestHost, TestHost];
    pool = new SshPool({ backoff: { initialMs: 100, maxMs: 1_000 }, keepaliveIntervalMs: 1_000 });
  });
  after(async () => {
    pool?.close();
    await fixture?.teardown();
  });

  it('runs many commands and file operations over one connection per host', async () => {
    const before = pool.counters();
    const conns = [pool.connection(target(a)), pool.connection(target(b))];
    await Promise.all(conns.flatMap((c, i) => Array.from({ length: 25 }, async (_, j) => {
      const r = await c.run(['echo', `host${i}-cmd${j}`]);
      assert.equal(r.stdout, `host${i}-cmd${j}\n`);
      await c.files.writeFileAtomic(`${[a, b][i]!.dir}/f${j}`, `content ${j}`, { mode: 0o644 });
    })));
    const after = pool.counters();
    assert.equal(after.connectionsOpened - before.connectionsOpened, 2, 'one connection per host, reused');
    assert.equal(after.commandsRun - before.commandsRun, 50);
    assert.equal(pool.connection(target(a)), conns[0], 'the pool hands out the same connection');
  });

  it('passes hostile arguments byte for byte (no shell interpretation on the host)', async () => {
    const args = ["it's", '$(id)', '`id`', '; touch /tmp/pwned', '"q"', '*', ''];
    const r = await pool.connection(target(a)).run(['printf', '%s\\0', ...args]);
    assert.deepEqual(r.stdout.split('\0').slice(0, -1), args);
    assert.equal((await a.exec(['test', '-e', '/tmp/pwned'])).code, 1);
  });

  it('writes files atomically with the requested mode (0600 for keys) and reads them back', async () => {
    const c = pool.connection(target(a));
    const path = join(a.dir, 'keys', 'tls.key');
    await c.files.mkdirp(join(a.dir, 'keys'));
    await c.files.writeFileAtomic(path, 'first', { mode: 0o600 });
    await c.files.writeFileAtomic(path, 'second version', { mode: 0o600 });
    assert.equal(await readFile(path, 'utf8'), 'second version');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await c.files.readFile(path))?.toString(), 'second version');
    assert.equal(await c.files.readFile(join(a.dir, 'missing')), null);
    // No temporary file is left behind.
    const entries = await c.files.readdir(join(a.dir, 'keys'));
    assert.deepEqual(entries?.map((e) => e.name), ['tls.key']);
  });

  it('writes many new files in one archive: modes kept, directories made, two commands, an existing file never replaced', async () => {
    const c = pool.connection(target(a));
    const base = join(a.dir, 'bulk');
    await c.files.mkdirp(base);
    const files = Array.from({ length: 300 }, (_, i) => ({
      // Deep enough that some names need tar's long-name headers.
      path: join(base, 'routes', `team-${i % 7}_route-with-a-rather-long-name-${i}`, i % 3 === 0 ? `tls.${'k'.repeat(40)}.key` : `server.${i}.conf`),
      content: i === 5 ? Buffer.from([0, 1, 2, 255, 10, 13]) : `server { # ${i}\n}\n`,
      mode: i % 3 === 0 ? 0o600 : 0o644,
    }));
    const before = pool.counters();
    await writeNewFiles(c, base, files);
    const after = pool.counters();
    assert.equal(after.commandsRun - before.commandsRun, 2, 'one tar and one sync');
    assert.equal(after.filesWritten - before.filesWritten, files.length);
    for (const f of files) {
      assert.deepEqual(await readFile(f.path), typeof f.content === 'string' ? Buffer.from(f.content) : f.content, f.path);
      assert.equal((await stat(f.path)).mode & 0o777, f.mode, `${f.path} has mode ${f.mode.toString(8)}`);
    }

    const planted = join(base, 'routes', 'planted.conf');
    await writeFile(planted, 'not ours');
    await assert.rejects(writeNewFiles(c, base, [{ path: planted, content: 'ours', mode: 0o644 }]), /tar on .* could not write 1 files/);
    assert.equal(await readFile(planted, 'utf8'), 'not ours', 'an existing file is never replaced');
    await assert.rejects(writeNewFiles(c, base, [{ path: join(a.dir, 'elsewhere.conf'), content: 'x', mode: 0o644 }]), /not under/);
  });

  it('refuses a host whose key is not the pinned one, before offering our key', async () => {
    const c = pool.connection(target(a, { hostKey: b.hostPublicKey }));
    const sshdLogBefore = (await readFile(join(a.dir, 'sshd.log'), 'utf8')).length;
    await assert.rejects(c.exec(['true']), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'HostKeyMismatch');
      assert.match(err.message, /host key mismatch for root@10\.213\.\d+\.2:22: the server presented ssh-ed25519 SHA256:\S+ but the Host pins SHA256:\S+; refusing to connect/);
      return true;
    });
    assert.equal(c.status().state, 'backoff');
    const newLog = (await readFile(join(a.dir, 'sshd.log'), 'utf8')).slice(sshdLogBefore);
    assert.doesNotMatch(newLog, /Accepted publickey/, 'authentication never happened');
    pool.release(target(a));
  });

  it('rejects a wrong private key with a clear message', async () => {
    const c = pool.connection(target(b, { privateKey: a.clientPrivateKey }));
    await assert.rejects(c.exec(['true']), (err: Error & { code?: string }) => err.code === 'SshAuthenticationFailed' && /rejected the private key/.test(err.message));
    pool.release(target(b));
  });

  it('times out a command and honours an AbortSignal', async () => {
    const c = pool.connection(target(b));
    await assert.rejects(c.exec(['sleep', '5'], { timeoutMs: 300 }), (err: Error & { code?: string }) => err.code === 'SshTimeout' && /command sleep on .* timed out after 300 ms/.test(err.message));
    const ac = new AbortController();
    const p = c.exec(['sleep', '5'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(p, (err: Error & { code?: string }) => err.code === 'SshAborted');
    // The connection is still usable afterwards.
    assert.equal((await c.run(['echo', 'ok'])).stdout, 'ok\n');
  });

  it('reports a non-zero exit with stderr, without throwing from exec', async () => {
    const c = pool.connection(target(b));
    const r = await c.exec(['ls', '/definitely/not/here']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /No such file/);
    await assert.rejects(c.run(['ls', '/definitely/not/here']), (err: Error & { code?: string }) => err.code === 'SshCommandFailed' && /No such file/.test(err.message));
  });

  it('recovers after sshd is stopped and started again (reconnect with backoff)', async () => {
    const c = pool.connection(target(b));
    await c.run(['true']);
    const opened = pool.counters().connectionsOpened;
    await b.stopSshd();
    await waitFor(() => c.status().state !== 'connected', { description: 'the pool to notice the dropped connection', timeoutMs: 10_000 });
    await assert.rejects(c.exec(['true'], { timeoutMs: 2_000 }), (err: Error & { code?: string }) => err.code === 'Unreachable');
    await b.startSshd();
    const r = await waitFor(() => c.run(['echo', 'back'], { timeoutMs: 2_000 }), { description: 'commands to work again after sshd restarted', timeoutMs: 15_000, intervalMs: 200 });
    assert.equal(r.stdout, 'back\n');
    assert.equal(pool.counters().connectionsOpened, opened + 1, 'exactly one new connection');
  });

  it('opens a tunnel to a port on the host (used to ask nginx which configuration is live)', async () => {
    const ch = await pool.connection(target(a)).forwardOut('127.0.0.1', a.upstreams[0]!.port);
    const body = await new Promise<string>((resolve) => {
      let data = '';
      ch.on('data', (d: Buffer) => { data += d; });
      ch.on('close', () => resolve(data));
      ch.end('GET /via-tunnel HTTP/1.0\r\n\r\n');
    });
    assert.match(body, /"url":"\/via-tunnel"/);
  });
});
