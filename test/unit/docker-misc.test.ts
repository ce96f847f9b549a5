// Small pure parts of the Docker provider: how API calls are named for counting, how engine errors
// map to stable codes (without leaking secrets), file path rules, labels and connection keys.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiCallCounter, operationOf } from '../../reconcilers/docker/api-calls.ts';
import { DockerErrorCodes, dockerError, isConflict } from '../../reconcilers/docker/errors.ts';
import { filesDigest, tmpfsPathOf, validateFilePath } from '../../reconcilers/docker/files.ts';
import { ownerFromLabels, ownerLabels } from '../../reconcilers/docker/labels.ts';
import { Engine, connectionKey, describeConnection } from '../../reconcilers/docker/engine.ts';
import { EngineWatcher } from '../../reconcilers/docker/watcher.ts';
import { endpointsOf } from '../../reconcilers/docker/containers.ts';
import { activityEpoch } from '../../reconcilers/docker/activity.ts';
import { hostEngineConnection } from '../../reconcilers/docker/host.ts';
import { PassThrough } from 'node:stream';
import { OutriggerError, TerminalError } from '../../controller/errors.ts';

describe('operationOf', () => {
  const cases: Array<[string, string, string]> = [
    ['GET', '/containers/json?all=true&filters=%7B%7D', 'GET /containers/json'],
    ['POST', '/containers/create?name=x', 'POST /containers/create'],
    ['GET', '/containers/abc123/json', 'GET /containers/{id}/json'],
    ['POST', '/containers/abc123/start', 'POST /containers/{id}/start'],
    ['DELETE', '/containers/abc123?force=true', 'DELETE /containers/{id}'],
    ['POST', '/exec/e1/start', 'POST /exec/{id}/start'],
    ['GET', '/images/outrigger-test/workspace:abc/json', 'GET /images/{name}/json'],
    ['POST', '/images/create?fromImage=x', 'POST /images/create'],
    ['GET', '/v1.41/volumes/home-1', 'GET /volumes/{id}'],
    ['GET', '/events?filters=x', 'GET /events'],
  ];
  for (const [method, path, want] of cases) {
    it(`${method} ${path} -> ${want}`, () => assert.equal(operationOf(method, path), want));
  }
});

describe('ApiCallCounter', () => {
  it('counts by operation and reports the calls since a snapshot', () => {
    const counter = new ApiCallCounter();
    counter.record('GET /containers/json');
    const before = counter.snapshot();
    counter.record('GET /containers/json');
    counter.record('POST /containers/{id}/start');
    assert.deepEqual(counter.since(before), { total: 2, byOperation: { 'GET /containers/json': 1, 'POST /containers/{id}/start': 1 } });
    assert.equal(counter.count('GET /containers/json'), 2);
  });
});

describe('dockerError', () => {
  const engine = 'unix:///var/run/docker.sock';
  it('a refused connection is Unreachable and says what to check', () => {
    const err = dockerError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), engine, 'ping');
    assert.equal(err.code, DockerErrorCodes.Unreachable);
    assert.match(err.message, /cannot reach the Docker engine unix:\/\/\/var\/run\/docker.sock \(ECONNREFUSED\)/);
  });
  it('a missing image is ImageNotFound with the engine\'s words', () => {
    const err = dockerError(Object.assign(new Error('(HTTP code 404) no such container - No such image: foo:1 '), { statusCode: 404, json: { message: 'No such image: foo:1' } }), engine, 'create container x');
    assert.equal(err.code, DockerErrorCodes.ImageNotFound);
    assert.equal(err.message, `create container x on ${engine}: No such image: foo:1`);
  });
  it('a name conflict is Conflict', () => {
    assert.equal(dockerError(Object.assign(new Error('x'), { statusCode: 409, json: { message: 'Conflict. The container name is in use' } }), engine, 'create').code, DockerErrorCodes.Conflict);
  });
  it('Podman\'s 500 for a taken container name is Conflict too; other 500s are not', () => {
    const podman = 'container create: creating container storage: the container name "ws" is already in use by 6470dae5f8dd. You have to remove that container to be able to reuse that name: that name is already in use';
    const err = Object.assign(new Error('x'), { statusCode: 500, json: { message: podman } });
    assert.equal(isConflict(err), true);
    assert.equal(dockerError(err, engine, 'create').code, DockerErrorCodes.Conflict);
    assert.equal(isConflict(Object.assign(new Error('x'), { statusCode: 500, json: { message: 'OCI runtime error' } })), false);
  });
  it('a refused rlimit (Podman\'s defaults above the machine\'s hard limits) says to set spec.docker.ulimits', () => {
    const message = 'runc: runc create failed: unable to start container process: error during container init: error setting rlimits for ready process: error setting rlimit type 7: operation not permitted: OCI permission denied';
    const err = dockerError(Object.assign(new Error('x'), { statusCode: 500, json: { message } }), engine, 'start container ws');
    assert.equal(err.code, DockerErrorCodes.ExternalError);
    assert.match(err.message, /set spec\.docker\.ulimits on the Host \(nofile and nproc, both\)/);
  });
  it('a taken host port is PortInUse and suggests the fix', () => {
    const err = dockerError(Object.assign(new Error('x'), { statusCode: 500, json: { message: 'driver failed programming external connectivity: Bind for 127.0.0.1:2222 failed: port is already allocated' } }), engine, 'start');
    assert.equal(err.code, DockerErrorCodes.PortInUse);
    assert.match(err.message, /choose another hostPort/);
  });
  it('a deadline is Timeout', () => {
    assert.equal(dockerError(new DOMException('timed out', 'TimeoutError'), engine, 'list').code, DockerErrorCodes.Timeout);
  });
});

describe('file paths', () => {
  it('accepts plain absolute paths and keeps files under the runtime dir in place', () => {
    validateFilePath('/home/dev/.config/app/token');
    assert.equal(tmpfsPathOf('/run/outrigger/authorized_keys/dev'), '/run/outrigger/authorized_keys/dev');
    assert.match(tmpfsPathOf('/home/dev/.netrc'), /^\/run\/outrigger\/files\/[0-9a-f]{20}$/);
  });
  for (const [path, why] of [
    ['relative/path', 'not absolute'],
    ['/home/dev/../../etc/shadow', 'a .. segment'],
    ['/home/dev/./x', 'a . segment'],
    ['/home/dev/$(reboot)', 'shell characters'],
    ['/proc/1/environ', 'under /proc'],
    ['/run/outrigger', 'the runtime dir itself'],
    ['/', 'the root'],
  ]) {
    it(`rejects ${path} (${why})`, () => {
      assert.throws(() => validateFilePath(path!, 'files[0].path'), (e: unknown) => e instanceof TerminalError && e.field === 'files[0].path');
    });
  }
  it('the files digest changes with content, mode and owner, not with order', () => {
    const a = { path: '/a', content: 'x', mode: 0o400, uid: 1000, gid: 1000 };
    const b = { path: '/b', content: 'y', mode: 0o400, uid: 1000, gid: 1000 };
    assert.equal(filesDigest([a, b]), filesDigest([b, a]));
    assert.notEqual(filesDigest([a]), filesDigest([{ ...a, content: 'z' }]));
    assert.notEqual(filesDigest([a]), filesDigest([{ ...a, mode: 0o440 }]));
    assert.notEqual(filesDigest([a]), filesDigest([{ ...a, uid: 0 }]));
  });
});

describe('labels and connections', () => {
  it('reads the owner back from its labels', () => {
    const owner = { kind: 'Workspace', namespace: 'ns', name: 'ws', uid: 'u-1' };
    assert.deepEqual(ownerFromLabels(ownerLabels(owner, 'i', 'workspace')), owner);
    assert.equal(ownerFromLabels({ 'dev.outrigger.owner.name': 'x' }), undefined);
  });
  it('the connection key changes with TLS material, the description never shows it', () => {
    const tls = { ca: 'CA-PEM', cert: 'CERT-PEM', key: 'KEY-PEM' };
    const a = { type: 'tcp' as const, host: '10.0.0.5', port: 2376, tls };
    assert.notEqual(connectionKey(a), connectionKey({ ...a, tls: { ...tls, key: 'OTHER' } }));
    assert.equal(connectionKey(a), connectionKey({ ...a, tls: { ...tls } }));
    assert.equal(describeConnection(a), 'tcp://10.0.0.5:2376');
    assert.equal(describeConnection({ ...a, host: 'fd00::5' }), 'tcp://[fd00::5]:2376');
    assert.ok(!connectionKey(a).includes('KEY-PEM'));
  });
  it('names endpoints after the spec ports, preferring the IPv4 binding', () => {
    const endpoints = endpointsOf(
      [{ name: 'ssh', containerPort: 22, protocol: 'tcp' }, { name: 'dns', containerPort: 53, protocol: 'udp' }],
      [
        { containerPort: 22, protocol: 'tcp', hostIp: '::', hostPort: 32770 },
        { containerPort: 22, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 32769 },
      ],
    );
    assert.deepEqual(endpoints, [{ name: 'ssh', containerPort: 22, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 32769 }]);
  });
});

describe('activityEpoch', () => {
  const base = { now: 1000, connections: 0, terminals: 0, lastInputEpoch: 0, userProcesses: 0 };
  const cases: Array<[string, Partial<typeof base>, number]> = [
    ['nobody there: no activity at all', {}, 0],
    ['a browser editor or IDE connection (no terminal) is activity now', { connections: 1 }, 1000],
    ['an idle terminal session counts from its last keystroke', { connections: 1, terminals: 1, lastInputEpoch: 400 }, 400],
    ['a terminal plus an editor connection is activity now', { connections: 2, terminals: 1, lastInputEpoch: 400 }, 1000],
    ['processes left running alone are not a person', { userProcesses: 5 }, 0],
  ];
  for (const [why, report, want] of cases) {
    it(why, () => assert.equal(activityEpoch({ ...base, ...report }), want));
  }
});

describe('a stream hook that never answers (a stuck SSH connection)', () => {
  it('fails each call at its deadline with Timeout, and the watcher still stops at once', async () => {
    const engine = new Engine({ type: 'stream', identity: 'test://never', connectStream: () => new Promise(() => {}) }, { callTimeoutMs: 200 });
    try {
      await assert.rejects(engine.ping(), (err: unknown) => err instanceof OutriggerError && err.code === DockerErrorCodes.Timeout);
      const watcher = new EngineWatcher(engine, { resyncMs: 60_000 });
      watcher.start();
      const stopped = await Promise.race([watcher.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('hung'), 2000))]);
      assert.equal(stopped, 'stopped');
    } finally {
      engine.close();
    }
  });
  it('a failing hook is Unreachable, with the hook\'s reason as the cause', async () => {
    const engine = new Engine({ type: 'stream', identity: 'test://refused', connectStream: async () => { throw Object.assign(new Error('channel open failure'), { code: 'ECONNREFUSED' }); } });
    try {
      await assert.rejects(engine.ping(), (err: unknown) => err instanceof OutriggerError && err.code === DockerErrorCodes.Unreachable && /test:\/\/refused/.test(err.message));
    } finally {
      engine.close();
    }
  });
});

describe('hostEngineConnection', () => {
  const meta = { name: 'box', namespace: 'ops' };
  const ssh = { port: 22, user: 'deploy', privateKeySecretRef: { name: 'k', key: 'ssh-privatekey' }, hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIabcdefghijklmnop', connectTimeout: '10s', keepaliveInterval: '15s' };
  it('maps docker.unix to the socket path', () => {
    assert.deepEqual(hostEngineConnection({ metadata: meta, spec: { docker: { unix: { path: '/run/docker.sock' } } } } as never), { type: 'unix', socketPath: '/run/docker.sock' });
  });
  it('maps docker.tcp to address, port and the Secret\'s TLS material, and asks for the material when missing', () => {
    const host = { metadata: meta, spec: { address: '10.1.2.3', docker: { tcp: { port: 2376, tlsSecretRef: { name: 'tls' } } } } } as never;
    const tls = { ca: 'a', cert: 'b', key: 'c' };
    assert.deepEqual(hostEngineConnection(host, { tls }), { type: 'tcp', host: '10.1.2.3', port: 2376, tls });
    assert.throws(() => hostEngineConnection(host), (e: unknown) => e instanceof TerminalError && e.code === 'SecretNotFound' && e.field === 'spec.docker.tcp.tlsSecretRef');
  });
  it('maps docker.ssh to the stream hook, opened for the remote socket path', async () => {
    const opened: string[] = [];
    const host = { metadata: meta, spec: { address: 'box.example', ssh, docker: { ssh: { socketPath: '/var/run/docker.sock' } } } } as never;
    const conn = hostEngineConnection(host, { connectStream: async (path) => (opened.push(path), new PassThrough()) });
    assert.equal(conn.type, 'stream');
    assert.match(describeConnection(conn), /^ssh:\/\/deploy@box\.example:22\/var\/run\/docker\.sock#/);
    if (conn.type === 'stream') await conn.connectStream();
    assert.deepEqual(opened, ['/var/run/docker.sock']);
    assert.throws(() => hostEngineConnection(host), (e: unknown) => e instanceof TerminalError && e.field === 'spec.docker.ssh');
  });
  it('a Host without docker says what to add', () => {
    assert.throws(() => hostEngineConnection({ metadata: meta, spec: { ssh } } as never), /Host ops\/box has no spec.docker: add unix, tcp or ssh/);
  });
});
