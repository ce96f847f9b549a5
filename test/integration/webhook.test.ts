// The admission webhook as kube-apiserver calls it: `outrigger webhook` runs as a process on
// 127.0.0.1 with self-managed certificates, webhook configurations point at it with `url:`, the
// process writes their caBundle, and kubectl requests are rejected or defaulted by it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { KubeApiError, KubeRest } from '../../controller/kube/rest.ts';
import { ResourceClient } from '../../controller/kube/resource.ts';
import { silentLogger } from '../../controller/logger.ts';
import { inspectCertificate } from '../../pki/authority.ts';
import { SelfManagedCertificates, bundleFromSecret, mutatingRef, validatingRef } from '../../webhooks/tls/self-managed.ts';
import { freePort } from '../controlplane/launch.ts';
import { startProcess, type ManagedProcess } from '../controlplane/process.ts';
import { controlPlaneSkipReason, createTestNamespace, useControlPlane, type ControlPlane } from '../fixtures/controlplane.ts';
import { waitFor } from '../fixtures/wait.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONFIG = 'webhook-test.outrigger.dev';
const SECRET = 'outrigger-webhook-tls';
const hostKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

function webhookConfigurations(port: number) {
  const hook = (kind: string, name: string, path: string) => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind,
    metadata: { name: CONFIG },
    webhooks: [{
      name,
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Fail',
      timeoutSeconds: 10,
      rules: [{ apiGroups: ['outrigger.dev'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['hosts', 'proxmoxclusters', 'workspaces', 'proxyroutes', 'labs', 'alerts'], scope: 'Namespaced' }],
      clientConfig: { url: `https://127.0.0.1:${port}${path}` },
    }],
  });
  return [hook('ValidatingWebhookConfiguration', 'validate.outrigger.dev', '/validate'), hook('MutatingWebhookConfiguration', 'default.outrigger.dev', '/mutate')]
    .map((o) => stringify(o)).join('---\n');
}

describe('admission webhook behind kube-apiserver', { skip: controlPlaneSkipReason() }, () => {
  let cp: ControlPlane;
  let dir: string;
  let port: number;
  let webhook: ManagedProcess | undefined;
  let rest: KubeRest;
  let ns: string;
  const certNamespace = 'outrigger-webhook-test';

  const startWebhook = () => {
    webhook = startProcess('webhook', process.execPath, [
      join(ROOT, 'bin', 'outrigger.ts'), 'webhook',
      `--kubeconfig=${cp.kubeconfigPath}`,
      `--bind-address=127.0.0.1:${port}`,
      '--http-bind-address=off',
      `--namespace=${certNamespace}`,
      `--cert-secret=${SECRET}`,
      '--tls-san=127.0.0.1',
      `--validating-webhook-configuration=${CONFIG}`,
      `--mutating-webhook-configuration=${CONFIG}`,
    ], { logPath: join(dir, 'webhook.log'), cwd: ROOT });
  };

  const caBundles = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const ref of [validatingRef, mutatingRef]) {
      const config = await new ResourceClient<any>(rest, ref).get({ name: CONFIG });
      out.push(config.webhooks[0].clientConfig.caBundle ?? '');
    }
    return out;
  };

  const apply = (manifest: object, args: string[] = []) => cp.kubectl(['apply', '-n', ns, ...args, '-f', '-'], { input: stringify(manifest) });

  /** The API server's answer to a create, as a client sees it: kubectl prints the causes, the status message says who denied. */
  const createRejection = async (manifest: { kind: string; metadata: { name: string } }) => {
    const plural = `${manifest.kind.toLowerCase()}s`;
    try {
      await new ResourceClient<any>(rest, { group: 'outrigger.dev', version: 'v1alpha1', plural, kind: manifest.kind, namespaced: true }).create({ ...manifest, metadata: { ...manifest.metadata, namespace: ns } } as any);
    } catch (err) {
      if (err instanceof KubeApiError) return err;
      throw err;
    }
    throw new Error(`${manifest.kind} ${manifest.metadata.name} was admitted`);
  };

  before(async () => {
    // A private control plane: webhook configurations apply cluster-wide and must not reach other tests.
    cp = await useControlPlane({ private: true });
    dir = mkdtempSync(join(tmpdir(), 'outrigger-webhook-test-'));
    rest = new KubeRest(cp.kubeConfig);
    port = await freePort();
    await cp.kubectl(['create', 'namespace', certNamespace]);
    const created = await cp.kubectl(['apply', '-f', '-'], { input: webhookConfigurations(port) });
    assert.equal(created.code, 0, created.stderr);
    startWebhook();
    await waitFor(async () => (await caBundles()).every((b) => b.length > 0), { description: 'the webhook to write the caBundle', timeoutMs: 30_000 });
    ns = (await createTestNamespace(cp.kubeConfig, 'webhook')).name;
    // kube-apiserver picks configuration changes up from a watch: wait until it calls the webhook.
    await waitFor(async () => {
      const r = await cp.kubectl(['create', '-n', ns, '--dry-run=server', '-f', '-'], { input: stringify({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', metadata: { name: 'probe' }, spec: { docker: { unix: {} } } }) });
      return r.code === 0 ? true : (() => { throw new Error(r.stderr); })();
    }, { description: 'kube-apiserver to reach the webhook', timeoutMs: 30_000 });
  });

  after(async () => {
    await webhook?.stop();
    rest?.close();
    await cp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes a CA bundle that kube-apiserver trusts, and keeps the certificate in a Secret', async () => {
    const secret = await new ResourceClient<any>(rest, { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true }).get({ namespace: certNamespace, name: SECRET });
    assert.equal(secret.type, 'kubernetes.io/tls');
    const bundle = bundleFromSecret(secret)!;
    assert.ok(inspectCertificate(bundle.serving.certPem).names.includes('127.0.0.1'));
    const [validating, mutating] = await caBundles();
    assert.equal(Buffer.from(validating!, 'base64').toString(), `${bundle.ca.certPem.trim()}\n`);
    assert.equal(mutating, validating);
  });

  it('rejects a bad resource with the webhook\'s message, naming the field and the fix', async () => {
    const bare = { apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', metadata: { name: 'bare' }, spec: { address: '192.0.2.20', ssh: { user: 'ops', privateKeySecretRef: { name: 'bare-ssh' }, hostKey } } };
    assert.equal((await apply(bare)).code, 0);
    const bad = { apiVersion: 'outrigger.dev/v1alpha1', kind: 'Workspace', metadata: { name: 'bad' }, spec: { owner: 'alice', runtime: { docker: { hostRef: { name: 'bare' }, image: 'debian:12' } } } };
    const message = 'spec.runtime.docker.hostRef: Host "bare" has no spec.docker, so it cannot run a Workspace container: set spec.docker on Host "bare" or refer to a Host that has it';
    const r = await apply(bad);
    assert.notEqual(r.code, 0, 'rejected');
    assert.equal(r.stderr.trim(), `The Workspace "bad" is invalid: ${message}`);
    const rejection = await createRejection(bad);
    assert.equal(rejection.statusCode, 422);
    assert.equal(rejection.status.message, `admission webhook "validate.outrigger.dev" denied the request: ${message}`);
    assert.deepEqual(rejection.status.details?.causes?.map((c) => c.field), ['spec.runtime.docker.hostRef']);
    const gone = await cp.kubectl(['get', '-n', ns, 'workspace', 'bad']);
    assert.notEqual(gone.code, 0, 'nothing was stored');
  });

  it('rejects a second ProxyRoute claiming a server name on the same Host', async () => {
    const edge = { apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', metadata: { name: 'edge' }, spec: { address: '192.0.2.10', ssh: { user: 'ops', privateKeySecretRef: { name: 'edge-ssh' }, hostKey }, nginx: {} } };
    const route = (name: string, path: string) => ({
      apiVersion: 'outrigger.dev/v1alpha1',
      kind: 'ProxyRoute',
      metadata: { name },
      spec: { hostRef: { name: 'edge' }, serverNames: ['shop.example.com'], routes: [{ path, upstream: { address: '127.0.0.1', port: 8080 } }] },
    });
    assert.equal((await apply(edge)).code, 0);
    const first = await apply(route('shop', '/'));
    assert.equal(first.code, 0, first.stderr);
    const second = await apply(route('shop-api', '/api'));
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /The ProxyRoute "shop-api" is invalid: spec\.serverNames\[0\]: "shop\.example\.com" is already served on Host "edge" by ProxyRoute "shop" \(paths \/\); a server name belongs to one ProxyRoute per Host: add your paths to spec\.routes of ProxyRoute "shop" or choose another name/);
  });

  it('defaults a good resource: fills what is unset, keeps what is set', async () => {
    const r = await apply({
      apiVersion: 'outrigger.dev/v1alpha1',
      kind: 'Workspace',
      metadata: { name: 'good' },
      spec: { owner: 'alice', user: { name: 'coder' }, runtime: { docker: { hostRef: { name: 'local' }, image: 'debian:12', pullPolicy: 'Never' } } },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Warning: spec\.runtime\.docker\.hostRef: Host "local" does not exist in namespace "[a-z0-9-]+" yet; this Workspace stays not Ready until it does/);
    const got = await cp.kubectl(['get', '-n', ns, 'workspace', 'good', '-o', 'json']);
    const spec = JSON.parse(got.stdout).spec;
    assert.equal(spec.home.mountPath, '/home/coder', 'the webhook filled the mount path from the user name');
    assert.equal(spec.runtime.docker.pullPolicy, 'Never', 'a value the user set is kept');
    assert.equal(spec.user.uid, 1000);
  });

  it('never blocks a metadata-only update, even when a reference went bad since', async () => {
    const host = { apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', metadata: { name: 'shifty' }, spec: { docker: { unix: {} } } };
    assert.equal((await apply(host)).code, 0);
    const ws = { apiVersion: 'outrigger.dev/v1alpha1', kind: 'Workspace', metadata: { name: 'pinned' }, spec: { owner: 'alice', runtime: { docker: { hostRef: { name: 'shifty' }, image: 'debian:12' } } } };
    assert.equal((await apply(ws)).code, 0);
    const lostDocker = await apply({ ...host, spec: { address: '192.0.2.30', ssh: { user: 'ops', privateKeySecretRef: { name: 's' }, hostKey } } });
    assert.equal(lostDocker.code, 0, lostDocker.stderr);
    const labelled = await cp.kubectl(['label', '-n', ns, 'workspace', 'pinned', 'team=blue']);
    assert.equal(labelled.code, 0, labelled.stderr);
    const finalizer = await cp.kubectl(['patch', '-n', ns, 'workspace', 'pinned', '--type=merge', '-p', '{"metadata":{"finalizers":["outrigger.dev/cleanup"]}}']);
    assert.equal(finalizer.code, 0, finalizer.stderr);
  });

  it('keeps admission working through a CA renewal: the old CA stays trusted until replicas switch', async () => {
    const before = Buffer.from((await caBundles())[0]!, 'base64').toString();
    // Another replica renews the CA now (a policy under which the CA is always due).
    const renewer = new SelfManagedCertificates({
      rest,
      logger: silentLogger,
      namespace: certNamespace,
      secretName: SECRET,
      names: ['127.0.0.1'],
      configurations: { validating: [CONFIG], mutating: [CONFIG] },
      policy: { caDays: 3650, caRenewBeforeDays: 3650, servingDays: 365, servingRenewBeforeDays: 60 },
    });
    const renewed = await renewer.sync();
    assert.equal(renewed.previousCaPem?.trim(), before.trim());
    const after = Buffer.from((await caBundles())[0]!, 'base64').toString();
    assert.ok(after.includes(before.trim()) && after.includes(renewed.ca.certPem.trim()), 'both CAs are trusted');

    const probe = (name: string) => apply({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', metadata: { name }, spec: { docker: { unix: {} } } });
    // The running process still serves its certificate from the old CA.
    const stillOld = await probe('during-renewal');
    assert.equal(stillOld.code, 0, stillOld.stderr);

    // A restarted replica serves the renewed certificate, signed by the new CA.
    await webhook!.stop();
    startWebhook();
    await waitFor(async () => (await probe('after-restart')).code === 0, { description: 'the restarted webhook to admit again', timeoutMs: 30_000 });
    const secret = bundleFromSecret(await new ResourceClient<any>(rest, { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true }).get({ namespace: certNamespace, name: SECRET }));
    assert.equal(secret?.ca.certPem, renewed.ca.certPem, 'the restarted replica adopted the renewed certificates instead of issuing its own');
  });

  it('refuses unknown fields through the API server before the webhook sees them (strict field validation)', async () => {
    const r = await apply({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', metadata: { name: 'typo' }, spec: { docker: { unix: {} }, adress: '192.0.2.1' } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown field "spec\.adress"/);
  });
});
