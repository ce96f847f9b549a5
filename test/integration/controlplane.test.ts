// Proves the control-plane fixture itself: the right Kubernetes version answers, the CRDs are
// usable, authentication and RBAC are real, namespaces isolate tests, and an apiserver restart
// breaks watches and comes back with the same data.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  ApiException,
  AuthenticationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  RbacAuthorizationV1Api,
  VersionApi,
  Watch,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import {
  controlPlaneSkipReason,
  createTestNamespace,
  useControlPlane,
  type ControlPlane,
} from '../fixtures/controlplane.ts';
import { installCrds, readCrdDocuments } from '../controlplane/crds.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';

const KUBE_VERSION = 'v1.36.3';
const skip = controlPlaneSkipReason();

/** A throwaway kind with a status subresource, to exercise waitForCondition on a real apiserver. */
const PROBE_CRD: V1CustomResourceDefinition = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'probes.fixtures.test.outrigger.dev' },
  spec: {
    group: 'fixtures.test.outrigger.dev',
    scope: 'Namespaced',
    names: { plural: 'probes', singular: 'probe', kind: 'Probe', listKind: 'ProbeList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              status: {
                type: 'object',
                properties: {
                  conditions: {
                    type: 'array',
                    items: {
                      type: 'object',
                      required: ['type', 'status'],
                      properties: {
                        type: { type: 'string' },
                        status: { type: 'string' },
                        reason: { type: 'string' },
                        message: { type: 'string' },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

/** A kubeconfig for the same server that authenticates with `token` instead of the admin token. */
function kubeConfigWithToken(admin: KubeConfig, token: string): KubeConfig {
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'sa', token }],
    contexts: [{ name: 'sa', cluster: cluster.name, user: 'sa' }],
    currentContext: 'sa',
  });
  return kc;
}

describe('shared control plane', { skip }, () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await useControlPlane();
  });
  after(async () => {
    await cp?.stop();
  });

  it(`serves /version ${KUBE_VERSION} and kubectl is the same version`, async () => {
    const version = await cp.kubeConfig.makeApiClient(VersionApi).getCode();
    assert.equal(version.gitVersion, KUBE_VERSION);
    const res = await cp.kubectl(['version', '--output=json']);
    assert.equal(res.code, 0, res.stderr);
    const both = JSON.parse(res.stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
    assert.equal(both.clientVersion.gitVersion, KUBE_VERSION);
    assert.equal(both.serverVersion.gitVersion, KUBE_VERSION);
  });

  it('has every CRD in crds/ Established and served', async (t) => {
    const crds = readCrdDocuments(join(import.meta.dirname, '..', '..', 'crds'));
    if (crds.length === 0) {
      t.skip('no CRD YAML in crds/ yet');
      return;
    }
    const api = cp.kubeConfig.makeApiClient(ApiextensionsV1Api);
    for (const crd of crds) {
      const current = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
      const established = current.status?.conditions?.find((c) => c.type === 'Established');
      assert.equal(established?.status, 'True', `${crd.metadata!.name} is not Established`);
      const res = await cp.kubectl(['get', crd.spec.names.plural, '--all-namespaces', '--output=name']);
      assert.equal(res.code, 0, `kubectl get ${crd.spec.names.plural}: ${res.stderr}`);
    }
  });

  it('rejects an unknown token', async () => {
    const stranger = kubeConfigWithToken(cp.kubeConfig, 'not-a-token');
    await assert.rejects(
      stranger.makeApiClient(CoreV1Api).listNamespace(),
      (err: unknown) => err instanceof ApiException && err.code === 401,
    );
  });

  it('issues ServiceAccount tokens that RBAC judges', async () => {
    const ns = await createTestNamespace(cp.kubeConfig, 'rbac');
    try {
      const core = cp.kubeConfig.makeApiClient(CoreV1Api);
      await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: 'robot' } } });
      const request = await cp.kubeConfig.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
        namespace: ns.name,
        name: 'robot',
        body: { spec: { audiences: [], expirationSeconds: 600 } },
      });
      const token = request.status?.token;
      assert.ok(token, 'TokenRequest returned no token');

      const robot = kubeConfigWithToken(cp.kubeConfig, token).makeApiClient(CoreV1Api);
      const review = await cp.kubeConfig.makeApiClient(AuthenticationV1Api).createTokenReview({ body: { spec: { token } } });
      assert.equal(review.status?.user?.username, `system:serviceaccount:${ns.name}:robot`);
      await assert.rejects(
        robot.listNamespacedConfigMap({ namespace: ns.name }),
        (err: unknown) => err instanceof ApiException && err.code === 403,
        'a ServiceAccount without any binding must be forbidden',
      );

      const rbac = cp.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
      await rbac.createNamespacedRole({
        namespace: ns.name,
        body: {
          metadata: { name: 'read-configmaps' },
          rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
        },
      });
      await rbac.createNamespacedRoleBinding({
        namespace: ns.name,
        body: {
          metadata: { name: 'robot-reads-configmaps' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-configmaps' },
          subjects: [{ kind: 'ServiceAccount', name: 'robot', namespace: ns.name }],
        },
      });
      // RBAC reads bindings through an informer: the grant takes effect shortly, not instantly.
      const list = await waitFor(() => robot.listNamespacedConfigMap({ namespace: ns.name }), {
        description: 'the RoleBinding to let the ServiceAccount list configmaps',
      });
      assert.ok(Array.isArray(list.items));
      await assert.rejects(
        robot.listNamespacedSecret({ namespace: ns.name }),
        (err: unknown) => err instanceof ApiException && err.code === 403,
        'the Role grants configmaps only',
      );
    } finally {
      await ns.delete();
    }
  });

  it('gives each test its own namespace', async () => {
    const a = await createTestNamespace(cp.kubeConfig, 'Same Prefix!');
    const b = await createTestNamespace(cp.kubeConfig, 'Same Prefix!');
    try {
      assert.notEqual(a.name, b.name);
      assert.match(a.name, /^same-prefix-[0-9a-f]{8}$/);
      const core = cp.kubeConfig.makeApiClient(CoreV1Api);
      await core.createNamespacedConfigMap({ namespace: a.name, body: { metadata: { name: 'only-in-a' } } });
      const inB = await core.listNamespacedConfigMap({ namespace: b.name });
      assert.equal(inB.items.filter((c) => c.metadata?.name === 'only-in-a').length, 0);
    } finally {
      await a.delete();
      await b.delete();
    }
  });

  it('waits for a condition written through the status subresource, and names it on timeout', async () => {
    await installCrds(cp.kubeConfig, [PROBE_CRD]);
    const ns = await createTestNamespace(cp.kubeConfig, 'wait');
    try {
      const objects = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
      const ref = { apiVersion: 'fixtures.test.outrigger.dev/v1', kind: 'Probe', namespace: ns.name, name: 'p' };
      const created = await objects.create({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: 'p', namespace: ns.name } });

      const waiting = waitForCondition(cp.kubeConfig, ref, 'Ready', 'True', { timeoutMs: 20_000 });
      const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
      await custom.replaceNamespacedCustomObjectStatus({
        group: 'fixtures.test.outrigger.dev',
        version: 'v1',
        namespace: ns.name,
        plural: 'probes',
        name: 'p',
        body: {
          ...created,
          status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Probed', message: 'fine' }] },
        },
      });
      const seen = await waiting;
      assert.equal(seen.status?.conditions?.[0]?.reason, 'Probed');

      await assert.rejects(
        waitForCondition(cp.kubeConfig, ref, 'Ready', 'False', { timeoutMs: 600 }),
        (err: Error) =>
          err.message.includes(`Probe ${ns.name}/p to have condition Ready=False`) &&
          err.message.includes('Ready=True (reason Probed: fine)'),
      );
    } finally {
      await ns.delete();
    }
  });

  it('refuses to restart a shared control plane', async (t) => {
    if (!cp.shared) {
      t.skip('this run has a private control plane (file run alone)');
      return;
    }
    await assert.rejects(cp.restartApiServer(), /shared control plane/);
  });
});

describe('private control plane', { skip }, () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await useControlPlane({ private: true, crdDir: false });
    process.stderr.write(`private control plane started in ${cp.startupMs} ms\n`);
  });
  after(async () => {
    await cp?.stop();
  });

  it('restarts the apiserver: open watches end, data survives, the API answers again', async () => {
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'survives-restart' }, data: { k: 'v' } },
    });

    let watchEnded = false;
    const watch = new Watch(cp.kubeConfig);
    await watch.watch(
      '/api/v1/namespaces/default/configmaps',
      {},
      () => {},
      () => {
        watchEnded = true;
      },
    );

    await cp.restartApiServer();
    await waitFor(() => watchEnded, { description: 'the watch opened before the restart to end' });

    const cm = await core.readNamespacedConfigMap({ namespace: 'default', name: 'survives-restart' });
    assert.equal(cm.data?.k, 'v');
    const version = await cp.kubeConfig.makeApiClient(VersionApi).getCode();
    assert.equal(version.gitVersion, KUBE_VERSION);
  });

  it('refuses connections while the apiserver is stopped', async () => {
    await cp.stopApiServer();
    await assert.rejects(cp.kubeConfig.makeApiClient(VersionApi).getCode());
    await cp.startApiServer();
    const version = await cp.kubeConfig.makeApiClient(VersionApi).getCode();
    assert.equal(version.gitVersion, KUBE_VERSION);
  });
});

describe('stop()', { skip }, () => {
  it('kills every process it started and removes its directory', async () => {
    const cp = await useControlPlane({ private: true, crdDir: false });
    const dir = join(cp.kubeconfigPath, '..');
    const pids = await processesUsing(dir);
    assert.ok(pids.length >= 2, `expected etcd and kube-apiserver under ${dir}, found ${pids.length}`);
    await cp.stop();
    assert.equal(existsSync(dir), false, `${dir} still exists`);
    assert.deepEqual(await processesUsing(dir), []);
  });
});

/** Pids of live processes whose command line mentions `dir` (etcd and kube-apiserver name it). */
async function processesUsing(dir: string): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const zombie = stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
      if (!zombie && cmdline.includes(dir)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}
