// The Outrigger API on a real kube-apiserver: the generated CRDs are accepted as structural and
// Established, every example applies, every invalid manifest is rejected with an error naming the
// field, and kubectl's get, explain and wait work the way the README promises.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, CustomObjectsApi, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { controlPlaneSkipReason, createTestNamespace, useControlPlane, type ControlPlane, type TestNamespace } from '../fixtures/controlplane.ts';
import { allKinds, GROUP, VERSION, kindDefinition } from '../../crds/index.ts';
import { buildCrd, crdName } from '../../crds/generate.ts';
import { EXAMPLES_DIR, invalidCases, loadExamples } from '../unit/crds-cases.ts';

const skip = controlPlaneSkipReason();

function errorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = typeof err.body === 'string' ? (JSON.parse(err.body) as { message?: string }) : (err.body as { message?: string });
    return body?.message ?? err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

describe('Outrigger CRDs on kube-apiserver', { skip }, () => {
  let cp: ControlPlane;
  let ns: TestNamespace;
  const examples = loadExamples();
  const outriggerExamples = examples.filter((e) => e.manifest.apiVersion === `${GROUP}/${VERSION}`);

  before(async () => {
    cp = await useControlPlane();
    ns = await createTestNamespace(cp.kubeConfig, 'crds');
  });
  after(async () => {
    await ns?.delete();
    await cp?.stop();
  });

  it('installs every CRD as structural and Established, exactly as generated', async () => {
    for (const def of allKinds) {
      // Raw JSON from kubectl: client-node's models rename x-kubernetes-* fields.
      const res = await cp.kubectl(['get', 'crd', crdName(def), '-o', 'json']);
      assert.equal(res.code, 0, res.stderr);
      const crd = JSON.parse(res.stdout) as V1CustomResourceDefinition;
      const conditions = new Map((crd.status?.conditions ?? []).map((c) => [c.type, c.status]));
      assert.equal(conditions.get('Established'), 'True', `${def.kind} Established`);
      assert.equal(conditions.get('NamesAccepted'), 'True', `${def.kind} NamesAccepted`);
      assert.notEqual(conditions.get('NonStructuralSchema'), 'True', `${def.kind} is structural`);
      const generated = buildCrd(def) as { spec: { versions: { schema: unknown }[] } };
      assert.deepEqual(
        crd.spec.versions[0]!.schema,
        generated.spec.versions[0]!.schema,
        `the installed ${def.kind} schema is the generated one (run npm run generate if not)`,
      );
    }
  });

  it('accepts every example with server-side apply and strict field validation, filling defaults', async () => {
    const res = await cp.kubectl(['apply', '--server-side', '--field-manager=quickstart', '-n', ns.name, '-f', EXAMPLES_DIR], { timeoutMs: 60_000 });
    assert.equal(res.code, 0, res.stderr);
    const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    for (const { manifest } of outriggerExamples) {
      const def = kindDefinition(manifest.kind)!;
      const stored = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: def.plural, name: manifest.metadata.name })) as {
        spec: Record<string, any>;
      };
      // What the server stored is what zod makes of the example: the same defaults on both layers.
      assert.deepEqual(stored.spec, def.spec.parse(manifest.spec), `${manifest.kind}/${manifest.metadata.name}`);
    }
  });

  it('lists every kind under kubectl get outrigger, with the printer columns', async () => {
    const res = await cp.kubectl(['get', 'outrigger', '-n', ns.name]);
    assert.equal(res.code, 0, res.stderr);
    for (const { manifest } of outriggerExamples) {
      const def = kindDefinition(manifest.kind)!;
      assert.ok(res.stdout.includes(`${def.singular}.${GROUP}/${manifest.metadata.name} `), `${manifest.kind}/${manifest.metadata.name} listed`);
    }
    const workspaces = await cp.kubectl(['get', 'ws', '-n', ns.name]);
    assert.equal(workspaces.code, 0, workspaces.stderr);
    assert.match(workspaces.stdout.split('\n')[0]!, /^NAME\s+OWNER\s+STATE\s+PHASE\s+READY\s+AGE$/);
    assert.match(workspaces.stdout, /alice\s+alice@example\.com\s+Running\s/);
  });

  it('takes status through the status subresource only, shows Ready, and kubectl wait sees it', async () => {
    const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    const ref = { group: GROUP, version: VERSION, namespace: ns.name, plural: 'hosts', name: 'local' };
    const host = (await custom.getNamespacedCustomObject(ref)) as Record<string, any>;
    const generation = host.metadata.generation as number;
    const status = {
      observedGeneration: generation,
      reachable: true,
      facts: { os: 'Debian GNU/Linux 12 (bookworm)', dockerVersion: '20.10.24', cpus: 2, memoryBytes: 4_000_000_000 },
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Available', message: 'The resource is ready', lastTransitionTime: '2030-01-01T00:00:00Z', observedGeneration: generation },
        { type: 'Synced', status: 'True', reason: 'ReconcileSuccess', message: 'The last reconcile succeeded', lastTransitionTime: '2030-01-01T00:00:00Z', observedGeneration: generation },
      ],
    };
    // A status in the main resource is ignored: only /status writes it.
    await custom.replaceNamespacedCustomObject({ ...ref, body: { ...host, status } });
    const afterMain = (await custom.getNamespacedCustomObject(ref)) as Record<string, any>;
    assert.equal(afterMain.status, undefined);
    await custom.replaceNamespacedCustomObjectStatus({ ...ref, body: { ...afterMain, status } });

    const wait = await cp.kubectl(['wait', '-n', ns.name, '--for=condition=Ready', 'host/local', '--timeout=20s']);
    assert.equal(wait.code, 0, wait.stderr);
    const get = await cp.kubectl(['get', 'host', 'local', '-n', ns.name]);
    assert.match(get.stdout.split('\n')[1]!, /^local\s+true\s+True\s/);
  });

  it('rejects every invalid manifest with an error naming the field', async () => {
    const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    const accepted: string[] = [];
    const unnamed: string[] = [];
    let index = 0;
    for (const c of invalidCases()) {
      const def = kindDefinition(c.manifest.kind)!;
      const body = { ...c.manifest, metadata: { name: `invalid-${index++}` } };
      try {
        await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: def.plural, body, fieldValidation: 'Strict' });
        accepted.push(`${c.manifest.kind}: ${c.name}`);
      } catch (err) {
        assert.ok(err instanceof ApiException && (err.code === 422 || err.code === 400), `${c.name}: expected 422 or 400, got ${String(err)}`);
        const message = errorMessage(err);
        // Field errors read "spec.x: Invalid value: ..."; unknown fields "unknown field "spec.x"".
        if (!message.includes(`${c.path}:`) && !message.includes(`"${c.path}"`)) unnamed.push(`${c.manifest.kind}: ${c.name}: wanted ${c.path} in: ${message}`);
      }
    }
    assert.deepEqual(accepted, [], 'invalid manifests the apiserver accepted');
    assert.deepEqual(unnamed, [], 'errors that do not name the field');
  });

  it('refuses to move a Workspace, ProxyRoute or Lab machine to another Host or runtime', async () => {
    const attempts: [string, string[]][] = [
      ['spec.runtime.docker.hostRef', ['ws', 'alice', '--type=merge', '-p', '{"spec":{"runtime":{"docker":{"hostRef":{"name":"edge"}}}}}']],
      ['spec.runtime', ['ws', 'alice', '--type=json', '-p', '[{"op":"remove","path":"/spec/runtime/docker"},{"op":"add","path":"/spec/runtime/proxmox","value":{"clusterRef":{"name":"pve"},"template":"debian"}}]']],
      ['spec.hostRef', ['proxyroute', 'bob', '--type=merge', '-p', '{"spec":{"hostRef":{"name":"local"}}}']],
      ['spec.machines[2].docker.hostRef', ['lab', 'web-training', '--type=json', '-p', '[{"op":"replace","path":"/spec/machines/2/docker/hostRef/name","value":"local"}]']],
    ];
    for (const [path, args] of attempts) {
      const res = await cp.kubectl(['patch', '-n', ns.name, ...args]);
      assert.notEqual(res.code, 0, `${path} changed`);
      assert.ok(res.stderr.includes(`${path}: Invalid value:`) && res.stderr.includes('delete and re-create'), res.stderr);
    }
    // Everything else stays editable.
    const stop = await cp.kubectl(['patch', '-n', ns.name, 'ws', 'alice', '--type=merge', '-p', '{"spec":{"state":"Stopped"}}']);
    assert.equal(stop.code, 0, stop.stderr);
  });

  it('shows kubectl users the field and the rule in the error', async () => {
    const bad = invalidCases().find((c) => c.name === 'address and workspaceRef together')!;
    const res = await cp.kubectl(['apply', '-n', ns.name, '-f', '-'], { input: JSON.stringify({ ...bad.manifest, metadata: { name: 'kubectl-invalid' } }) });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /spec\.routes\[0\]\.upstream: Invalid value: .*set either address and port, or workspaceRef \(not both\)/);
  });

  it('explains every field: kubectl explain workspace.spec and deeper', async () => {
    const spec = await cp.kubectl(['explain', 'workspace.spec']);
    assert.equal(spec.code, 0, spec.stderr);
    assert.match(spec.stdout, /Desired state of a Workspace\./);
    assert.match(spec.stdout, /owner\s+<string> -required-\n\s+Who the workspace belongs to/);
    assert.match(spec.stdout, /deletionPolicy\s+<string>\n\s+enum: Delete, Orphan\n\s+What happens to the external objects/);
    const path = await cp.kubectl(['explain', 'proxyroute.spec.routes.path']);
    assert.equal(path.code, 0, path.stderr);
    assert.match(path.stdout, /Path this route matches\./);
    const recursive = await cp.kubectl(['explain', 'lab.spec', '--recursive']);
    assert.equal(recursive.code, 0, recursive.stderr);
    assert.match(recursive.stdout, /dependsOn\s+<\[\]string>/);
  });
});
