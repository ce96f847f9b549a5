// The Lab's pure planning: the dependsOn graph (levels, waits, cycles), addresses from cidrs,
// step progress from what a machine reports, the access Secret's rendering, and the schema's
// zod-only rules (cycles, addresses, time zones) that the webhook enforces.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isTerminal } from '../../controller/index.ts';
import { dependencyCycle, labKind, labSpecSchema, validateSpec } from '../../crds/index.ts';
import { planAddresses } from '../../reconcilers/lab/addresses.ts';
import { accessUsers, renderAccessData, renderSshConfig } from '../../reconcilers/lab/access.ts';
import { dependentsOf, machineGraph, waitingFor } from '../../reconcilers/lab/graph.ts';
import { firstBootScript, parseProbe } from '../../reconcilers/lab/scripts.ts';
import { describeFailure, passwordsDigest, stepStatusOf, stepsProgress, type PlannedStep, type StepStatus } from '../../reconcilers/lab/steps.ts';

const docker = { hostRef: { name: 'local' }, image: 'debian:bookworm' };
const spec = (machines: Array<Record<string, unknown>>, networks?: Array<Record<string, unknown>>) =>
  labSpecSchema.parse({ machines: machines.map((m) => ({ docker, ...m })), ...(networks ? { networks } : {}) });

describe('Lab dependsOn graph', () => {
  const s = spec([{ name: 'db' }, { name: 'cache' }, { name: 'web', dependsOn: ['db', 'cache'] }, { name: 'lb', dependsOn: ['web'] }, { name: 'tools' }]);
  const g = machineGraph(s.machines);

  it('levels are the longest chain below a machine', () => {
    assert.deepEqual(Object.fromEntries(g.level), { db: 0, cache: 0, web: 1, lb: 2, tools: 0 });
  });

  it('a machine waits for exactly the dependencies that are not Ready', () => {
    assert.deepEqual(waitingFor(g, 'web', new Set(['db'])), ['cache']);
    assert.deepEqual(waitingFor(g, 'web', new Set(['db', 'cache'])), []);
    assert.deepEqual(waitingFor(g, 'tools', new Set()), [], 'independent machines never wait');
  });

  it('dependents are found through chains (what a rollback of db takes with it)', () => {
    assert.deepEqual(dependentsOf(g, 'db'), ['web', 'lb']);
    assert.deepEqual(dependentsOf(g, 'tools'), []);
  });

  it('a cycle is named from a machine back to itself', () => {
    assert.deepEqual(dependencyCycle([{ name: 'a', dependsOn: ['b'] }, { name: 'b', dependsOn: ['c'] }, { name: 'c', dependsOn: ['a'] }]), ['a', 'b', 'c', 'a']);
    assert.equal(dependencyCycle([{ name: 'a' }, { name: 'b', dependsOn: ['a'] }]), undefined);
  });

  it('the reconciler refuses a cycle with a terminal error naming it (the embedded API runs no webhook)', () => {
    const raw = [{ name: 'a', dependsOn: ['b'], docker }, { name: 'b', dependsOn: ['a'], docker }] as never;
    assert.throws(() => machineGraph(raw), (err: Error) => isTerminal(err) && /cycle \(a -> b -> a\)/.test(err.message));
  });
});

describe('Lab schema rules beyond CEL (enforced by zod: webhook and reconciler)', () => {
  const errors = (s: unknown) => {
    const v = validateSpec(labKind, s);
    return v.ok ? [] : v.errors.map((e) => `${e.path}: ${e.message}`);
  };
  const base = { machines: [{ name: 'a', docker }, { name: 'b', docker, dependsOn: ['a'] }] };

  it('rejects a dependency cycle at spec.machines, naming it', () => {
    const e = errors({ machines: [{ name: 'a', docker, dependsOn: ['c'] }, { name: 'b', docker, dependsOn: ['a'] }, { name: 'c', docker, dependsOn: ['b'] }] });
    assert.deepEqual(e, ['spec.machines: dependsOn forms a cycle (a -> c -> b -> a): a machine cannot wait for itself; remove one of these dependencies']);
  });

  it('rejects a dependency on an unknown machine (the CEL rule, mirrored)', () => {
    assert.match(errors({ machines: [{ name: 'a', docker, dependsOn: ['nope'] }] }).join(), /dependsOn must name other machines of this Lab/);
  });

  it('accepts an acyclic graph', () => {
    assert.deepEqual(errors(base), []);
  });

  const withNet = (address: string, cidr: string | null = '10.1.0.0/24') => ({
    networks: [{ name: 'lan', ...(cidr ? { cidr } : {}) }],
    machines: [{ name: 'a', docker, networks: [{ name: 'lan', address }] }, { name: 'b', docker, networks: [{ name: 'lan', address: '10.1.0.20/24' }] }],
  });
  const cases: Array<[string, unknown, RegExp | undefined]> = [
    ['inside the cidr', withNet('10.1.0.10/24'), undefined],
    ['outside the cidr', withNet('10.2.0.10/24'), /10\.2\.0\.10 is outside network "lan" \(10\.1\.0\.0\/24\)/],
    ['another prefix length', withNet('10.1.0.10/16'), /prefix length \/16 differs/],
    ['the gateway address', withNet('10.1.0.1/24'), /gateway holds/],
    ['the broadcast address', withNet('10.1.0.255/24'), /broadcast/],
    ['twice on one network', withNet('10.1.0.20/24'), /already the address of machine "a"/],
    ['on a network without cidr', withNet('10.1.0.10/24', null), /has no cidr/],
  ];
  for (const [what, value, expected] of cases) {
    it(`a static address ${what}: ${expected ? 'rejected' : 'accepted'}`, () => {
      const e = errors(value);
      if (expected) assert.match(e.join('\n'), expected);
      else assert.deepEqual(e, []);
      if (expected) assert.match(e.join('\n'), /^spec\.machines\[[01]\]\.networks\[0\]\.address: /);
    });
  }

  it('rejects a time zone the runtime does not know, at spec.schedule.timeZone', () => {
    assert.deepEqual(errors({ ...base, schedule: { dailyStop: '19:00', timeZone: 'Mars/Olympus_Mons' } }), ['spec.schedule.timeZone: "Mars/Olympus_Mons" is not an IANA time zone: use one such as Europe/Berlin or UTC']);
  });
});

describe('Lab addresses', () => {
  it('keeps static addresses and hands out the next free ones in machine order, skipping the gateway and taken ones', () => {
    const s = spec(
      [
        { name: 'a', networks: [{ name: 'lan' }] },
        { name: 'b', networks: [{ name: 'lan', address: '10.9.0.3/24' }, { name: 'ext' }] },
        { name: 'c', networks: [{ name: 'lan' }] },
        { name: 'd', networks: [{ name: 'lan' }] },
      ],
      [{ name: 'lan', cidr: '10.9.0.0/24' }, { name: 'ext', isolated: false }],
    );
    const plan = planAddresses(s);
    assert.deepEqual(plan.get('a'), [{ network: 'lan', address: '10.9.0.2', prefix: 24 }]);
    assert.deepEqual(plan.get('b'), [{ network: 'lan', address: '10.9.0.3', prefix: 24 }, { network: 'ext' }]);
    assert.deepEqual(plan.get('c'), [{ network: 'lan', address: '10.9.0.4', prefix: 24 }], 'the static .3 is skipped');
    assert.deepEqual(plan.get('d'), [{ network: 'lan', address: '10.9.0.5', prefix: 24 }]);
  });

  it('says when a cidr is too small for its machines', () => {
    const s = spec([{ name: 'a', networks: [{ name: 'tiny' }] }, { name: 'b', networks: [{ name: 'tiny' }] }, { name: 'c', networks: [{ name: 'tiny' }] }], [{ name: 'tiny', cidr: '10.9.0.0/30' }]);
    assert.throws(() => planAddresses(s), /network "tiny" \(10\.9\.0\.0\/30\) has no free address left for machine "b"/);
  });
});

describe('Lab steps', () => {
  const planned: PlannedStep[] = [
    { name: 'first-boot', script: '', user: 'root', timeoutSeconds: 900 },
    { name: 'seed', script: '', user: 'outrigger', timeoutSeconds: 30 },
    { name: 'serve', script: '', user: 'outrigger', timeoutSeconds: 30 },
  ];
  const known = (entries: StepStatus[]) => new Map(entries.map((s) => [s.name, s]));

  it('reads the probe: exits, running, lost steps, the host key and the password digest', () => {
    const p = parseProbe('first-boot|exit:0|100|101\nseed|running|102|\nserve|lost|103|\nodd|exit:124|1|2\n#hostkey|ssh-ed25519 AAAAkey root@db\n#passwords|abc\n');
    assert.deepEqual(p.steps.get('first-boot'), { name: 'first-boot', state: 'exited', exitCode: 0, startSeconds: 100, endSeconds: 101 });
    assert.equal(p.steps.get('seed')?.state, 'running');
    assert.equal(p.steps.get('serve')?.state, 'lost');
    assert.equal(p.hostKey, 'ssh-ed25519 AAAAkey');
    assert.equal(p.passwordsDigest, 'abc');
  });

  it('maps probed states to status: a lost step failed and is never run again; a fresh "starting" runs', () => {
    assert.equal(stepStatusOf('x', undefined, 0).state, 'Pending');
    assert.equal(stepStatusOf('x', { name: 'x', state: 'exited', exitCode: 3 }, 0).state, 'Failed');
    assert.equal(stepStatusOf('x', { name: 'x', state: 'starting', startSeconds: 100 }, 110).state, 'Running');
    assert.equal(stepStatusOf('x', { name: 'x', state: 'starting', startSeconds: 100 }, 200).state, 'Failed');
    assert.match(stepStatusOf('x', { name: 'x', state: 'lost' }, 0).output ?? '', /not run again/);
  });

  it('runs steps strictly in order, each after the one before succeeded', () => {
    assert.equal(stepsProgress(planned, known([])).next?.name, 'first-boot');
    assert.equal(stepsProgress(planned, known([{ name: 'first-boot', state: 'Succeeded' }])).next?.name, 'seed');
    const running = stepsProgress(planned, known([{ name: 'first-boot', state: 'Succeeded' }, { name: 'seed', state: 'Running' }]));
    assert.equal(running.running, 'seed');
    assert.equal(running.next, undefined, 'nothing launches while a step runs');
    const failed = stepsProgress(planned, known([{ name: 'first-boot', state: 'Succeeded' }, { name: 'seed', state: 'Failed', exitCode: 2 }]));
    assert.equal(failed.failed?.name, 'seed');
    assert.equal(failed.next, undefined, 'nothing after a failed step');
    assert.equal(stepsProgress(planned, known(planned.map((p) => ({ name: p.name, state: 'Succeeded' as const })))).done, true);
  });

  it('describes a failure with its exit code or timeout and the last lines', () => {
    assert.equal(describeFailure({ name: 'seed', state: 'Failed', exitCode: 2, output: 'a\nb\nno such table' }, 30), 'step seed exited with code 2; last lines: a | b | no such table');
    assert.equal(describeFailure({ name: 'seed', state: 'Failed', exitCode: 124 }, 30), 'step seed ran out of time (30 s) and was stopped');
  });

  it('the password digest does not depend on order and changes with any password', () => {
    const a = passwordsDigest([{ user: 'x', password: 'p1' }, { user: 'y', password: 'p2' }]);
    assert.equal(a, passwordsDigest([{ user: 'y', password: 'p2' }, { user: 'x', password: 'p1' }]));
    assert.notEqual(a, passwordsDigest([{ user: 'x', password: 'p1' }, { user: 'y', password: 'p3' }]));
    assert.ok(!a.includes('p1'));
  });

  it('first boot carries commands only base64-encoded: no user text reaches the shell as code of ours', () => {
    const machine = labSpecSchema.parse({ machines: [{ name: 'a', docker, cloudInit: { commands: ["echo 'quoted' && $(rm -rf /tmp/x)"], packages: ['nginx=1.22'] } }] }).machines[0]!;
    const script = firstBootScript(machine, { user: 'outrigger', publicKey: 'ssh-ed25519 AAAA' });
    assert.ok(!script.includes("echo 'quoted'"));
    assert.match(script, /^run_command 1 ZWNobyAncXVvdGVkJyAmJiAkKHJtIC1yZiAvdG1wL3gp$/m);
    assert.match(script, /^install_packages nginx=1\.22$/m);
    assert.match(script, /^ensure_user outrigger$/m);
    assert.match(script, /^grant_sudo outrigger$/m);
  });
});

describe('Lab access Secret', () => {
  const machine = labSpecSchema.parse({ machines: [{ name: 'db', docker, cloudInit: { users: [{ name: 'student', sshAuthorizedKeys: ['ssh-ed25519 AAAAC3Nza student@x'] }, { name: 'guest' }] } }] }).machines[0]!;

  it('a user who brings a key logs in with it; one who does not gets a generated password', () => {
    assert.deepEqual(accessUsers(machine), [{ name: 'student', auth: 'key' }, { name: 'guest', auth: 'password' }]);
  });

  it('renders the summary, ssh_config with the jump host and pinned host keys, and the passwords under their own keys', () => {
    const data = renderAccessData('range', [{ name: 'db', address: '10.1.0.10', addresses: ['10.1.0.10'], users: accessUsers(machine), hostKey: 'ssh-ed25519 AAAAhost', jumpHost: 'ops@edge.example.com:22' }], new Map([['password.db.guest', 'pw-123456']]));
    assert.deepEqual(Object.keys(data).sort(), ['access.yaml', 'known_hosts', 'password.db.guest', 'ssh_config']);
    assert.equal(data['password.db.guest'], 'pw-123456');
    assert.ok(!data['access.yaml']!.includes('pw-123456'), 'the summary names the key, not the password');
    assert.equal(data.known_hosts, '10.1.0.10 ssh-ed25519 AAAAhost\n');
    assert.match(data.ssh_config!, /Host range-db-guest\n {2}HostName 10\.1\.0\.10\n {2}User guest\n {2}ProxyJump ops@edge\.example\.com:22\n {2}UserKnownHostsFile ~\/\.ssh\/outrigger-range\.known_hosts\n {2}StrictHostKeyChecking yes\n {2}PreferredAuthentications password,keyboard-interactive/);
  });

  it('a machine without an address has no ssh_config entry', () => {
    assert.equal(renderSshConfig('range', [{ name: 'x', addresses: [], users: [{ name: 'u', auth: 'key' }] }]).includes('Host range-x'), false);
  });
});
