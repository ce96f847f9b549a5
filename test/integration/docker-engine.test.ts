// Engine connections against the real dockerd: the unix socket; TCP with mutual TLS (a TLS
// terminator on loopback in front of the engine's socket, with certificates made here); the
// stream hook the SSH layer plugs into, fed a plain Duplex that is not a socket (create, exec with
// stdin and events all cross it); catalogued errors for an engine that is not there or refuses our
// certificate; and the registry's reuse of one engine per Host.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import tls from 'node:tls';
import { issueCa, issueLeaf, validFor, type KeyPairPem } from '../../pki/authority.ts';
import {
  Engine,
  EngineRegistry,
  EngineWatcher,
  WorkspaceContainers,
  homeVolumeName,
  type ContainerChange,
  type TlsMaterial,
} from '../../reconcilers/docker/index.ts';
import { OutriggerError } from '../../controller/errors.ts';
import { dockerSkipReason, setUpDockerTest, testOwner, type DockerTestEnv } from '../fixtures/docker.ts';
import { waitFor } from '../fixtures/wait.ts';
import { hostsSkipReason, startTestHosts, type TestHosts } from '../fixtures/hosts.ts';

const skip = await dockerSkipReason();
if (skip) process.stderr.write(`docker-engine: skipping: ${skip}\n`);
const hostsSkip = skip ? false : hostsSkipReason();

// ---------------------------------------------------------------------------------------------
// Certificates for the TLS test

interface Issued { cert: string; key: string }

function makeCa(cn: string): KeyPairPem {
  return issueCa(cn, validFor(Date.now(), 1));
}

function issue(ca: KeyPairPem, cn: string, usage: 'server' | 'client'): Issued {
  const leaf = issueLeaf(ca, { names: usage === 'server' ? ['127.0.0.1'] : [], commonName: cn, usage, validity: validFor(Date.now(), 1) });
  return { cert: leaf.certPem, key: leaf.keyPem };
}

/** A Duplex that is not a net.Socket, relaying to one: what an SSH channel looks like to the agent. */
function plainDuplexTo(socket: Socket): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, _enc, done) {
      socket.write(chunk, done);
    },
    final(done) {
      socket.end();
      done();
    },
    destroy(err, done) {
      socket.destroy();
      done(err);
    },
  });
  socket.on('data', (d) => {
    if (!duplex.push(d)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (e) => duplex.destroy(e));
  socket.on('close', () => duplex.destroy());
  return duplex;
}

describe('Docker engine connections', { skip }, () => {
  let env: DockerTestEnv;
  const closers: Array<() => void | Promise<void>> = [];

  before(async () => {
    env = await setUpDockerTest('engine');
  });

  after(async () => {
    for (const c of closers.reverse()) await c();
    await env?.cleanup();
  });

  function track<T extends { close(): void }>(engine: T): T {
    closers.push(() => engine.close());
    return engine;
  }

  it('talks to the engine over its unix socket and counts every call', async () => {
    const engine = track(new Engine({ type: 'unix', socketPath: env.socketPath }));
    await engine.ping();
    const v = await engine.version();
    assert.match(v.apiVersion, /^1\.\d+$/);
    assert.deepEqual(engine.calls.snapshot(), { total: 2, byOperation: { 'GET /_ping': 1, 'GET /version': 1 } });
  });

  it('a socket nobody listens on is Unreachable, with the path in the message', async () => {
    const engine = track(new Engine({ type: 'unix', socketPath: '/nonexistent/docker.sock' }));
    await assert.rejects(engine.ping(), (err: unknown) => {
      assert.ok(err instanceof OutriggerError);
      assert.equal(err.code, 'Unreachable');
      assert.match(err.message, /cannot reach the Docker engine unix:\/\/\/nonexistent\/docker.sock \(ENOENT\)/);
      return true;
    });
  });

  it('runs containers, exec with stdin and events through a stream hook (as over SSH)', async () => {
    let opened = 0;
    const engine = track(
      new Engine({
        type: 'stream',
        identity: 'test://plain-duplex',
        connectStream: async () => {
          opened += 1;
          const socket = connect(env.socketPath);
          await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
          return plainDuplexTo(socket);
        },
      }),
    );
    await engine.ping();
    const watcher = new EngineWatcher(engine, { instance: env.instance, resyncMs: 60_000 });
    const changes: ContainerChange[] = [];
    watcher.subscribe((c) => changes.push(c));
    watcher.start();
    closers.push(() => watcher.stop());
    await watcher.waitForSync(AbortSignal.timeout(10_000));

    const ws = new WorkspaceContainers(engine, { instance: env.instance, cache: watcher.cache, stopTimeoutSeconds: 2 });
    const owner = testOwner('via-stream');
    const c = await ws.create({
      spec: { owner, image: env.image, pullPolicy: 'Never', env: { OUTRIGGER_SSH: 'off' }, home: { volume: homeVolumeName(owner), mountPath: '/home/dev' } },
      running: true,
      files: [{ path: '/home/dev/.token', content: 'through-the-stream', mode: 0o400, uid: 1000, gid: 1000 }],
    });
    const r = await ws.exec(c.id, ['sh', '-c', 'cat ~/.token; echo; cat'], { user: 'dev', stdin: 'stdin-too' });
    assert.deepEqual([r.exitCode, r.stdout], [0, 'through-the-stream\nstdin-too']);
    await env.docker.getContainer(c.id).kill();
    await waitFor(() => changes.find((x) => x.containerId === c.id && x.action === 'die'), { description: 'the die event over the stream', timeoutMs: 3000, intervalMs: 20 });
    assert.ok(opened >= 2, `only ${opened} streams were opened`);
  });

  describe('through SSH to the remote socket', { skip: hostsSkip }, () => {
    let hosts: TestHosts | undefined;
    let client: ssh2.Client | undefined;
    let sshWatcher: EngineWatcher | undefined;

    before(async () => {
      hosts = await startTestHosts(1);
      const host = hosts.hosts[0]!;
      const pinned = host.hostPublicKey.split(' ')[1]!;
      client = new ssh2.Client();
      await new Promise<void>((resolve, reject) =>
        client!
          .on('ready', resolve)
          .on('error', reject)
          .connect({
            host: host.address,
            port: host.sshPort,
            username: host.username,
            privateKey: host.clientPrivateKey,
            readyTimeout: 10_000,
            hostVerifier: (key: Buffer) => key.toString('base64') === pinned,
          }),
      );
    });

    after(async () => {
      await sshWatcher?.stop();
      client?.end();
      await hosts?.teardown();
    });

    it('runs a container and reads its events over an SSH streamlocal channel (a network namespace host sharing this machine\'s engine socket)', async () => {
      let channels = 0;
      const engine = track(
        new Engine({
          type: 'stream',
          identity: 'ssh://root@test-host/var/run/docker.sock',
          connectStream: () =>
            new Promise((resolve, reject) => {
              channels += 1;
              client!.openssh_forwardOutStreamLocal(env.socketPath, (err, channel) => (err ? reject(err) : resolve(channel)));
            }),
        }),
      );
      await engine.ping();
      const watcher = (sshWatcher = new EngineWatcher(engine, { instance: env.instance, resyncMs: 60_000 }));
      const changes: ContainerChange[] = [];
      watcher.subscribe((c) => changes.push(c));
      watcher.start();
      await watcher.waitForSync(AbortSignal.timeout(10_000));
      const ws = new WorkspaceContainers(engine, { instance: env.instance, cache: watcher.cache, stopTimeoutSeconds: 2 });
      const owner = testOwner('via-ssh');
      const c = await ws.create({
        spec: { owner, image: env.image, pullPolicy: 'Never', env: { OUTRIGGER_SSH: 'off' }, home: { volume: homeVolumeName(owner), mountPath: '/home/dev' } },
        running: true,
        files: [{ path: '/home/dev/.token', content: 'over-ssh', mode: 0o400, uid: 1000, gid: 1000 }],
      });
      const r = await ws.exec(c.id, ['sh', '-c', 'cat ~/.token; echo; cat'], { user: 'dev', stdin: 'stdin-over-ssh' });
      assert.deepEqual([r.exitCode, r.stdout], [0, 'over-ssh\nstdin-over-ssh']);
      await env.docker.getContainer(c.id).kill();
      await waitFor(() => changes.find((x) => x.containerId === c.id && x.action === 'die'), { description: 'the die event over SSH', timeoutMs: 3000, intervalMs: 20 });
      assert.ok(channels >= 2, `only ${channels} channels were opened`);
    });
  });

  describe('TCP with mutual TLS', () => {
    let server: tls.Server;
    let port = 0;
    let material: TlsMaterial;
    const strangerCa = makeCa('stranger-ca');
    const ca = makeCa('outrigger-test-ca');

    before(async () => {
      const serverCert = issue(ca, 'docker-engine', 'server');
      const client = issue(ca, 'outrigger', 'client');
      material = { ca: ca.certPem, cert: client.cert, key: client.key };
      server = tls.createServer({ key: serverCert.key, cert: serverCert.cert, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (clear) => {
        const upstream = connect(env.socketPath);
        clear.pipe(upstream).pipe(clear);
        clear.on('error', () => upstream.destroy());
        upstream.on('error', () => clear.destroy());
      });
      server.on('tlsClientError', () => {});
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
      closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    });

    it('reaches the engine with the client certificate from the Secret', async () => {
      const engine = track(new Engine({ type: 'tcp', host: '127.0.0.1', port, tls: material }));
      await engine.ping();
      assert.ok((await engine.version()).version.length > 0);
    });

    it('a client certificate the engine does not trust is Unreachable, and no key material leaks into the error', async () => {
      const stranger = issue(strangerCa, 'intruder', 'client');
      const engine = track(new Engine({ type: 'tcp', host: '127.0.0.1', port, tls: { ca: ca.certPem, cert: stranger.cert, key: stranger.key } }));
      const err = await engine.ping().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof OutriggerError, String(err));
      assert.equal(err.code, 'Unreachable');
      assert.match(err.message, /tcp:\/\/127\.0\.0\.1:\d+/);
      assert.ok(!/BEGIN|PRIVATE/.test(err.message));
    });

    it('an engine whose certificate our CA did not sign is Unreachable', async () => {
      const engine = track(new Engine({ type: 'tcp', host: '127.0.0.1', port, tls: { ...material, ca: strangerCa.certPem } }));
      await assert.rejects(engine.ping(), (err: unknown) => err instanceof OutriggerError && err.code === 'Unreachable');
    });
  });

  it('the registry keeps one engine per Host and replaces it when the connection changes', async () => {
    const closed: string[] = [];
    const registry = new EngineRegistry({ onEngineClosed: (uid) => closed.push(uid) });
    closers.push(() => registry.closeAll());
    const a = registry.get('host-uid-1', { type: 'unix', socketPath: env.socketPath });
    assert.equal(registry.get('host-uid-1', { type: 'unix', socketPath: env.socketPath }), a);
    await a.ping();
    const b = registry.get('host-uid-1', { type: 'unix', socketPath: `${env.socketPath}.moved` });
    assert.notEqual(b, a);
    assert.equal(a.isClosed, true);
    assert.deepEqual(closed, ['host-uid-1']);
    await assert.rejects(a.ping(), (err: unknown) => err instanceof OutriggerError && err.code === 'Unreachable');
    const c = registry.get('host-uid-2', { type: 'unix', socketPath: env.socketPath });
    await c.ping();
    assert.equal(registry.calls.total, 2); // one ping through each live engine, totalled
    registry.release('host-uid-2');
    assert.deepEqual(registry.hosts(), ['host-uid-1']);
  });
});
