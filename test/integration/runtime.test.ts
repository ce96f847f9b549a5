// The controller runtime against a real kube-apiserver: the reconcile loop, status and conditions,
// finalizers, no hot loop at steady state, surviving an apiserver restart, and leader election.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KubeEventRecorder, Manager, ResourceClient, KubeRest, silentLogger, type KubeObject } from '../../controller/index.ts';
import { controlPlaneSkipReason, createTestNamespace, useControlPlane, type ControlPlane } from '../fixtures/controlplane.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { addWidgetController, installWidgetCrd, widgetRef, type ReconcileRecord, type Widget } from './programs/widget.ts';

const managerProgram = fileURLToPath(new URL('./programs/widget-manager.ts', import.meta.url));
const outriggerCli = fileURLToPath(new URL('../../bin/outrigger.ts', import.meta.url));

function widget(namespace: string, name: string, size = 1): Widget {
  return { metadata: { name, namespace }, spec: { size } };
}

function startManager(cp: ControlPlane, identity: string, records: ReconcileRecord[], opts: { namespace: string; leaderElection?: boolean }) {
  const manager = new Manager({
    kubeConfig: cp.kubeConfig,
    logger: silentLogger,
    httpAddress: { host: '127.0.0.1', port: 0 },
    leaderElection: opts.leaderElection ? { namespace: opts.namespace, name: 'widget-controller', identity } : false,
  });
  addWidgetController(manager, identity, records, { namespace: opts.namespace });
  return manager;
}

describe('controller runtime on a real kube-apiserver', { skip: controlPlaneSkipReason() }, () => {
  let cp: ControlPlane;
  before(async () => {
    // The runtime needs no Outrigger kind; a private control plane installs none.
    cp = await useControlPlane({ crdDir: false });
    await installWidgetCrd(cp.kubeConfig);
  });
  after(async () => { await cp?.stop(); });

  it('reconciles create, update and delete; status carries observedGeneration; kubectl wait returns', async () => {
    const ns = await createTestNamespace(cp.kubeConfig, 'runtime');
    const records: ReconcileRecord[] = [];
    const manager = startManager(cp, 'solo', records, { namespace: ns.name });
    const widgets = new ResourceClient<Widget>(new KubeRest(cp.kubeConfig), widgetRef);
    try {
      await manager.start();
      await widgets.create(widget(ns.name, 'w1', 1));
      const ref = { apiVersion: 'runtime.test.outrigger.dev/v1', kind: 'Widget', namespace: ns.name, name: 'w1' };
      await waitForCondition(cp.kubeConfig, ref, 'Ready', 'True', { requireCurrentGeneration: true });
      const waited = await cp.kubectl(['wait', '-n', ns.name, '--for=condition=Ready', 'widgets.runtime.test.outrigger.dev/w1', '--timeout=30s']);
      assert.equal(waited.code, 0, waited.stderr);

      await widgets.mergePatch({ namespace: ns.name, name: 'w1' }, { spec: { size: 2 } });
      const updated = await waitFor(async () => {
        const w = await widgets.get({ namespace: ns.name, name: 'w1' });
        return w.status?.observedGeneration === 2 && w.status.size === 2 ? w : undefined;
      }, { description: 'status to observe generation 2' });
      assert.equal(updated.metadata.generation, 2);
      assert.ok(updated.metadata.finalizers?.includes('runtime.test.outrigger.dev/cleanup'));
      assert.ok(records.some((r) => r.key === `${ns.name}/w1` && r.generation === 2), 'the reconciler saw the update');

      await widgets.delete({ namespace: ns.name, name: 'w1' });
      await waitFor(() => records.some((r) => r.key === `${ns.name}/w1` && !r.exists), { description: 'the reconciler to see w1 gone' });
      await assert.rejects(widgets.get({ namespace: ns.name, name: 'w1' }), /404/);
    } finally {
      await manager.stop();
      widgets.rest.close();
      await ns.delete();
    }
  });

  it('records events.k8s.io events and folds repeats into a series', async () => {
    const ns = await createTestNamespace(cp.kubeConfig, 'events');
    const rest = new KubeRest(cp.kubeConfig);
    const widgets = new ResourceClient<Widget>(rest, widgetRef);
    const events = new ResourceClient<KubeObject & { reason?: string; note?: string; series?: { count: number }; regarding?: { uid?: string } }>(rest, { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true });
    try {
      const w = await widgets.create(widget(ns.name, 'noisy'));
      const recorder = new KubeEventRecorder(rest, { controllerName: 'outrigger.dev/test', logger: silentLogger });
      for (let i = 0; i < 3; i++) recorder.event(w, 'Warning', 'Unreachable', 'engine did not answer');
      recorder.event(w, 'Normal', 'Created', 'made it');
      await recorder.flush();
      const list = (await events.list(ns.name)).items;
      assert.equal(list.length, 2, 'three identical events become one Event with a series, plus the different one');
      const repeated = list.find((e) => e.reason === 'Unreachable');
      assert.equal(repeated?.series?.count, 3);
      assert.equal(repeated?.regarding?.uid, w.metadata.uid);
    } finally {
      rest.close();
      await ns.delete();
    }
  });

  it('the controller process shuts down cleanly on SIGTERM, well within 30 s', async () => {
    const child = spawn(process.execPath, [outriggerCli, 'controller', '--kubeconfig', cp.kubeconfigPath, '--http-bind-address', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => { output += String(d); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => output.includes('controller started'), { description: 'the controller to start', timeoutMs: 30_000 });
      const signalled = Date.now();
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
      assert.equal(code, 0, `exit code after SIGTERM; output:\n${output.slice(-2000)}`);
      process.stdout.write(`# controller exit after SIGTERM: ${Date.now() - signalled} ms\n`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('is quiet at steady state: no reconciles and no writes for a minute', async () => {
    const ns = await createTestNamespace(cp.kubeConfig, 'steady');
    const records: ReconcileRecord[] = [];
    const manager = startManager(cp, 'steady', records, { namespace: ns.name });
    const widgets = new ResourceClient<Widget>(new KubeRest(cp.kubeConfig), widgetRef);
    try {
      await manager.start();
      for (let i = 0; i < 5; i++) await widgets.create(widget(ns.name, `w${i}`));
      for (let i = 0; i < 5; i++) await waitForCondition(cp.kubeConfig, { apiVersion: 'runtime.test.outrigger.dev/v1', kind: 'Widget', namespace: ns.name, name: `w${i}` }, 'Ready');
      // Let the reconciles triggered by our own finalizer and status writes finish.
      let settled = records.length;
      await waitFor(async () => {
        await new Promise((r) => setTimeout(r, 1000));
        const quiet = records.length === settled;
        settled = records.length;
        return quiet;
      }, { description: 'reconciles to settle', timeoutMs: 20_000 });
      const writesBefore = manager.rest.counts.write;
      const reconcilesBefore = records.length;
      await new Promise((r) => setTimeout(r, 60_000)); // the observation window itself, not a wait for a condition
      assert.equal(records.length - reconcilesBefore, 0, 'reconciles during a minute at steady state');
      assert.equal(manager.rest.counts.write - writesBefore, 0, 'API writes during a minute at steady state');
    } finally {
      await manager.stop();
      widgets.rest.close();
      await ns.delete();
    }
  });

  it('two managers with leader election: only the leader reconciles', async () => {
    const ns = await createTestNamespace(cp.kubeConfig, 'leader');
    const records: ReconcileRecord[] = [];
    const a = startManager(cp, 'replica-a', records, { namespace: ns.name, leaderElection: true });
    const b = startManager(cp, 'replica-b', records, { namespace: ns.name, leaderElection: true });
    const widgets = new ResourceClient<Widget>(new KubeRest(cp.kubeConfig), widgetRef);
    try {
      await a.start();
      await waitFor(() => a.isLeader, { description: 'replica-a to lead' });
      await b.start();
      for (let i = 0; i < 5; i++) await widgets.create(widget(ns.name, `w${i}`));
      for (let i = 0; i < 5; i++) await waitForCondition(cp.kubeConfig, { apiVersion: 'runtime.test.outrigger.dev/v1', kind: 'Widget', namespace: ns.name, name: `w${i}` }, 'Ready');
      // b has had several retry periods to try to take the lease.
      await new Promise((r) => setTimeout(r, 5000));
      assert.equal(b.isLeader, false);
      assert.ok(records.length >= 5);
      assert.deepEqual([...new Set(records.map((r) => r.identity))], ['replica-a']);
      const metrics = await fetch(`http://127.0.0.1:${b.httpPort}/metrics`).then((r) => r.text());
      assert.match(metrics, /leader_election_master_status\{name="widget-controller"\} 0/);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      widgets.rest.close();
      await ns.delete();
    }
  });

  it('when the leader is killed, the other replica takes over within about 17 s', async () => {
    const ns = await createTestNamespace(cp.kubeConfig, 'failover');
    const children: ChildProcess[] = [];
    const widgets = new ResourceClient<Widget>(new KubeRest(cp.kubeConfig), widgetRef);
    const leases = new ResourceClient<KubeObject & { spec?: { holderIdentity?: string } }>(widgets.rest, { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true });
    const spawnReplica = (identity: string) => {
      const child = spawn(process.execPath, [managerProgram, cp.kubeconfigPath, identity, ns.name], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      return child;
    };
    try {
      const first = spawnReplica('proc-a');
      await waitFor(async () => (await leases.get({ namespace: ns.name, name: 'widget-controller' })).spec?.holderIdentity === 'proc-a', { description: 'proc-a to hold the lease', timeoutMs: 30_000 });
      spawnReplica('proc-b');
      await widgets.create(widget(ns.name, 'before'));
      await waitFor(async () => (await widgets.get({ namespace: ns.name, name: 'before' })).status?.reconciledBy === 'proc-a', { description: 'proc-a to reconcile' });

      const killedAt = Date.now();
      first.kill('SIGKILL');
      await waitFor(async () => (await leases.get({ namespace: ns.name, name: 'widget-controller' })).spec?.holderIdentity === 'proc-b', { description: 'proc-b to take the lease', timeoutMs: 25_000, intervalMs: 200 });
      const takeoverMs = Date.now() - killedAt;
      process.stdout.write(`# leader takeover after SIGKILL: ${takeoverMs} ms\n`);
      assert.ok(takeoverMs <= 20_000, `takeover took ${takeoverMs} ms; lease duration 15 s + retry period 2 s allows about 17 s`);

      await widgets.create(widget(ns.name, 'after'));
      await waitFor(async () => (await widgets.get({ namespace: ns.name, name: 'after' })).status?.reconciledBy === 'proc-b', { description: 'proc-b to reconcile after takeover' });
    } finally {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      widgets.rest.close();
      await ns.delete();
    }
  });
});

describe('informer recovery across an apiserver restart', { skip: controlPlaneSkipReason() }, () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await useControlPlane({ private: true, crdDir: false });
    await installWidgetCrd(cp.kubeConfig);
  });
  after(async () => { await cp?.stop(); });

  it('catches up with changes made while the apiserver was down, without a process restart', async () => {
    const ns = await createTestNamespace(cp.kubeConfig, 'restart');
    const records: ReconcileRecord[] = [];
    const manager = startManager(cp, 'survivor', records, { namespace: ns.name });
    const widgets = new ResourceClient<Widget>(new KubeRest(cp.kubeConfig), widgetRef);
    try {
      await manager.start();
      await widgets.create(widget(ns.name, 'before'));
      await waitForCondition(cp.kubeConfig, { apiVersion: 'runtime.test.outrigger.dev/v1', kind: 'Widget', namespace: ns.name, name: 'before' }, 'Ready');

      await cp.restartApiServer();
      await widgets.create(widget(ns.name, 'after'));
      await widgets.mergePatch({ namespace: ns.name, name: 'before' }, { spec: { size: 7 } });
      await waitForCondition(cp.kubeConfig, { apiVersion: 'runtime.test.outrigger.dev/v1', kind: 'Widget', namespace: ns.name, name: 'after' }, 'Ready', 'True', { timeoutMs: 60_000 });
      await waitFor(async () => (await widgets.get({ namespace: ns.name, name: 'before' })).status?.size === 7, { description: 'the edit made after the restart to be reconciled', timeoutMs: 60_000 });
    } finally {
      await manager.stop();
      widgets.rest.close();
      await ns.delete();
    }
  });
});
