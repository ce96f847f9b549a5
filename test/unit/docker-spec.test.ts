// The pure side of the Docker provider's container spec: the hash re-creates a container exactly
// when something that shapes it changed, validation names the field, the create request carries
// the labels, limits, home and ports, and the drift check spots hand edits.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type Dockerode from 'dockerode';
import { TerminalError } from '../../controller/errors.ts';
import { canonicalJson, specHash } from '../../reconcilers/docker/spec-hash.ts';
import {
  containerDrift,
  containerName,
  containerSpecHash,
  homeVolumeName,
  imageReferenceKey,
  renderCreateOptions,
  validateContainerSpec,
  type ContainerSpec,
} from '../../reconcilers/docker/container-spec.ts';
import { Labels } from '../../reconcilers/docker/labels.ts';

const owner = { kind: 'Workspace', namespace: 'class-a', name: 'alice', uid: '0f8e2c1a-1111-2222-3333-444455556666' };

function baseSpec(): ContainerSpec {
  return {
    owner,
    image: 'outrigger-test/workspace:abc',
    pullPolicy: 'Never',
    env: { OUTRIGGER_USER: 'alice', EDITOR: 'vim' },
    secretEnv: { API_TOKEN: { value: 's3cr3t-value', version: '17' } },
    cpu: 1.5,
    memoryBytes: 512 * 1024 * 1024,
    home: { volume: homeVolumeName(owner), mountPath: '/home/alice' },
    ports: [
      { name: 'ssh', containerPort: 22, protocol: 'tcp' },
      { name: 'web', containerPort: 8080, protocol: 'tcp', hostPort: 18080 },
    ],
    publishAddress: '127.0.0.1',
  };
}

describe('specHash', () => {
  it('is the same whatever the key order, at every depth', () => {
    assert.equal(specHash({ a: 1, b: { c: [1, 2], d: 'x' } }), specHash({ b: { d: 'x', c: [1, 2] }, a: 1 }));
  });
  it('treats an undefined field like a missing one, but keeps array order', () => {
    assert.equal(specHash({ a: 1, b: undefined }), specHash({ a: 1 }));
    assert.notEqual(specHash({ a: [1, 2] }), specHash({ a: [2, 1] }));
  });
  it('refuses values JSON cannot carry faithfully', () => {
    assert.throws(() => canonicalJson({ a: Number.NaN }), TypeError);
    assert.throws(() => canonicalJson({ a: () => 1 }), TypeError);
  });
  it('is 16 hex digits, fit for a label', () => {
    assert.match(specHash({ anything: true }), /^[0-9a-f]{16}$/);
  });
});

describe('containerSpecHash', () => {
  const base = containerSpecHash(baseSpec());
  const cases: Array<{ reason: string; change: (s: ContainerSpec) => void; recreates: boolean }> = [
    { reason: 'a new image must replace the container', change: (s) => (s.image = 'outrigger-test/workspace:def'), recreates: true },
    { reason: 'env is fixed at creation', change: (s) => (s.env = { ...s.env, EDITOR: 'nano' }), recreates: true },
    { reason: 'a rotated secret (new version) must reach the container', change: (s) => (s.secretEnv!.API_TOKEN!.version = '18'), recreates: true },
    { reason: 'the hash never depends on a secret value itself', change: (s) => (s.secretEnv!.API_TOKEN!.value = 'other'), recreates: false },
    { reason: 'cpu limit', change: (s) => (s.cpu = 2), recreates: true },
    { reason: 'memory limit', change: (s) => (s.memoryBytes = 1024 * 1024 * 1024), recreates: true },
    { reason: 'a published port', change: (s) => s.ports!.push({ name: 'x', containerPort: 9000, protocol: 'udp' }), recreates: true },
    { reason: 'port order is not meaningful', change: (s) => s.ports!.reverse(), recreates: false },
    { reason: 'env order is not meaningful', change: (s) => (s.env = { EDITOR: 'vim', OUTRIGGER_USER: 'alice' }), recreates: false },
    { reason: 'the pull policy does not change the container', change: (s) => (s.pullPolicy = 'Always'), recreates: false },
    { reason: 'extra labels cannot be changed in place', change: (s) => (s.labels = { team: 'a' }), recreates: true },
    { reason: 'resource limits are fixed at creation', change: (s) => (s.ulimits = [{ name: 'nofile', soft: 1024, hard: 4096 }]), recreates: true },
    { reason: 'an empty ulimits list is the same as none (containers made before the field keep their hash)', change: (s) => (s.ulimits = []), recreates: false },
  ];
  it('keeps: ulimit order is not meaningful; changes: a new soft limit', () => {
    const limits = (): ContainerSpec => ({ ...baseSpec(), ulimits: [{ name: 'nofile', soft: 20000, hard: 20000 }, { name: 'nproc', soft: 4096, hard: 4096 }] });
    const reversed = limits();
    reversed.ulimits!.reverse();
    assert.equal(containerSpecHash(reversed), containerSpecHash(limits()));
    const raised = limits();
    raised.ulimits![1]!.soft = 2048;
    assert.notEqual(containerSpecHash(raised), containerSpecHash(limits()));
  });
  for (const c of cases) {
    it(`${c.recreates ? 'changes' : 'keeps'}: ${c.reason}`, () => {
      const spec = baseSpec();
      c.change(spec);
      assert.equal(containerSpecHash(spec) !== base, c.recreates);
    });
  }
});

describe('validateContainerSpec', () => {
  it('accepts a complete spec', () => {
    validateContainerSpec(baseSpec());
  });
  const bad: Array<{ reason: string; change: (s: ContainerSpec) => void; field: string }> = [
    { reason: 'memory under Docker\'s minimum', change: (s) => (s.memoryBytes = 1024), field: 'memoryBytes' },
    { reason: 'zero cpu', change: (s) => (s.cpu = 0), field: 'cpu' },
    { reason: 'env name with a space', change: (s) => (s.env = { 'BAD NAME': 'x' }), field: 'env.BAD NAME' },
    { reason: 'secret env without version', change: (s) => (s.secretEnv = { T: { value: 'x', version: '' } }), field: 'secretEnv.T.version' },
    { reason: 'the same name as literal and secret', change: (s) => (s.secretEnv = { EDITOR: { value: 'x', version: '1' } }), field: 'secretEnv.EDITOR' },
    { reason: 'home at the root', change: (s) => (s.home.mountPath = '/'), field: 'home.mountPath' },
    { reason: 'home with ..', change: (s) => (s.home.mountPath = '/home/../etc'), field: 'home.mountPath' },
    { reason: 'home over the runtime tmpfs', change: (s) => (s.home.mountPath = '/run'), field: 'home.mountPath' },
    { reason: 'volume name with a slash', change: (s) => (s.home.volume = 'a/b'), field: 'home.volume' },
    { reason: 'port out of range', change: (s) => (s.ports![0]!.containerPort = 70000), field: 'ports[0].containerPort' },
    { reason: 'same port twice', change: (s) => s.ports!.push({ name: 'again', containerPort: 22, protocol: 'tcp' }), field: 'ports[2].containerPort' },
    { reason: 'bad publish address', change: (s) => (s.publishAddress = 'localhost; rm -rf'), field: 'publishAddress' },
    { reason: 'reserved label prefix', change: (s) => (s.labels = { 'dev.outrigger.owner.uid': 'x' }), field: 'labels.dev.outrigger.owner.uid' },
    { reason: 'image with whitespace', change: (s) => (s.image = 'busybox latest'), field: 'image' },
    { reason: 'an unknown ulimit', change: (s) => (s.ulimits = [{ name: 'files' as never, soft: 1, hard: 1 }]), field: 'ulimits[0].name' },
    { reason: 'the same ulimit twice', change: (s) => (s.ulimits = [{ name: 'nofile', soft: 1, hard: 1 }, { name: 'nofile', soft: 2, hard: 2 }]), field: 'ulimits[1].name' },
    { reason: 'a soft limit above the hard one', change: (s) => (s.ulimits = [{ name: 'nproc', soft: 4097, hard: 4096 }]), field: 'ulimits[0].soft' },
    { reason: 'an unlimited soft limit under a finite hard one', change: (s) => (s.ulimits = [{ name: 'nproc', soft: -1, hard: 4096 }]), field: 'ulimits[0].soft' },
    { reason: 'a fractional hard limit', change: (s) => (s.ulimits = [{ name: 'nproc', soft: 1, hard: 1.5 }]), field: 'ulimits[0].hard' },
  ];
  for (const c of bad) {
    it(`rejects ${c.reason}, naming ${c.field}`, () => {
      const spec = baseSpec();
      c.change(spec);
      assert.throws(
        () => validateContainerSpec(spec),
        (err: unknown) => err instanceof TerminalError && err.code === 'InvalidSpec' && err.field === c.field && err.message.startsWith(c.field),
      );
    });
  }
  it('never echoes a secret value in its message', () => {
    const spec = baseSpec();
    spec.secretEnv = { TOKEN: { value: 'hunter2\0', version: '1' } };
    assert.throws(() => validateContainerSpec(spec), (err: Error) => !err.message.includes('hunter2'));
  });
});

describe('renderCreateOptions', () => {
  const opts = renderCreateOptions(baseSpec(), 'inst-1');
  it('names the container after its owner, with a uid prefix against collisions', () => {
    assert.equal(opts.name, 'outrigger-class-a-alice-0f8e2c1a');
    assert.equal(opts.name, containerName(owner));
  });
  it('labels it with owner, instance, role and spec hash', () => {
    assert.deepEqual(
      {
        uid: opts.Labels![Labels.ownerUid],
        name: opts.Labels![Labels.ownerName],
        ns: opts.Labels![Labels.ownerNamespace],
        by: opts.Labels![Labels.managedBy],
        role: opts.Labels![Labels.role],
        hash: opts.Labels![Labels.specHash],
      },
      { uid: owner.uid, name: 'alice', ns: 'class-a', by: 'inst-1', role: 'workspace', hash: containerSpecHash(baseSpec()) },
    );
  });
  it('sets the limits, the home volume, the tmpfs and no restart policy', () => {
    assert.equal(opts.HostConfig!.NanoCpus, 1_500_000_000);
    assert.equal(opts.HostConfig!.Memory, 512 * 1024 * 1024);
    assert.deepEqual(opts.HostConfig!.Mounts, [{ Type: 'volume', Source: 'outrigger-class-a-alice-0f8e2c1a-home', Target: '/home/alice' }]);
    assert.match(opts.HostConfig!.Tmpfs!['/run/outrigger']!, /^rw,nosuid,nodev,noexec,size=\d+,mode=0755$/);
    assert.deepEqual(opts.HostConfig!.RestartPolicy, { Name: 'no' });
  });
  it('publishes each port on the publish address, fixed or engine-chosen', () => {
    assert.deepEqual(opts.HostConfig!.PortBindings, {
      '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }],
    });
    assert.deepEqual(Object.keys(opts.ExposedPorts!).sort(), ['22/tcp', '8080/tcp']);
  });
  it('passes literal and secret env (the request itself is never logged)', () => {
    assert.deepEqual(opts.Env, ['API_TOKEN=s3cr3t-value', 'EDITOR=vim', 'OUTRIGGER_USER=alice']);
  });
  it('sets the ulimits in Docker\'s spelling, and none (the engine\'s defaults) when the spec has none', () => {
    const limited = renderCreateOptions({ ...baseSpec(), ulimits: [{ name: 'nproc', soft: 4096, hard: 4096 }, { name: 'nofile', soft: 1024, hard: -1 }] }, 'inst-1');
    assert.deepEqual(limited.HostConfig!.Ulimits, [{ Name: 'nofile', Soft: 1024, Hard: -1 }, { Name: 'nproc', Soft: 4096, Hard: 4096 }]);
    assert.equal(opts.HostConfig!.Ulimits, undefined);
  });
});

describe('imageReferenceKey', () => {
  const same: Array<[string, string, string]> = [
    ['outrigger-test/workspace:abc', 'localhost/outrigger-test/workspace:abc', 'Podman names a local image localhost/...'],
    ['debian:12', 'docker.io/library/debian:12', 'Podman spells out the default registry and library/'],
    ['debian', 'debian:latest', 'no tag means latest'],
    ['team/ws:1', 'docker.io/team/ws:1', 'the default registry'],
    ['registry.example.com:5000/team/ws:1', 'registry.example.com:5000/team/ws:1', 'a registry with a port stays as it is'],
  ];
  for (const [a, b, why] of same) it(`${a} is ${b}: ${why}`, () => assert.equal(imageReferenceKey(a), imageReferenceKey(b)));
  const different: Array<[string, string, string]> = [
    ['team/ws:1', 'team/ws:2', 'another tag'],
    ['registry.example.com/team/ws:1', 'team/ws:1', 'another registry'],
    ['library/debian:12', 'other/debian:12', 'another repository'],
    ['ws@sha256:aaaa', 'ws@sha256:bbbb', 'another digest'],
  ];
  for (const [a, b, why] of different) it(`${a} is not ${b}: ${why}`, () => assert.notEqual(imageReferenceKey(a), imageReferenceKey(b)));
});

describe('containerDrift', () => {
  function inspected(overrides: { memory?: number; image?: string; env?: string[]; volume?: string } = {}): Dockerode.ContainerInspectInfo {
    const want = renderCreateOptions(baseSpec(), 'inst-1');
    return {
      Config: { Image: overrides.image ?? want.Image, Labels: want.Labels, Env: overrides.env ?? ['PATH=/usr/bin', ...want.Env!] },
      HostConfig: { NanoCpus: want.HostConfig!.NanoCpus, Memory: overrides.memory ?? want.HostConfig!.Memory, PidsLimit: null },
      Mounts: [{ Type: 'volume', Name: overrides.volume ?? baseSpec().home.volume, Destination: '/home/alice' }],
    } as unknown as Dockerode.ContainerInspectInfo;
  }
  it('finds nothing in a container made from the spec (image env like PATH is fine)', () => {
    assert.deepEqual(containerDrift(inspected(), baseSpec(), 'inst-1'), []);
  });
  it('spots a memory limit changed with docker update', () => {
    assert.deepEqual(containerDrift(inspected({ memory: 1 << 30 }), baseSpec(), 'inst-1'), [`memory limit ${1 << 30} instead of ${512 * 1024 * 1024}`]);
  });
  it('spots a missing env variable by name only', () => {
    const drift = containerDrift(inspected({ env: ['EDITOR=vim', 'OUTRIGGER_USER=alice'] }), baseSpec(), 'inst-1');
    assert.deepEqual(drift, ['environment differs (API_TOKEN)']);
  });
  it('takes an engine\'s default pids limit (Podman\'s 2048) for none, and compares a limit the spec sets', () => {
    const podmanDefault = inspected();
    podmanDefault.HostConfig.PidsLimit = 2048;
    assert.deepEqual(containerDrift(podmanDefault, baseSpec(), 'inst-1'), []);
    const limited = { ...baseSpec(), pidsLimit: 256 };
    assert.deepEqual(containerDrift(podmanDefault, limited, 'inst-1').filter((d) => d.startsWith('pids')), ['pids limit 2048 instead of 256']);
  });
  it('takes Podman\'s full image name for the name asked for, and still spots another image', () => {
    assert.deepEqual(containerDrift(inspected({ image: 'localhost/outrigger-test/workspace:abc' }), baseSpec(), 'inst-1'), []);
    assert.deepEqual(containerDrift(inspected({ image: 'localhost/outrigger-test/workspace:old' }), baseSpec(), 'inst-1'), [
      'image localhost/outrigger-test/workspace:old instead of outrigger-test/workspace:abc',
    ]);
  });
  it('spots a different home volume', () => {
    assert.equal(containerDrift(inspected({ volume: 'other' }), baseSpec(), 'inst-1').length, 1);
  });
});
