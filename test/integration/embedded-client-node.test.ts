// The embedded API server driven by @kubernetes/client-node, the way the controller drives it:
// typed core clients, KubernetesObjectApi for custom resources (including server-side apply),
// leases for leader election, and an informer that must survive a server restart. Then the
// controller-manager duties the embedded server does itself: garbage collection by
// ownerReferences, namespace deletion, CRD deletion.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  makeInformer,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { createNamespace, startEmbeddedTarget, type EmbeddedTarget } from './embedded-target.ts';
import { widget } from './embedded-scenarios.ts';
import { waitFor } from '../fixtures/wait.ts';

type Widget = KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

async function apiError(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiException) {
      return { code: err.code, body: typeof err.body === 'string' ? (JSON.parse(err.body) as Record<string, unknown>) : (err.body as Record<string, unknown>) };
    }
    throw err;
  }
  throw new Error('expected the request to fail');
}

describe('embedded API server with @kubernetes/client-node', () => {
  let t: EmbeddedTarget;
  let core: CoreV1Api;
  let objects: KubernetesObjectApi;
  before(async () => {
    t = await startEmbeddedTarget({ bookmarkIntervalMs: 500 });
    core = t.kubeConfig.makeApiClient(CoreV1Api);
    objects = KubernetesObjectApi.makeApiClient(t.kubeConfig);
  });
  after(async () => {
    await t?.stop();
    if (t) rmSync(t.stateDir, { recursive: true, force: true }); // kept for the restart test
  });

  it('creates, reads, patches and deletes custom resources; errors are ApiExceptions with a Status', async () => {
    const ns = await createNamespace(t, 'cn');
    const created = (await objects.create(widget('w1', { size: 'small' }, { namespace: ns }))) as Widget;
    assert.equal(created.metadata?.generation, 1);
    assert.deepEqual(created.spec, { size: 'small', replicas: 1 });
    const read = (await objects.read({ apiVersion: 'conformance.outrigger.dev/v1', kind: 'Widget', metadata: { name: 'w1', namespace: ns } })) as Widget;
    assert.equal(read.metadata?.uid, created.metadata?.uid);
    const patched = (await objects.patch(
      { apiVersion: 'conformance.outrigger.dev/v1', kind: 'Widget', metadata: { name: 'w1', namespace: ns }, spec: { replicas: 4 } },
      undefined,
      undefined,
      'tester',
      undefined,
      PatchStrategy.MergePatch,
    )) as Widget;
    assert.equal(patched.spec?.replicas, 4);
    assert.equal(patched.metadata?.generation, 2);
    assert.ok(Number(patched.metadata?.resourceVersion) > Number(created.metadata?.resourceVersion));

    const smp = await apiError(objects.patch({ apiVersion: 'conformance.outrigger.dev/v1', kind: 'Widget', metadata: { name: 'w1', namespace: ns }, spec: {} }));
    assert.equal(smp.code, 415, 'client-node’s default strategic merge patch is refused for custom resources, as by kube-apiserver');
    const invalid = await apiError(objects.create(widget('w2', { size: 'huge' }, { namespace: ns })));
    assert.equal(invalid.code, 422);
    assert.equal(invalid.body.reason, 'Invalid');
    await objects.delete({ apiVersion: 'conformance.outrigger.dev/v1', kind: 'Widget', metadata: { name: 'w1', namespace: ns } });
    const gone = await apiError(objects.read({ apiVersion: 'conformance.outrigger.dev/v1', kind: 'Widget', metadata: { name: 'w1', namespace: ns } }));
    assert.equal(gone.code, 404);
  });

  it('server-side apply through client-node, with conflicts and force', async () => {
    const ns = await createNamespace(t, 'ssa');
    const apply = (manager: string, spec: Record<string, unknown>, force?: boolean) =>
      objects.patch(widget('a', spec, { namespace: ns }), undefined, undefined, manager, force, PatchStrategy.ServerSideApply) as Promise<Widget>;
    await apply('controller', { size: 'small', replicas: 2 });
    const conflict = await apiError(apply('user', { size: 'large' }));
    assert.equal(conflict.code, 409);
    assert.equal(conflict.body.message, 'Apply failed with 1 conflict: conflict with "controller": .spec.size');
    const forced = await apply('user', { size: 'large' }, true);
    assert.equal(forced.spec?.size, 'large');
    assert.deepEqual(forced.metadata?.managedFields?.map((m) => m.manager).sort(), ['controller', 'user']);
  });

  it('lists in pages with continue tokens that stay consistent', async () => {
    const ns = await createNamespace(t, 'page');
    const custom = t.kubeConfig.makeApiClient(CustomObjectsApi);
    for (let i = 0; i < 7; i++) await objects.create(widget(`p${i}`, { size: 'small' }, { namespace: ns }));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = (await custom.listNamespacedCustomObject({ group: 'conformance.outrigger.dev', version: 'v1', namespace: ns, plural: 'widgets', limit: 3, ...(token ? { _continue: token } : {}) })) as {
        items: Widget[];
        metadata: { continue?: string };
      };
      seen.push(...page.items.map((i) => i.metadata!.name!));
      token = page.metadata.continue || undefined;
      if (pages === 0) await objects.create(widget('p9', { size: 'small' }, { namespace: ns })); // not in this listing
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
  });

  it('core kinds: secrets (stringData folded into data), configmaps, events, and leases with optimistic concurrency', async () => {
    const ns = await createNamespace(t, 'core');
    const secret = await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 's' }, stringData: { password: 'pw' } } });
    assert.deepEqual(secret.data, { password: Buffer.from('pw').toString('base64') });
    assert.equal(secret.type, 'Opaque');
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'c', labels: { app: 'x' } }, data: { a: '1' } } });
    const cms = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'app=x' });
    assert.deepEqual(cms.items.map((c) => c.metadata?.name), ['c']);
    await core.createNamespacedEvent({
      namespace: ns,
      body: { metadata: { name: 'e' }, involvedObject: { kind: 'Widget', name: 'w', namespace: ns }, reason: 'Tested', message: 'hi', type: 'Normal' },
    });
    const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=w' });
    assert.deepEqual(events.items.map((e) => e.reason), ['Tested']);

    const leases = t.kubeConfig.makeApiClient(CoordinationV1Api);
    const lease = await leases.createNamespacedLease({ namespace: ns, body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } } });
    const renewed = await leases.replaceNamespacedLease({ name: 'leader', namespace: ns, body: { ...lease, spec: { ...lease.spec, holderIdentity: 'a', renewTime: new Date() } } });
    const stale = await apiError(leases.replaceNamespacedLease({ name: 'leader', namespace: ns, body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } } }));
    assert.equal(stale.code, 409, 'a second candidate with the old resourceVersion loses');
    assert.equal(renewed.spec?.holderIdentity, 'a');
  });

  it('an informer sees adds, updates and deletes, and recovers after the server restarts', async () => {
    const ns = await createNamespace(t, 'inf');
    const path = `/apis/conformance.outrigger.dev/v1/namespaces/${ns}/widgets`;
    const custom = t.kubeConfig.makeApiClient(CustomObjectsApi);
    const informer = makeInformer<Widget>(t.kubeConfig, path, () =>
      custom.listNamespacedCustomObject({ group: 'conformance.outrigger.dev', version: 'v1', namespace: ns, plural: 'widgets' }) as never,
    );
    const log: string[] = [];
    informer.on('add', (o) => log.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => log.push(`update ${o.metadata?.name} ${String(o.spec?.replicas)}`));
    informer.on('delete', (o) => log.push(`delete ${o.metadata?.name}`));
    // client-node stops on connection errors; a controller restarts it, as here.
    let stopped = false;
    informer.on('error', () =>
      setTimeout(() => {
        if (!stopped) void informer.start().catch(() => {});
      }, 200),
    );
    await informer.start();
    try {
      await objects.create(widget('i1', { size: 'small' }, { namespace: ns }));
      await objects.patch(widget('i1', { replicas: 3 }, { namespace: ns }), undefined, undefined, 't', undefined, PatchStrategy.MergePatch);
      await objects.create(widget('i2', { size: 'small' }, { namespace: ns }));
      await objects.delete(widget('i2', {}, { namespace: ns }));
      await waitFor(() => log.includes('delete i2'), { description: 'the informer to see i2 deleted' });
      assert.deepEqual(log.slice(0, 4), ['add i1', 'update i1 3', 'add i2', 'delete i2']);

      // Restart the server on the same port and state: the watch breaks; the informer comes back
      // and sees what changed meanwhile (the old resourceVersion is too old for the new server's
      // watch history, so it relists).
      const { port } = t.server;
      await t.server.close();
      const restarted = await startEmbeddedTarget({ stateDir: t.stateDir, port, keepState: true });
      t.server = restarted.server;
      await objects.create(widget('i3', { size: 'large' }, { namespace: ns }));
      await waitFor(() => informer.get('i3', ns), { description: 'the informer to see i3 after the restart', timeoutMs: 20_000 });
      assert.deepEqual(informer.list(ns).map((w) => w.metadata?.name).sort(), ['i1', 'i3']);
    } finally {
      stopped = true;
      await informer.stop();
    }
  });

  it('garbage-collects dependents whose owner is deleted, and orphans them on request', async () => {
    const ns = await createNamespace(t, 'gc');
    const owner = (await objects.create(widget('owner', { size: 'small' }, { namespace: ns }))) as Widget;
    const ref = { apiVersion: 'conformance.outrigger.dev/v1', kind: 'Widget', name: 'owner', uid: owner.metadata!.uid! };
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'dep', ownerReferences: [ref] } } });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'dep-secret', ownerReferences: [ref] } } });
    await objects.delete(widget('owner', {}, { namespace: ns }));
    await waitFor(async () => (await core.listNamespacedConfigMap({ namespace: ns })).items.length === 0, { description: 'the dependent ConfigMap to be collected' });
    await waitFor(async () => (await core.listNamespacedSecret({ namespace: ns })).items.length === 0, { description: 'the dependent Secret to be collected' });

    const owner2 = (await objects.create(widget('owner2', { size: 'small' }, { namespace: ns }))) as Widget;
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'kept', ownerReferences: [{ ...ref, name: 'owner2', uid: owner2.metadata!.uid! }] } },
    });
    await objects.delete(widget('owner2', {}, { namespace: ns }), undefined, undefined, undefined, undefined, 'Orphan');
    await waitFor(async () => {
      try {
        await objects.read(widget('owner2', {}, { namespace: ns }));
        return false;
      } catch {
        return true;
      }
    }, { description: 'the orphaning owner to go' });
    const kept = await core.readNamespacedConfigMap({ name: 'kept', namespace: ns });
    assert.equal(kept.metadata?.ownerReferences, undefined, 'the dependent stays, without the reference');
  });

  it('deleting a namespace deletes what is in it, waiting for finalizers, then the namespace', async () => {
    const ns = await createNamespace(t, 'nsdel');
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'c' } } });
    await objects.create(widget('held', { size: 'small' }, { namespace: ns, finalizers: ['example.com/hold'] }));
    await core.deleteNamespace({ name: ns });
    await waitFor(async () => (await core.listNamespacedConfigMap({ namespace: ns })).items.length === 0, { description: 'the ConfigMap to be deleted' });
    const held = (await objects.read(widget('held', {}, { namespace: ns }))) as Widget;
    assert.ok(held.metadata?.deletionTimestamp, 'the held widget is marked for deletion');
    assert.equal((await core.readNamespace({ name: ns })).status?.phase, 'Terminating');
    await objects.patch(
      { apiVersion: 'conformance.outrigger.dev/v1', kind: 'Widget', metadata: { name: 'held', namespace: ns, finalizers: null as unknown as string[] } },
      undefined,
      undefined,
      't',
      undefined,
      PatchStrategy.MergePatch,
    );
    await waitFor(async () => (await apiError(core.readNamespace({ name: ns }))).code === 404, { description: 'the namespace to go' });
  });

  it('a CRD created through the API is served at once, and deleting it deletes its objects', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'gizmos.tmp.example.com' },
      spec: {
        group: 'tmp.example.com',
        names: { plural: 'gizmos', kind: 'Gizmo' },
        scope: 'Cluster',
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { n: { type: 'integer' } } } } } } }],
      },
    };
    await objects.create(crd);
    const g = (await objects.create({ apiVersion: 'tmp.example.com/v1', kind: 'Gizmo', metadata: { name: 'g1' }, spec: { n: 1 } } as KubernetesObject)) as Widget;
    assert.equal(g.metadata?.generation, 1);
    await objects.delete(crd);
    await waitFor(async () => (await t.request('GET', '/apis/tmp.example.com/v1')).code === 404, { description: 'the gizmo API to go' });
    const reread = await t.request('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.tmp.example.com');
    assert.equal(reread.code, 404);
  });
});
