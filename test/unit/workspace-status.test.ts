// Workspace status as a function of what a reconcile found: the phase, reachable endpoints with
// URLs, and the kind's conditions (resting states of Ready, Idle, Bootstrapped, HomeSizeApplied).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { phaseOf, statusEndpoints, statusFields, workspaceConditions, type WorkspaceFacts } from '../../reconcilers/workspace/status.ts';

function facts(over: Partial<WorkspaceFacts> = {}): WorkspaceFacts {
  return {
    exists: true,
    containerId: 'c1',
    containerName: 'outrigger-a-alice-0f8e2c1a',
    volumeName: 'outrigger-a-alice-0f8e2c1a-home',
    specHash: 'h1',
    running: true,
    desiredRunning: true,
    endpoints: [],
    bootstrapConfigured: false,
    stoppedBySpec: false,
    ...over,
  };
}

describe('phase', () => {
  const cases: Array<[string, Partial<WorkspaceFacts>, string]> = [
    ['no container yet', { exists: false, running: false }, 'Creating'],
    ['running as wanted', {}, 'Running'],
    ['stopped as wanted', { running: false, desiredRunning: false }, 'Stopped'],
    ['wanted running, not yet', { running: false }, 'Starting'],
    ['wanted stopped, still running', { desiredRunning: false }, 'Stopping'],
    ['a failed bootstrap of a running workspace', { bootstrapConfigured: true, bootstrap: { state: 'Failed' } }, 'Failed'],
    ['a failed bootstrap does not matter once stopped', { running: false, desiredRunning: false, bootstrap: { state: 'Failed' } }, 'Stopped'],
  ];
  for (const [why, over, phase] of cases) it(`${why}: ${phase}`, () => assert.equal(phaseOf(facts(over)), phase));
});

describe('endpoints', () => {
  const ports = [
    { name: 'ssh', containerPort: 22, protocol: 'tcp' as const, hostIp: '0.0.0.0', hostPort: 32768 },
    { name: 'editor', containerPort: 8080, protocol: 'tcp' as const, hostIp: '0.0.0.0', hostPort: 32769 },
    { name: 'dns', containerPort: 53, protocol: 'udp' as const, hostIp: '0.0.0.0', hostPort: 5353 },
  ];

  it('publishAddress wins; ssh and editor get URLs', () => {
    assert.deepEqual(statusEndpoints(ports, { publishAddress: '127.0.0.1', hostAddress: 'box.example.org', localEngine: false, user: 'alice' }), [
      { name: 'ssh', protocol: 'TCP', host: '127.0.0.1', port: 32768, url: 'ssh://alice@127.0.0.1:32768' },
      { name: 'editor', protocol: 'TCP', host: '127.0.0.1', port: 32769, url: 'http://127.0.0.1:32769/' },
      { name: 'dns', protocol: 'UDP', host: '127.0.0.1', port: 5353 },
    ]);
  });

  it('published on all addresses: the Host address, else loopback for a local engine, else no host', () => {
    assert.equal(statusEndpoints(ports, { hostAddress: 'box.example.org', localEngine: false, user: 'a' })[0]!.host, 'box.example.org');
    assert.equal(statusEndpoints(ports, { localEngine: true, user: 'a' })[0]!.host, '127.0.0.1');
    assert.deepEqual(statusEndpoints(ports, { localEngine: false, user: 'a' })[0], { name: 'ssh', protocol: 'TCP', port: 32768 });
  });

  it('IPv6 hosts are bracketed in URLs', () => {
    assert.equal(statusEndpoints(ports, { publishAddress: 'fd00::1', localEngine: false, user: 'a' })[1]!.url, 'http://[fd00::1]:32769/');
  });
});

describe('conditions', () => {
  const types = (list: ReturnType<typeof workspaceConditions>) => Object.fromEntries(list.map((c) => [c.type, `${c.status}/${c.reason}`]));

  it('Ready says which resting state the workspace is in', () => {
    assert.equal(types(workspaceConditions(facts(), true, 'alice', [])).Ready, 'True/Running');
    assert.equal(types(workspaceConditions(facts({ running: false, desiredRunning: false, stoppedBySpec: true }), true, 'alice', [])).Ready, 'True/Stopped');
    const idle = workspaceConditions(facts({ running: false, desiredRunning: false, idleStoppedAt: '2030-01-01T10:00:00Z', idleTimeout: '2h' }), true, 'alice', []);
    assert.equal(types(idle).Ready, 'True/IdleStopped');
    assert.equal(types(idle).Idle, 'True/IdleTimeout');
    assert.match(idle.find((c) => c.type === 'Idle')!.message, /outrigger\.dev\/wake=/);
    assert.equal(types(workspaceConditions(facts(), false, 'alice', [])).Ready, undefined, 'not ready: the managed reconciler says why');
  });

  it('Idle is False while the timeout applies, and turned off (not left stale) when it no longer does', () => {
    assert.equal(types(workspaceConditions(facts({ idleTimeout: '2h' }), true, 'a', [])).Idle, 'False/Active');
    assert.equal(types(workspaceConditions(facts(), true, 'a', [])).Idle, undefined);
    assert.equal(types(workspaceConditions(facts(), true, 'a', ['Idle'])).Idle, 'False/NoIdleTimeout');
  });

  it('a failed bootstrap stalls the workspace until the spec changes', () => {
    const c = types(workspaceConditions(facts({ bootstrapConfigured: true, bootstrap: { state: 'Failed', message: 'exit 3' } }), false, 'a', []));
    assert.equal(c.Bootstrapped, 'False/BootstrapFailed');
    assert.equal(c.Stalled, 'True/BootstrapFailed');
    assert.equal(c.Reconciling, 'False/BootstrapFailed');
    assert.equal(types(workspaceConditions(facts({ bootstrapConfigured: true }), true, 'a', [])).Bootstrapped, 'Unknown/Pending');
  });

  it('home.size says it is not applied on Docker', () => {
    const c = workspaceConditions(facts({ homeSize: '10Gi' }), true, 'a', []).find((x) => x.type === 'HomeSizeApplied')!;
    assert.equal(c.status, 'False');
    assert.equal(c.reason, 'NotSupported');
    assert.match(c.message, /10Gi/);
  });
});

describe('statusFields', () => {
  it('endpoints only while running; the docker block and spec hash always', () => {
    assert.deepEqual(statusFields(facts({ running: false, desiredRunning: false })), {
      phase: 'Stopped',
      docker: { containerId: 'c1', containerName: 'outrigger-a-alice-0f8e2c1a', volumeName: 'outrigger-a-alice-0f8e2c1a-home' },
      specHash: 'h1',
    });
    assert.deepEqual(statusFields(facts()).endpoints, []);
  });

  it('is the same for the same facts (no status write when nothing changed)', () => {
    assert.deepEqual(statusFields(facts({ lastActivity: '2030-01-01T10:00:00Z' })), statusFields(facts({ lastActivity: '2030-01-01T10:00:00Z' })));
  });
});
