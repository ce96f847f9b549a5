// From a Workspace spec to its Docker target: the image contract's environment, Secrets as env
// and files (versioned by the Secret, never by the value), authorized keys on the tmpfs, ports,
// limits; and errors that name the Workspace field to fix. Also which Workspaces a Secret or Host
// change concerns.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OutriggerError, TerminalError } from '../../controller/errors.ts';
import { ErrorCodes } from '../../reconcilers/common/reasons.ts';
import { hostSpecSchema, workspaceSpecSchema, type Host } from '../../crds/index.ts';
import { ULIMIT_NAMES as HOST_ULIMIT_NAMES } from '../../crds/host.ts';
import { ULIMIT_NAMES, containerSpecHash } from '../../reconcilers/docker/index.ts';
import { buildTarget, publishedPorts, valueVersion, type SecretLookup } from '../../reconcilers/workspace/target.ts';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAl1W1PD5apahWD3x5EovSm5QoQ/M6A40KfY5u+yUQZH alice@laptop';

function lookup(data: Record<string, Record<string, string>>): SecretLookup {
  return {
    value(ns, ref, field) {
      const secret = data[ref.name];
      if (!secret) throw new OutriggerError(ErrorCodes.SecretNotFound, `${field}: Secret "${ref.name}" not found in namespace "${ns}"`, { field });
      const v = secret[ref.key];
      if (v === undefined) throw new OutriggerError(ErrorCodes.SecretKeyMissing, `${field}: Secret "${ref.name}" has no key "${ref.key}"`, { field });
      return Buffer.from(v);
    },
  };
}

function ws(spec: Record<string, unknown>) {
  const parsed = workspaceSpecSchema.parse({
    owner: 'alice@example.com',
    runtime: { docker: { hostRef: { name: 'local' }, image: 'outrigger-test/workspace:1', pullPolicy: 'Never' } },
    ...spec,
  });
  return { metadata: { namespace: 'class-a', name: 'alice', uid: '0f8e2c1a-1111-2222-3333-444455556666' }, spec: parsed };
}

const secrets = lookup({ creds: { token: 'tok-value-1', pem: '-----BEGIN-----\nabcdefgh12345678\n-----END-----\n', pass: 'editor-pass' } });

describe('buildTarget', () => {
  it('gives the image contract environment, literal env and secret env (versioned, value only in the value)', () => {
    const t = buildTarget(ws({ user: { name: 'alice', uid: 1001 }, env: [{ name: 'TZ', value: 'UTC' }, { name: 'TOKEN', secretKeyRef: { name: 'creds', key: 'token' } }] }), secrets);
    assert.deepEqual(t.spec.env, { OUTRIGGER_USER: 'alice', OUTRIGGER_UID: '1001', OUTRIGGER_HOME: '/home/alice', OUTRIGGER_SSH: 'off', TZ: 'UTC' });
    assert.deepEqual(t.spec.secretEnv, { TOKEN: { value: 'tok-value-1', version: valueVersion('tok-value-1') } });
    assert.deepEqual(t.secretValues, ['tok-value-1']);
    assert.equal(t.spec.home.mountPath, '/home/alice');
    assert.equal(t.spec.hostname, 'alice');
    assert.deepEqual(t.spec.labels, { 'outrigger.dev/owner': 'alice@example.com' });
  });

  it('re-creates the container only when a value it consumes changes, never for the Secret\'s metadata', () => {
    const spec = { env: [{ name: 'TOKEN', secretKeyRef: { name: 'creds', key: 'token' } }] };
    const a = buildTarget(ws(spec), lookup({ creds: { token: 'one' } }));
    const otherKeyAdded = buildTarget(ws(spec), lookup({ creds: { token: 'one', unused: 'x' } }));
    const newValue = buildTarget(ws(spec), lookup({ creds: { token: 'two' } }));
    assert.equal(containerSpecHash(a.spec), containerSpecHash(otherKeyAdded.spec), 'a key the container does not read changes nothing');
    assert.notEqual(containerSpecHash(a.spec), containerSpecHash(newValue.spec), 'a new value re-creates');
    assert.ok(!JSON.stringify(a.spec.secretEnv?.TOKEN?.version).includes('one'), 'the token is a digest, not the value');
  });

  it('places authorized keys and secret files on the tmpfs, owned as they must be', () => {
    const t = buildTarget(ws({ ssh: { authorizedKeys: [KEY] }, files: [{ path: '/home/dev/.config/key.pem', secretKeyRef: { name: 'creds', key: 'pem' } }] }), secrets);
    assert.deepEqual(t.files.map((f) => [f.path, f.mode.toString(8), f.uid, f.gid]), [
      ['/run/outrigger/authorized_keys/dev', '644', 0, 0],
      ['/home/dev/.config/key.pem', '400', 1000, 1000],
    ]);
    assert.equal(String(t.files[0]!.content), `${KEY}\n`);
    assert.equal(t.spec.env?.OUTRIGGER_SSH, 'on');
    assert.equal(t.spec.env?.OUTRIGGER_SSH_PORT, '22');
  });

  it('publishes ssh, editor and the other ports under their names; the editor password becomes PASSWORD', () => {
    const t = buildTarget(ws({
      ssh: { authorizedKeys: [KEY], hostPort: 2222 },
      editor: { passwordSecretRef: { name: 'creds', key: 'pass' } },
      ports: [{ name: 'web', port: 3000 }, { name: 'dns', port: 53, protocol: 'UDP', hostPort: 5353 }],
    }), secrets);
    assert.deepEqual(t.spec.ports, [
      { name: 'ssh', containerPort: 22, protocol: 'tcp', hostPort: 2222 },
      { name: 'editor', containerPort: 8080, protocol: 'tcp' },
      { name: 'web', containerPort: 3000, protocol: 'tcp' },
      { name: 'dns', containerPort: 53, protocol: 'udp', hostPort: 5353 },
    ]);
    assert.deepEqual(t.spec.secretEnv?.PASSWORD, { value: 'editor-pass', version: valueVersion('editor-pass') });
    assert.equal(t.spec.env?.OUTRIGGER_EDITOR, 'code-server');
    assert.equal(t.spec.env?.OUTRIGGER_EDITOR_PORT, '8080');
  });

  it('turns quantities into cores and bytes', () => {
    const t = buildTarget(ws({ resources: { cpu: '1500m', memory: '1Gi' } }), secrets);
    assert.equal(t.spec.cpu, 1.5);
    assert.equal(t.spec.memoryBytes, 1024 ** 3);
    assert.equal(buildTarget(ws({ resources: { cpu: 2 } }), secrets).spec.cpu, 2);
  });

  const failures: Array<{ why: string; spec: Record<string, unknown>; field: string; code: string; terminal: boolean }> = [
    { why: 'OUTRIGGER_ variables belong to the image contract', spec: { env: [{ name: 'OUTRIGGER_USER', value: 'x' }] }, field: 'spec.env[0].name', code: 'InvalidSpec', terminal: true },
    {
      why: 'PASSWORD is taken by the editor password',
      spec: { editor: { passwordSecretRef: { name: 'creds', key: 'pass' } }, env: [{ name: 'PASSWORD', value: 'x' }] },
      field: 'spec.env[0].name', code: 'InvalidSpec', terminal: true,
    },
    { why: 'Docker refuses less than 6Mi', spec: { resources: { memory: '1Mi' } }, field: 'spec.resources.memory', code: 'InvalidSpec', terminal: true },
    {
      why: 'authorized keys are managed through spec.ssh',
      spec: { files: [{ path: '/run/outrigger/authorized_keys/root', secretKeyRef: { name: 'creds', key: 'pem' } }] },
      field: 'spec.files[0].path', code: 'InvalidSpec', terminal: true,
    },
    { why: 'files may not go under /proc', spec: { files: [{ path: '/proc/x', secretKeyRef: { name: 'creds', key: 'pem' } }] }, field: 'spec.files[0].path', code: 'InvalidSpec', terminal: true },
    { why: 'a missing Secret may yet appear: retried', spec: { env: [{ name: 'A', secretKeyRef: { name: 'nope', key: 'k' } }] }, field: 'spec.env[0].secretKeyRef', code: 'SecretNotFound', terminal: false },
    { why: 'a missing key may yet appear: retried', spec: { files: [{ path: '/etc/x', secretKeyRef: { name: 'creds', key: 'nope' } }] }, field: 'spec.files[0].secretKeyRef', code: 'SecretKeyMissing', terminal: false },
  ];
  for (const f of failures) {
    it(`refuses: ${f.why}`, () => {
      assert.throws(() => buildTarget(ws(f.spec), secrets), (err: unknown) => {
        assert.ok(err instanceof OutriggerError);
        assert.equal(err.code, f.code);
        assert.equal(err.field, f.field);
        assert.equal(err instanceof TerminalError, f.terminal);
        assert.ok(!err.message.includes('editor-pass') && !err.message.includes('tok-value'), 'no secret in the message');
        return true;
      });
    });
  }

  it('gives the container the Host\'s ulimits, which enter the hash as values only; no Host ulimits, no change to the hash', () => {
    const host = (ulimits?: unknown) => ({ spec: hostSpecSchema.parse({ docker: { unix: { path: '/run/podman/podman.sock' }, ...(ulimits ? { ulimits } : {}) } }) });
    const limits = [{ name: 'nofile', soft: 20000, hard: 20000 }, { name: 'nproc', soft: 4096, hard: 4096 }];
    const limited = buildTarget(ws({}), secrets, host(limits));
    assert.deepEqual(limited.spec.ulimits, limits);
    const plain = buildTarget(ws({}), secrets);
    assert.equal(buildTarget(ws({}), secrets, host()).spec.ulimits, undefined);
    assert.equal(containerSpecHash(buildTarget(ws({}), secrets, host()).spec), containerSpecHash(plain.spec), 'a Host without ulimits changes nothing');
    assert.notEqual(containerSpecHash(limited.spec), containerSpecHash(plain.spec), 'new limits re-create the container');
    const otherHostSameLimits = { spec: hostSpecSchema.parse({ address: 'other.example.com', docker: { unix: { path: '/var/run/docker.sock' }, ulimits: [...limits].reverse() } }) };
    assert.equal(containerSpecHash(buildTarget(ws({}), secrets, otherHostSameLimits).spec), containerSpecHash(limited.spec), 'only the limits count, not the rest of the Host');
  });

  it('the ulimit names of the Host schema are the ones the Docker provider accepts', () => {
    assert.deepEqual([...HOST_ULIMIT_NAMES], [...ULIMIT_NAMES]);
  });

  it('leaves out the hostname when the name is not a DNS label', () => {
    const t = buildTarget({ ...ws({}), metadata: { namespace: 'a', name: 'alice.smith', uid: '0f8e2c1a-1111-2222-3333-444455556666' } }, secrets);
    assert.equal(t.spec.hostname, undefined);
  });

  it('lists no ports when none are asked for', () => {
    assert.deepEqual(publishedPorts(ws({}).spec), []);
  });
});
