// Regression tests for what a new user found, each against the real kube-apiserver and dockerd:
// an engine that stops answering marks its Workspaces unreachable at once and they recover at once
// when it answers again (no waiting out a backoff); the last Workspace on a Host gone stops its
// engine watcher; CPU above the machine's is Stalled, not retried; a label on a Secret re-creates
// nothing; a malformed key Secret gives a catalogued reason, no Secret bytes and one event series.
import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { KubeRest, Manager, ResourceClient, createLogger, type KubeObject } from '../../controller/index.ts';
import { hostRef, secretRef, workspaceRef } from '../../reconcilers/common/kinds.ts';
import { addHostController } from '../../reconcilers/host/index.ts';
import { createPlatform } from '../../reconcilers/platform.ts';
import { registerWorkspaceReconciler, type WorkspaceController } from '../../reconcilers/workspace/index.ts';
import { controlPlaneSkipReason, createTestNamespace, useControlPlane, type ControlPlane, type TestNamespace } from '../fixtures/controlplane.ts';
import { dockerSkipReason, setUpDockerTest, startDockerProxy, type DockerProxy, type DockerTestEnv } from '../fixtures/docker.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { assertCataloguedReasons } from './reasons-check.ts';

const skip = controlPlaneSkipReason() ?? (await dockerSkipReason());
if (skip) process.stderr.write(`kit-defects: skipping: ${skip}\n`);

type Obj = KubeObject & { spec?: any; status?: any; data?: Record<string, string>; type?: string; reason?: string; note?: string; series?: { count: number }; regarding?: { name?: string } };
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

describe('reconcile kit regressions', { skip }, () => {
  let cp: ControlPlane;
  let env: DockerTestEnv;
  let ns: TestNamespace;
  let manager: Manager;
  let wc: WorkspaceController;
  let rest: KubeRest;
  let proxy: DockerProxy;
  const logs: string[] = [];
  let workspaces: ResourceClient<Obj>;
  let secrets: ResourceClient<Obj>;
  let hosts: ResourceClient<Obj>;
  const ref = (kind: string, name: string) => ({ kind, namespace: ns.name, name });
  /** Deletes a Workspace and waits until its finalizer has cleaned up (nothing left for the teardown). */
  const deleteWorkspace = async (name: string) => {
    await workspaces.delete({ namespace: ns.name, name });
    await waitFor(() => workspaces.get({ namespace: ns.name, name }).then(() => false, (err) => String(err).includes('404')), { description: `Workspace ${name} to be gone`, timeoutMs: 60_000 });
  };
  const ws = (name: string, host: string, spec: Record<string, unknown> = {}): Obj => ({
    metadata: { name, namespace: ns.name },
    spec: { owner: 'alice@example.com', user: { name: 'alice', uid: 1000 }, runtime: { docker: { hostRef: { name: host }, image: env.image, pullPolicy: 'Never' } }, ...spec },
  });

  before(async () => {
    cp = await useControlPlane();
    env = await setUpDockerTest('kitdefects');
    ns = await createTestNamespace(cp.kubeConfig, 'kit-defects');
    rest = new KubeRest(cp.kubeConfig);
    workspaces = new ResourceClient<Obj>(rest, workspaceRef);
    secrets = new ResourceClient<Obj>(rest, secretRef);
    hosts = new ResourceClient<Obj>(rest, hostRef);
    proxy = await startDockerProxy(env.socketPath);
    await hosts.create({ metadata: { name: 'local', namespace: ns.name }, spec: { docker: { unix: { path: env.socketPath } } } });
    await hosts.create({ metadata: { name: 'flaky', namespace: ns.name }, spec: { docker: { unix: { path: proxy.socketPath } } } });
    const sink = new Writable({ write(chunk, _enc, done) { logs.push(String(chunk)); done(); } });
    manager = new Manager({ kubeConfig: cp.kubeConfig, logger: createLogger({ level: 'debug', destination: sink }), httpAddress: null });
    const platform = createPlatform(manager, { namespace: ns.name });
    addHostController(platform, { probeIntervalMs: 2_000, retryInitialMs: 200 });
    wc = registerWorkspaceReconciler(platform, { instance: env.instance, workers: 2, engineResyncMs: 60_000, stopTimeoutSeconds: 1 });
    await manager.start();
  });

  after(async () => {
    await manager?.stop();
    rest?.close();
    await proxy?.close();
    await env?.cleanup();
    await ns?.delete();
    await cp?.stop();
  });

  it('an engine that stops answering: Ready=False Unreachable at once; back: Ready again without waiting out the backoff', async () => {
    await workspaces.create(ws('outage', 'flaky'));
    await waitForCondition(cp.kubeConfig, ref('Workspace', 'outage'), 'Ready', 'True', { timeoutMs: 60_000 });
    proxy.cut();
    // The events stream breaks with the cut: no poll interval (5 min at rest) to wait for.
    const down = await waitForCondition(cp.kubeConfig, ref('Workspace', 'outage'), 'Ready', 'False', { timeoutMs: 15_000 });
    assert.equal(down.status?.conditions?.find((c: { type: string }) => c.type === 'Ready')?.reason, 'Unreachable');
    assert.equal((down.status as any)?.phase, 'Unknown', 'no longer says Running while nothing is known');
    // Stay down long enough that the per-key backoff (250 ms doubling) is past 16 s.
    const retriesBefore = wc.controller.queue.retries(`${ns.name}/outage`);
    await waitFor(() => wc.controller.queue.retries(`${ns.name}/outage`) >= retriesBefore + 6, { description: 'six retries while the engine is down', timeoutMs: 60_000, intervalMs: 250 });
    proxy.restore();
    const restoredAt = Date.now();
    await waitForCondition(cp.kubeConfig, ref('Workspace', 'outage'), 'Ready', 'True', { timeoutMs: 12_000 });
    const backoffLeft = 250 * 2 ** (retriesBefore + 6) - (Date.now() - restoredAt);
    assert.ok(backoffLeft > 0, 'recovery came through the engine coming back, not through the backoff running out');
  });

  it('the last Workspace on a Host gone: its engine watcher stops (no list or events calls for ever after)', async () => {
    await deleteWorkspace('outage');
    await waitFor(() => !wc.watchers.all().some((b) => b.engine.description.includes(proxy.socketPath)), { description: 'the watcher of the flaky engine to stop', timeoutMs: 30_000 });
  });

  it('CPU above what the machine has is Stalled with the field named, not retried forever', async () => {
    await workspaces.create(ws('greedy', 'local', { resources: { cpu: String(cpus().length * 8) } }));
    const stalled = await waitForCondition(cp.kubeConfig, ref('Workspace', 'greedy'), 'Stalled', 'True', { timeoutMs: 60_000 });
    const ready = stalled.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
    assert.equal(ready?.reason, 'InvalidSpec');
    assert.match(ready?.message ?? '', /spec\.resources\.cpu/);
    assert.equal((stalled.status as any)?.phase, 'Failed');
    await deleteWorkspace('greedy');
  });

  it('a label on a Secret the Workspace reads re-creates nothing; a new value does', async () => {
    await secrets.create({ metadata: { name: 'env-src', namespace: ns.name }, type: 'Opaque', data: { token: b64('first-value-123') } });
    await workspaces.create(ws('labelled', 'local', { env: [{ name: 'TOKEN', secretKeyRef: { name: 'env-src', key: 'token' } }] }));
    const first = await waitForCondition(cp.kubeConfig, ref('Workspace', 'labelled'), 'Ready', 'True', { timeoutMs: 60_000 });
    const id = (first.status as any)?.docker?.containerId as string;
    assert.ok(id);
    await secrets.mergePatch({ namespace: ns.name, name: 'env-src' }, { metadata: { labels: { x: '1' } } });
    // The reconcile the Secret's change causes has run once the informer saw it; give it a chance to act.
    const reconcilesBefore = wc.controller.counts.success + wc.controller.counts.requeueAfter;
    await waitFor(() => wc.controller.counts.success + wc.controller.counts.requeueAfter > reconcilesBefore, { description: 'the Workspace to be reconciled after the label', timeoutMs: 20_000 });
    assert.equal((await workspaces.get({ namespace: ns.name, name: 'labelled' })).status?.docker?.containerId, id, 'same container');
    assert.ok((await env.docker.getContainer(id).inspect()).State.Running);
    await secrets.mergePatch({ namespace: ns.name, name: 'env-src' }, { data: { token: b64('second-value-456') } });
    await waitFor(async () => {
      const cur = await workspaces.get({ namespace: ns.name, name: 'labelled' });
      return cur.status?.docker?.containerId !== id && cur.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
    }, { description: 'a new container for the new value', timeoutMs: 60_000 });
    await deleteWorkspace('labelled');
  });

  it('a Host\'s spec.docker.ulimits reach its Workspaces\' containers', async () => {
    await hosts.create({ metadata: { name: 'limited', namespace: ns.name }, spec: { docker: { unix: { path: env.socketPath }, ulimits: [{ name: 'nofile', soft: 4096, hard: 8192 }, { name: 'nproc', soft: 2048, hard: 4096 }] } } });
    await workspaces.create(ws('limits', 'limited'));
    const ready = await waitForCondition(cp.kubeConfig, ref('Workspace', 'limits'), 'Ready', 'True', { timeoutMs: 60_000 });
    const inspected = await env.docker.getContainer((ready.status as any).docker.containerId).inspect();
    assert.deepEqual(inspected.HostConfig.Ulimits?.map((u) => [u.Name, u.Soft, u.Hard]).sort(), [['nofile', 4096, 8192], ['nproc', 2048, 4096]]);
    await deleteWorkspace('limits');
  });

  it('a malformed SSH key: a catalogued reason, no byte of the Secret anywhere, and one event series for the repeats', async () => {
    const junk = randomBytes(96);
    await secrets.create({ metadata: { name: 'junk-key', namespace: ns.name }, type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': junk.toString('base64') } });
    await hosts.create({
      metadata: { name: 'badkey', namespace: ns.name },
      spec: { address: '127.0.0.1', ssh: { port: 1, user: 'root', privateKeySecretRef: { name: 'junk-key', key: 'ssh-privatekey' }, hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE3B8hhc7oWmJ5KSdvwNmYvjybvAg0EC2OnH5G7iRbQx' } },
    });
    const host = await waitForCondition(cp.kubeConfig, ref('Host', 'badkey'), 'Ready', 'False', { timeoutMs: 30_000 });
    const ready = host.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
    assert.equal(ready?.reason, 'SshInvalidPrivateKey');
    assert.match(ready?.message ?? '', /cannot be parsed/);
    // Several probes later (200 ms doubling), still one Event for the one failure, counted in a series.
    await waitFor(async () => {
      const events = (await new ResourceClient<Obj>(rest, { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true }).list(ns.name)).items;
      const mine = events.filter((e) => e.regarding?.name === 'badkey' && e.reason === 'SshInvalidPrivateKey');
      return mine.length === 1 ? mine : undefined;
    }, { description: 'one Warning event for the malformed key', timeoutMs: 20_000 });
    const everything = JSON.stringify(await hosts.get({ namespace: ns.name, name: 'badkey' })) + logs.join('') +
      JSON.stringify((await new ResourceClient<Obj>(rest, { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true }).list(ns.name)).items);
    for (const piece of [junk.toString('base64'), junk.toString('utf8').slice(0, 12), junk.toString('hex').slice(0, 16)]) {
      assert.ok(!everything.includes(piece), 'a piece of the Secret reached status, events or logs');
    }
    assert.ok(!everything.includes('"reason":"undefined"'));
    await assertCataloguedReasons(rest, ns.name);
  });
});
