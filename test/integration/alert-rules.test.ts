// Alert rules on real systems, on the real clock (the engine's events and nginx's log times are
// real): containerDown and restartLooping from the Docker events the Workspace controller's engine
// watchers receive (no loop per container), inhibition of a down Workspace's probe alerts, errorRate
// from a ProxyRoute's nginx access log read over SSH, and certificateExpiring from the certificate
// a test host's nginx actually serves (TLS handshake with SNI) and the whole chain.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import forge from 'node-forge';
import { controlPlaneSkipReason } from '../fixtures/controlplane.ts';
import { alertingSkipReason, startHttpReceiver, type HttpReceiver } from '../fixtures/alerting.ts';
import { dockerSkipReason, setUpDockerTest, type DockerTestEnv } from '../fixtures/docker.ts';
import { hostsSkipReason, type TestHost } from '../fixtures/hosts.ts';
import { waitFor } from '../fixtures/wait.ts';
import { ResourceClient, type KubeObject } from '../../controller/index.ts';
import { hostRef, proxyRouteRef, workspaceRef } from '../../reconcilers/common/kinds.ts';
import { registerWorkspaceReconciler } from '../../reconcilers/workspace/index.ts';
import { registerAlertReconciler, type AlertObject } from '../../reconcilers/alert/index.ts';
import { createOutboundGuard } from '../../reconcilers/net/index.ts';
import { alertRef } from '../../reconcilers/common/kinds.ts';
import { alertObject, secret, startAlertHarness, type AlertHarness } from './alert-harness.ts';
import { b64, createHost, httpRoute, startHarness, type Harness } from './proxyroute-harness.ts';
import { assertCataloguedReasons } from './reasons-check.ts';

type Obj = KubeObject & { spec?: any; status?: any };
const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEzf6YbE9D8RZy7gB1uY2lU0iHq8m3Xw5jKc1QbO0pT7 alice@example.com';

const dockerSkip = await dockerSkipReason();

describe('Alert rules on Docker: containerDown, restartLooping, inhibition', { skip: controlPlaneSkipReason() ?? dockerSkip ?? alertingSkipReason() }, () => {
  let h: AlertHarness;
  let env: DockerTestEnv;
  let hook: HttpReceiver;
  let workspaces: ResourceClient<Obj>;

  before(async () => {
    env = await setUpDockerTest('alert-rules');
    hook = await startHttpReceiver();
    h = await startAlertHarness({
      prefix: 'alert-docker',
      realClock: true,
      register: (platform) => { registerWorkspaceReconciler(platform, { instance: env.instance, workers: 4, engineResyncMs: 5_000, stopTimeoutSeconds: 1 }); },
    });
    workspaces = new ResourceClient<Obj>(h.rest, workspaceRef);
    await new ResourceClient<Obj>(h.rest, hostRef).create({ metadata: { name: 'local', namespace: h.ns.name }, spec: { docker: { unix: { path: env.socketPath } } } });
    await h.secrets.create(secret(h, 'hook', { url: `${hook.url}/hook` }));
  });
  after(async () => {
    await h?.stop();
    await env?.cleanup();
    await hook?.stop();
  });

  const workspace = (name: string, image = env.image): Obj => ({
    metadata: { name, namespace: h.ns.name },
    spec: { owner: 'alice@example.com', runtime: { docker: { hostRef: { name: 'local' }, image, pullPolicy: 'Never', publishAddress: '127.0.0.1' } }, user: { name: 'alice', uid: 1000 }, ssh: { authorizedKeys: [SSH_KEY] } },
  });
  const alertState = async (name: string) => (await h.alert(name)).status;

  it('a Workspace whose container cannot run fires containerDown once; its probe alert is inhibited, not sent', async () => {
    await workspaces.create(workspace('broken', 'outrigger-test/no-such-image:1'));
    await new ResourceClient<Obj>(h.rest, proxyRouteRef).create({
      metadata: { name: 'broken-site', namespace: h.ns.name },
      spec: { hostRef: { name: 'local' }, serverNames: ['broken.invalid'], routes: [{ path: '/', upstream: { workspaceRef: { name: 'broken', port: 'ssh' } } }] },
    });
    await h.alerts.create(alertObject(h, 'broken', {
      rules: [
        { name: 'ws-down', containerDown: { targets: [{ kind: 'Workspace', name: 'broken' }] } },
        // The cause is seen first (as it would be: a probe needs a while to count as failing).
        { name: 'site', httpProbe: { url: 'http://broken.invalid/', interval: '2s', timeout: '1s' }, for: '8s' },
      ],
      receivers: [{ name: 'hook', webhook: { urlSecretRef: { name: 'hook' } } }],
      groupWait: '2s', groupInterval: '1m',
    }));
    const status = await waitFor(async () => {
      const s = await alertState('broken');
      const down = s?.alerts?.find((a) => a.rule === 'ws-down');
      const site = s?.alerts?.find((a) => a.rule === 'site');
      return down?.state === 'Firing' && site?.state === 'Firing' && site.inhibited ? s : undefined;
    }, { description: 'containerDown firing and the probe alert inhibited', timeoutMs: 45_000 });
    assert.match(status.alerts!.find((a) => a.rule === 'ws-down')!.message ?? '', /no container exists/);
    await waitFor(() => hook.requests.length >= 1, { description: 'the notification', timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 3_000));
    const sent = hook.requests.flatMap((r) => (r.json as { alerts: Array<{ labels: Record<string, string> }> }).alerts.map((a) => a.labels.alertname));
    assert.deepEqual([...new Set(sent)], ['ws-down'], 'only the cause is told');
    assert.equal(hook.requests.length, 1);
  });

  it('restartLooping fires when the container keeps dying and being restarted, counted from the engine events', async () => {
    await workspaces.create(workspace('loopy'));
    await h.alerts.create(alertObject(h, 'loopy', {
      rules: [
        { name: 'loop', restartLooping: { targets: [{ kind: 'Workspace', name: 'loopy' }], restarts: 3, window: '10m' } },
        { name: 'down', containerDown: { targets: [{ kind: 'Workspace', name: 'loopy' }] }, for: '5m' },
      ],
      receivers: [{ name: 'hook', webhook: { urlSecretRef: { name: 'hook' } } }],
    }));
    const running = async () => {
      const ws = await workspaces.get({ namespace: h.ns.name, name: 'loopy' });
      return ws.status?.phase === 'Running' && ws.status?.docker?.containerId ? (ws.status.docker.containerId as string) : undefined;
    };
    for (let i = 0; i < 3; i++) {
      const id = await waitFor(running, { description: `loopy running (round ${i})`, timeoutMs: 60_000 });
      const started = await waitFor(async () => {
        const info = await env.docker.getContainer(id).inspect();
        return info.State.Running ? info.State.StartedAt : undefined;
      }, { description: 'the container to run' });
      // A crash: the engine sends die; the Workspace controller starts the container again.
      await env.docker.getContainer(id).kill({ signal: 'SIGKILL' });
      await waitFor(async () => {
        const info = await env.docker.getContainer(id).inspect();
        return info.State.Running && info.State.StartedAt !== started;
      }, { description: 'the Workspace controller to start it again', timeoutMs: 60_000 });
    }
    const s = await waitFor(async () => {
      const st = await alertState('loopy');
      return st?.rules?.find((r) => r.name === 'loop')?.state === 'Firing' ? st : undefined;
    }, { description: 'restartLooping to fire', timeoutMs: 30_000 });
    assert.match(s.rules!.find((r) => r.name === 'loop')!.message ?? '', /3 restart\(s\)/);
    assert.notEqual(s.rules!.find((r) => r.name === 'down')!.state, 'Firing', 'short downs never outlast for: 5m');
    await assertCataloguedReasons(h.rest, h.ns.name);
  });
});

/** A self-signed certificate for `name`, valid for `days` more days, and its key. */
function certificate(name: string, days: number, serial: string): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial;
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: name }]);
  cert.setIssuer([{ name: 'commonName', value: name }]);
  cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 2, value: name }] }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

describe('Alert rules on a test host: errorRate from the access log, the served certificate', { skip: controlPlaneSkipReason() ?? hostsSkipReason() }, () => {
  let h: Harness;
  let host: TestHost;
  let alerts: ResourceClient<AlertObject>;

  before(async () => {
    h = await startHarness({ hosts: 1, prefix: 'alert-hosts', register: (platform) => {
      // The test hosts' network is allowed (as an operator would allow a private range); loopback is not.
      registerAlertReconciler(platform, { certificateCheckMs: 1_000, outbound: createOutboundGuard({ allowCidrs: ['10.213.0.0/16'] }) });
    } });
    host = h.hosts[0]!;
    alerts = new ResourceClient<AlertObject>(h.rest, alertRef);
    await createHost(h, 'web', host);
    await h.secrets.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook', namespace: h.ns.name }, type: 'Opaque', data: { url: b64('http://127.0.0.1:9/hook') } } as never);
  });
  after(async () => { await h?.stop(); });

  const alert = (name: string, rules: unknown[]) => alertObject({ ns: h.ns } as AlertHarness, name, { rules, receivers: [{ name: 'hook', webhook: { urlSecretRef: { name: 'hook' } } }] });
  const statusOf = async (name: string) => (await alerts.get({ namespace: h.ns.name, name })).status;

  it('errorRate fires when more than the threshold of the responses in the window are 5xx, and only with minRequests', async () => {
    // One route to a live upstream, one to a port nothing listens on (nginx answers 502).
    await h.routes.create(httpRoute(h, 'good', 'web', host.upstreams[0]!.port));
    await h.routes.create(httpRoute(h, 'bad', 'web', 1));
    await alerts.create(alert('rates', [
      // window 1m: evaluated every 12 s.
      { name: 'bad-5xx', errorRate: { targets: [{ kind: 'ProxyRoute', name: 'bad' }], thresholdPercent: 50, window: '1m', minRequests: 10 } },
      { name: 'good-5xx', errorRate: { targets: [{ kind: 'ProxyRoute', name: 'good' }], thresholdPercent: 50, window: '1m', minRequests: 10 } },
    ]));
    await waitFor(async () => (await host.request('http://good.test/')).status === 200, { description: 'the good route live', timeoutMs: 30_000 });
    // Until the bad route is live nginx's default server answers (not logged for the route): the
    // first 502 is the first request counted.
    await waitFor(async () => (await host.request('http://bad.test/')).status === 502, { description: 'the bad route live', timeoutMs: 30_000 });
    for (let i = 0; i < 4; i++) await host.request('http://bad.test/');
    // Two evaluations see 5 of 5 answers fail: 100%, but fewer than minRequests never fire.
    await new Promise((r) => setTimeout(r, 26_000));
    const few = await statusOf('rates');
    assert.equal(few?.rules?.find((r) => r.name === 'bad-5xx')?.state, 'Ok', JSON.stringify(few?.rules));
    for (let i = 0; i < 10; i++) {
      await host.request('http://bad.test/');
      await host.request('http://good.test/');
    }
    const s = await waitFor(async () => {
      const st = await statusOf('rates');
      return st?.rules?.find((r) => r.name === 'bad-5xx')?.state === 'Firing' ? st : undefined;
    }, { description: 'errorRate to fire for the bad route', timeoutMs: 60_000 });
    // The 5 early ones counted too (15 of 15): they were read, and did not fire alone.
    assert.match(s.rules!.find((r) => r.name === 'bad-5xx')!.message ?? '', /ProxyRoute\/bad: 15 of 15 responses in the last 1m were 5xx \(100\.0%/);
    assert.equal(s.rules!.find((r) => r.name === 'good-5xx')!.state, 'Ok');
    assert.match(s.rules!.find((r) => r.name === 'good-5xx')!.message ?? '', /target/);
  });

  it('certificateExpiring reads the certificate the host serves (SNI), and the nearest expiry of the chain', async () => {
    const soon = certificate('soon.test', 10, '5eed01');
    await h.secrets.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'soon-tls', namespace: h.ns.name }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(soon.cert), 'tls.key': b64(soon.key) } } as never);
    await h.routes.create(httpRoute(h, 'soon', 'web', host.upstreams[0]!.port, { tls: { secretRef: { name: 'soon-tls' } } }));
    await alerts.create(alert('certs', [
      { name: 'cert', certificateExpiring: { targets: [{ kind: 'ProxyRoute', name: 'soon' }], withinDays: 30 } },
      { name: 'cert-later', certificateExpiring: { targets: [{ kind: 'ProxyRoute', name: 'soon' }], withinDays: 5 } },
    ]));
    const s = await waitFor(async () => {
      const st = await statusOf('certs');
      const rule = st?.rules?.find((r) => r.name === 'cert');
      return rule?.state === 'Firing' && rule.message?.includes('served by') ? st : undefined;
    }, { description: 'the served certificate to be read and the rule to fire', timeoutMs: 60_000 });
    const message = s.rules!.find((r) => r.name === 'cert')!.message!;
    assert.match(message, new RegExp(`served by ${host.address.replace(/\./g, '\\.')}`));
    assert.match(message, /serial 5EED01/i);
    assert.match(message, /in (9|10) days/);
    assert.equal(s.rules!.find((r) => r.name === 'cert-later')!.state, 'Ok');
  });

  it('probes go through the outbound guard: an address the operator did not allow is refused, nothing is sent', async () => {
    let hits = 0;
    const server = (await import('node:http')).createServer((_q, r) => { hits++; r.end(); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      await alerts.create(alert('guarded', [{ name: 'local', httpProbe: { url: `http://127.0.0.1:${port}/`, interval: '30s', timeout: '2s' } }]));
      const s = await waitFor(async () => {
        const st = await statusOf('guarded');
        return st?.rules?.[0]?.state === 'Firing' ? st : undefined;
      }, { description: 'the refused probe to count as failing', timeoutMs: 30_000 });
      assert.match(s.rules![0]!.message ?? '', /loopback|refus|not allowed/i);
      assert.equal(hits, 0, 'no request reached the address');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
