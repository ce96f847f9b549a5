// The ProxyRoute reconciler's pure parts and its per-host gate: status from outcomes, reference
// mapping and resolution, and how host-level failures are retried (fake clock, fake apply; the real
// thing runs in test/integration/proxyroute*.test.ts and host.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../controller/clock.ts';
import { OutriggerError, TerminalError } from '../../controller/errors.ts';
import { silentLogger } from '../../controller/logger.ts';
import type { Informer, ObjectKey } from '../../controller/index.ts';
import type { Host, ProxyRoute, ProxyRouteSpec, Workspace } from '../../crds/index.ts';
import { SecretReader, type SecretObject } from '../../reconcilers/common/secrets.ts';
import type { ApplyReport, RouteIntent } from '../../reconcilers/nginx/apply.ts';
import type { RouteApplyResult } from '../../reconcilers/nginx/index.ts';
import type { SshConnection } from '../../reconcilers/ssh/index.ts';
import { HostNginx, requestOfRouteKey } from '../../reconcilers/proxyroute/host-nginx.ts';
import { hostOfRoute, routesUsing, secretsOfRoute, workspacesOfRoute } from '../../reconcilers/proxyroute/references.ts';
import { resolveReferences } from '../../reconcilers/proxyroute/resolve.ts';
import { routeStatus, type RouteOutcome } from '../../reconcilers/proxyroute/status.ts';

const now = new Date('2030-01-01T12:00:00Z');
const hash = (c: string) => `sha256:${c.repeat(64)}`;

function result(over: Partial<RouteApplyResult>): RouteApplyResult {
  return { key: 'ns_r', state: 'Applied', warnings: [], generation: 'g1', at: now, ...over };
}

const cert = { notBefore: new Date('2029-12-01T00:00:00Z'), notAfter: new Date('2030-03-01T00:00:00.500Z'), dnsNames: ['a.test'], serialNumber: '0A', fingerprint256: 'AB' };

describe('ProxyRoute status from the reconcile outcome', () => {
  const cases: Array<{ why: string; previous?: Record<string, unknown>; outcome: RouteOutcome; ready: string; reason: string; stalled: string; check?: (s: Record<string, any>) => void }> = [
    {
      why: 'the desired version is live: Ready, with hash, reload time, certificate and upstreams',
      outcome: { kind: 'settled', desiredHash: hash('a'), result: result({ liveHash: hash('a'), desiredHash: hash('a'), liveSince: new Date('2030-01-01T11:59:58.250Z') }), certificate: cert, upstreams: [{ path: '/', address: '10.0.0.1', port: 80 }], tls: true },
      ready: 'True', reason: 'Available', stalled: 'False',
      check: (s) => {
        assert.equal(s.appliedConfigHash, hash('a'));
        assert.deepEqual(s.lastReload, { time: '2030-01-01T11:59:58Z', result: 'Succeeded' });
        assert.equal(s.certificate.notAfter, '2030-03-01T00:00:00Z');
        assert.deepEqual(s.upstreams, [{ path: '/', address: '10.0.0.1', port: 80 }]);
      },
    },
    {
      why: 'TLS removed from the spec: the certificate leaves the status',
      previous: { certificate: { notAfter: '2030-03-01T00:00:00Z' } },
      outcome: { kind: 'settled', desiredHash: hash('b'), result: result({ liveHash: hash('b') }), upstreams: [], tls: false },
      ready: 'True', reason: 'Available', stalled: 'False',
      check: (s) => assert.equal(s.certificate, undefined),
    },
    {
      why: 'quarantined with a live predecessor: nginx\'s message, the old hash kept, the reload marked Failed',
      previous: { appliedConfigHash: hash('a'), lastReload: { time: '2030-01-01T10:00:00Z', result: 'Succeeded' } },
      outcome: { kind: 'settled', desiredHash: hash('b'), result: result({ state: 'Quarantined', desiredHash: hash('b'), liveHash: hash('a'), message: '[emerg] unknown directive "x"' }), upstreams: [], tls: false },
      ready: 'False', reason: 'Quarantined', stalled: 'False',
      check: (s) => {
        assert.equal(s.appliedConfigHash, hash('a'));
        assert.deepEqual(s.lastReload, { time: '2030-01-01T10:00:00Z', result: 'Failed', message: '[emerg] unknown directive "x"' });
        assert.match(s.conditions.find((c: any) => c.type === 'Ready').message, /^nginx -t failed: \[emerg\] unknown directive "x"; nginx keeps serving/);
      },
    },
    {
      why: 'a server name held by another route: stalled until something changes',
      outcome: { kind: 'settled', desiredHash: hash('b'), result: result({ state: 'Conflict', message: 'server name a.test on port 80 is already served by ProxyRoute x/y' }), upstreams: [], tls: false },
      ready: 'False', reason: 'ServerNameConflict', stalled: 'True',
    },
    {
      why: 'waiting for the batched apply',
      outcome: { kind: 'applying' },
      ready: 'False', reason: 'Applying', stalled: 'False',
    },
    {
      why: 'a Workspace not Ready yet is a wait, not a failure',
      outcome: { kind: 'waiting', reason: 'WorkspaceNotReady', message: 'spec.routes[0].upstream.workspaceRef: Workspace "w" is not Ready' },
      ready: 'False', reason: 'WorkspaceNotReady', stalled: 'False',
    },
    {
      why: 'the host is unreachable: the error code, and the live hash kept',
      previous: { appliedConfigHash: hash('a') },
      outcome: { kind: 'hostFailure', code: 'Unreachable', message: 'cannot reach root@10.0.0.2:22: ECONNREFUSED', result: result({ state: 'Failed', liveHash: hash('a') }) },
      ready: 'False', reason: 'Unreachable', stalled: 'False',
      check: (s) => {
        assert.equal(s.appliedConfigHash, hash('a'));
        assert.match(s.conditions.find((c: any) => c.type === 'Ready').message, /keeps serving/);
        assert.equal(s.conditions.find((c: any) => c.type === 'Synced').status, 'False');
      },
    },
    {
      why: 'invalid input: stalled with the field in the message',
      outcome: { kind: 'failed', code: 'InvalidSpec', message: 'spec.routes[0].path: contains "{"', terminal: true },
      ready: 'False', reason: 'InvalidSpec', stalled: 'True',
    },
    {
      why: 'a missing Secret: retried, not stalled',
      outcome: { kind: 'failed', code: 'SecretNotFound', message: 'spec.tls.secretRef: Secret "t" not found', terminal: false },
      ready: 'False', reason: 'SecretNotFound', stalled: 'False',
    },
  ];
  for (const c of cases) {
    it(c.why, () => {
      const s = routeStatus(c.previous as never, c.outcome, { host: 'ns/edge', generation: 3, now }) as Record<string, any>;
      const cond = (t: string) => s.conditions.find((x: any) => x.type === t);
      assert.equal(cond('Ready').status, c.ready);
      assert.equal(cond('Ready').reason, c.reason);
      assert.equal(cond('Stalled').status, c.stalled);
      assert.equal(s.observedGeneration, 3);
      c.check?.(s);
    });
  }

  it('an unchanged outcome gives an identical status (no write), lastTransitionTime only moves on a flip', () => {
    const outcome: RouteOutcome = { kind: 'applying' };
    const first = routeStatus(undefined, outcome, { host: 'ns/edge', generation: 1, now });
    const again = routeStatus(first, outcome, { host: 'ns/edge', generation: 1, now: new Date(now.getTime() + 60_000) });
    assert.deepEqual(again, first);
  });
});

const route = (name: string, spec: Record<string, unknown>, namespace = 'ns'): ProxyRoute => ({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'ProxyRoute', metadata: { name, namespace }, spec: spec as ProxyRouteSpec });

describe('ProxyRoute references', () => {
  const r1 = route('r1', { hostRef: { name: 'edge' }, tls: { secretRef: { name: 'tls-a' } }, access: { basicAuth: { secretRef: { name: 'auth', key: 'auth' } } }, routes: [{ upstream: { workspaceRef: { name: 'w1', port: 'editor' } } }, { upstream: { workspaceRef: { name: 'w1', port: 'api' } } }] });
  const r2 = route('r2', { hostRef: { name: 'other' }, routes: [{ upstream: { address: '10.0.0.1', port: 80 } }] });
  const elsewhere = route('r1', { hostRef: { name: 'edge' }, tls: { secretRef: { name: 'tls-a' } }, routes: [] }, 'ns2');

  it('reads the Secrets, Host and Workspaces a route uses, also from a malformed spec', () => {
    assert.deepEqual(secretsOfRoute(r1), ['tls-a', 'auth']);
    assert.deepEqual(workspacesOfRoute(r1), ['w1']);
    assert.equal(hostOfRoute(r2), 'other');
    assert.deepEqual(secretsOfRoute(route('bad', { tls: 'nonsense', routes: 'x' })), []);
    assert.deepEqual(workspacesOfRoute(route('bad', { routes: [null, { upstream: 1 }] })), []);
  });

  it('maps a changed object only to routes in its own namespace', () => {
    assert.deepEqual(routesUsing([r1, r2, elsewhere], 'ns', 'tls-a', secretsOfRoute), [{ namespace: 'ns', name: 'r1' }]);
    assert.deepEqual(routesUsing([r1, r2, elsewhere], 'ns', 'edge', hostOfRoute), [{ namespace: 'ns', name: 'r1' }]);
    assert.deepEqual(routesUsing([r1, r2, elsewhere], 'ns', 'nothing', secretsOfRoute), []);
  });

  it('turns an applier key back into the route', () => {
    assert.deepEqual(requestOfRouteKey('team-a_my-route.v2'), { namespace: 'team-a', name: 'my-route.v2' });
  });
});

/** Just enough of an Informer for the caches resolveReferences reads. */
function cache<T>(objects: Record<string, T>): Informer<any> {
  return { get: (key: string) => objects[key] } as unknown as Informer<any>;
}

describe('resolving a ProxyRoute\'s references', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const secrets = new SecretReader(cache<SecretObject>({
    'ns/tls-ok': { metadata: { name: 'tls-ok' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64('CRT'), 'tls.key': b64('KEY') } },
    'ns/opaque': { metadata: { name: 'opaque' }, type: 'Opaque', data: { 'tls.crt': b64('CRT'), 'tls.key': b64('KEY') } },
    'ns/auth': { metadata: { name: 'auth' }, data: { auth: b64('u:{SHA}x') } },
  }));
  const ready = [{ type: 'Ready', status: 'True', reason: 'Available', message: 'ok', lastTransitionTime: '2030-01-01T00:00:00Z' }];
  const ws = (endpoints: unknown[], conditions: unknown[] = ready) => ({ metadata: { name: 'w' }, status: { phase: 'Running', conditions, endpoints } }) as unknown as Workspace;
  const spec = (over: Record<string, unknown>) => ({ hostRef: { name: 'edge' }, serverNames: ['a.test'], routes: [{ path: '/', pathType: 'Prefix', upstream: { workspaceRef: { name: 'w', port: 'editor' }, protocol: 'HTTP' }, websocket: false }], ...over }) as unknown as ProxyRouteSpec;
  const resolve = (s: ProxyRouteSpec, workspaces: Record<string, Workspace>) => resolveReferences('ns', s, { secrets, workspaces: cache(workspaces) });

  it('a Workspace port resolves to its published address and port', () => {
    const r = resolve(spec({}), { 'ns/w': ws([{ name: 'editor', host: '10.1.2.3', port: 32768 }]) });
    assert.ok(r.ok);
    assert.deepEqual(r.resolved.upstreams, [{ address: '10.1.2.3', port: 32768 }]);
    assert.deepEqual(r.upstreams, [{ path: '/', address: '10.1.2.3', port: 32768 }]);
  });

  it('a missing or not-Ready Workspace, or a missing endpoint, is a reason to wait', () => {
    const missing = resolve(spec({}), {});
    assert.equal(!missing.ok && missing.reason, 'WorkspaceNotFound');
    const notReady = resolve(spec({}), { 'ns/w': ws([], [{ type: 'Ready', status: 'False', reason: 'Creating', message: 'pulling' }]) });
    assert.equal(!notReady.ok && notReady.reason, 'WorkspaceNotReady');
    assert.match(!notReady.ok ? notReady.message : '', /Creating: pulling/);
    const noPort = resolve(spec({}), { 'ns/w': ws([{ name: 'ssh', host: '10.1.2.3', port: 22 }]) });
    assert.equal(!noPort.ok && noPort.reason, 'WorkspaceEndpointMissing');
    assert.match(!noPort.ok ? noPort.message : '', /it has: ssh/);
  });

  it('a Workspace endpoint at a forbidden address is refused, naming the field', () => {
    for (const host of ['169.254.169.254', '127.0.0.1;return 200', 'unix:/run/docker.sock', 'fe80::1']) {
      assert.throws(() => resolve(spec({}), { 'ns/w': ws([{ name: 'editor', host, port: 80 }]) }), (err: unknown) => {
        assert.ok(err instanceof TerminalError);
        assert.equal(err.code, 'UpstreamRejected');
        assert.match(err.message, /^spec\.routes\[0\]\.upstream\.workspaceRef: /);
        return true;
      }, host);
    }
  });

  it('reads the TLS pair and htpasswd file; a Secret of the wrong type or a missing one says which field', () => {
    const ok = resolve(spec({ routes: [{ path: '/', upstream: { address: '10.0.0.1', port: 80 } }], tls: { secretRef: { name: 'tls-ok' } }, access: { basicAuth: { secretRef: { name: 'auth', key: 'auth' } } } }), {});
    assert.ok(ok.ok);
    assert.deepEqual(ok.resolved.tls, { certificate: 'CRT', privateKey: 'KEY' });
    assert.equal(ok.resolved.htpasswd, 'u:{SHA}x');
    const plain = { routes: [{ path: '/', upstream: { address: '10.0.0.1', port: 80 } }] };
    assert.throws(() => resolve(spec({ ...plain, tls: { secretRef: { name: 'opaque' } } }), {}), /spec\.tls\.secretRef: Secret "opaque" has type Opaque/);
    assert.throws(() => resolve(spec({ ...plain, tls: { secretRef: { name: 'gone' } } }), {}), (err: unknown) => err instanceof OutriggerError && err.code === 'SecretNotFound' && /spec\.tls\.secretRef/.test(err.message) && !/KEY/.test(err.message));
  });
});

describe('HostNginx: host-level failures are retried per host, not per route', () => {
  const host = { apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', metadata: { name: 'edge', namespace: 'ns', uid: 'u1', generation: 1 }, spec: {} } as Host;
  const settings = { configDir: '/etc/nginx/outrigger', mainConfigFile: '/etc/nginx/nginx.conf', errorLogFile: '/var/log/nginx/error.log', testCommand: ['nginx', '-t'], reloadCommand: ['nginx', '-s', 'reload'], sudo: false, statusPort: 10080, resolvConf: '/etc/resolv.conf' };
  const input = (name: string) => ({ namespace: 'ns', name, serverNames: [`${name}.test`], routes: [{ path: '/', upstream: { address: '10.0.0.1', port: 80 } }] });
  const drain = async () => { for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r)); };

  function harness() {
    const clock = new FakeClock(1_000_000);
    let down = true;
    const applies: Array<ReadonlyMap<string, RouteIntent>> = [];
    const enqueued: ObjectKey[] = [];
    const nginx = new HostNginx(host, settings, { connect: () => ({}) as SshConnection, enqueue: (k) => enqueued.push(k), log: silentLogger }, {
      clock, quietMs: 10, maxDelayMs: 100, retryInitialMs: 1_000, retryMaxMs: 4_000, driftIntervalMs: 30_000,
      applyFn: async (_ctx, intents) => {
        applies.push(new Map(intents));
        if (down) throw new OutriggerError('Unreachable', 'cannot reach root@10.0.0.2:22: ECONNREFUSED');
        const report: ApplyReport = { generation: 'g', reloaded: false, tests: 0, filesWritten: 0, filesRemoved: 0, orphansRemoved: [], routes: new Map([...intents].filter(([, i]) => i.rendered).map(([k, i]) => [k, { state: 'Applied' as const, liveHash: i.rendered!.hash, warnings: [] }])) };
        return report;
      },
    });
    return { clock, nginx, applies, enqueued, up: () => { down = false; } };
  }

  it('a failed apply closes the gate with a stable message; retries back off 1 s, 2 s, 4 s, 4 s; routes are told once', async () => {
    const t = harness();
    for (let i = 0; i < 20; i++) t.nginx.ensure(input(`r${i}`));
    t.clock.advance(10);
    await drain();
    assert.equal(t.applies.length, 1, 'one apply for 20 routes');
    const gate = t.nginx.gate();
    assert.equal(gate?.code, 'Unreachable');
    assert.equal(gate?.message, 'cannot reach root@10.0.0.2:22: ECONNREFUSED', 'no changing countdown in the message');
    assert.equal(t.enqueued.length, 20, 'each route hears about the failure once');

    const gaps: number[] = [];
    let last = t.clock.now();
    for (let attempt = 0; attempt < 4; attempt++) {
      const before: number = t.applies.length;
      while (t.applies.length === before) { t.clock.advance(100); await drain(); }
      gaps.push(t.clock.now() - last);
      last = t.clock.now();
    }
    assert.deepEqual(gaps.map((g) => Math.round(g / 1000) * 1000), [1_000, 2_000, 4_000, 4_000]);
    assert.equal(t.enqueued.length, 20, 'the same failure again enqueues nothing');

    t.up();
    while (t.nginx.failure) { t.clock.advance(100); await drain(); }
    assert.equal(t.nginx.gate(), undefined);
    assert.equal(t.enqueued.length, 40, 'each route hears about the recovery once');
  });

  it('a changed Host spec opens the gate at once', async () => {
    const t = harness();
    t.nginx.ensure(input('r'));
    t.clock.advance(10);
    await drain();
    assert.ok(t.nginx.gate());
    t.nginx.hostChanged(1);
    assert.ok(t.nginx.gate(), 'same generation: still closed');
    t.nginx.hostChanged(2);
    assert.equal(t.nginx.gate(), undefined);
  });

  it('checks the host for drift every driftIntervalMs while it has routes, without telling unchanged routes', async () => {
    const t = harness();
    t.up();
    t.nginx.ensure(input('r'));
    t.clock.advance(10);
    await drain();
    assert.equal(t.applies.length, 1);
    assert.equal(t.enqueued.length, 1);
    t.clock.advance(30_000);
    await drain();
    assert.equal(t.applies.length, 2, 'a drift check ran');
    assert.equal(t.enqueued.length, 1, 'an unchanged outcome enqueues nothing');
    t.nginx.close();
    t.clock.advance(60_000);
    await drain();
    assert.equal(t.applies.length, 2, 'nothing after close');
  });

  it('keeps checking a host no route names only while routes may still be live there', async () => {
    const clock = new FakeClock(1_000_000);
    let liveOnHost = ['ns_left-behind'];
    let applies = 0;
    const nginx = new HostNginx(host, settings, { connect: () => ({}) as SshConnection, enqueue: () => {}, log: silentLogger }, {
      clock, quietMs: 10, maxDelayMs: 100, driftIntervalMs: 30_000,
      applyFn: async () => {
        applies++;
        // What the host had live is reported, then it is gone (collected as an orphan).
        const routes = new Map(liveOnHost.map((k) => [k, { state: 'Applied' as const, liveHash: 'sha256:x', warnings: [] }]));
        liveOnHost = [];
        return { generation: 'g', reloaded: false, tests: 0, filesWritten: 0, filesRemoved: 0, orphansRemoved: [], routes };
      },
    });
    void nginx.applier.resync(); // what the startup check does
    clock.advance(10);
    await drain();
    assert.equal(applies, 1);
    assert.equal(nginx.status().liveRoutes, 1);
    clock.advance(30_000);
    await drain();
    assert.equal(applies, 2, 'checked again: something was live there');
    assert.equal(nginx.status().liveRoutes, 0);
    clock.advance(90_000);
    await drain();
    assert.equal(applies, 2, 'nothing live and no route names the host: left alone');
    nginx.close();
  });
});
