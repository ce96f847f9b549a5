// The chart on a real kube-apiserver, the way a platform team runs it: `helm install`, the webhook
// and the controller as processes holding nothing but their ServiceAccounts' tokens (TokenRequest
// API), the examples applied and reconciled, no drift for `kubectl diff --server-side`, the
// checked-in `kubectl auth can-i --list`, and a `helm upgrade` that changes a CRD schema.
//
// kube-apiserver runs without kubelet or controller-manager (as envtest does), so the chart's
// Deployments are never scheduled: their processes are started here instead, with the same
// arguments and credentials. The webhook is installed with `webhook.url` pointing at the process.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, lstatSync, mkdtempSync, realpathSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { renderKubeconfig } from '../controlplane/credentials.ts';
import { freePort } from '../controlplane/launch.ts';
import { runCommand, startProcess, type ManagedProcess } from '../controlplane/process.ts';
import { controlPlaneSkipReason, useControlPlane, type ControlPlane } from '../fixtures/controlplane.ts';
import { WORKSPACE_IMAGE_ENV, dockerClient, dockerSkipReason, dockerSocket, ensureWorkspaceImage } from '../fixtures/docker.ts';
import { waitFor } from '../fixtures/wait.ts';
import { Labels } from '../../reconcilers/docker/labels.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHART = join(ROOT, 'charts', 'outrigger');
const RBAC_EXPECTED = join(ROOT, 'test', 'integration', 'rbac-expected.txt');
const RELEASE = 'outrigger';
const SYSTEM = 'outrigger-system';
const CONFIG = `${SYSTEM}-${RELEASE}.outrigger.dev`;
const RECONCILED = 'demo';
const ADMITTED = 'examples';
// What Argo CD puts on what it syncs; the controller must never copy it onto what it makes.
const TRACKING_LABEL = 'app.kubernetes.io/instance';
const TRACKING_ANNOTATION = 'argocd.argoproj.io/tracking-id';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; generation?: number; uid?: string }; spec?: any; status?: any };

function examples(files: string[]): Obj[] {
  return files.flatMap((f) => parseAllDocuments(readFileSync(join(ROOT, 'examples', f), 'utf8')).map((d) => d.toJS() as Obj)).filter(Boolean);
}

/** The header, then the rows sorted, with single spaces: kubectl aligns columns to the longest entry. */
function normalizeTable(text: string): string {
  const [header = '', ...rows] = text.split('\n').map((l) => l.trim().replace(/\s+/g, ' ')).filter(Boolean);
  // Resources first, then the non-resource URLs every account may read.
  const key = (row: string) => `${row.startsWith('[') ? 1 : 0}${row}`;
  return [header, ...rows.sort((a, b) => key(a).localeCompare(key(b)))].join('\n');
}

describe('the Helm chart on kube-apiserver', { skip: controlPlaneSkipReason() }, () => {
  let cp: ControlPlane;
  let dir: string;
  let helmEnv: NodeJS.ProcessEnv;
  let webhookPort: number;
  let installOutput = '';
  const processes: ManagedProcess[] = [];

  const helm = async (args: string[]) => {
    const r = await runCommand(join(cp.binDir, 'helm'), args, { env: helmEnv, timeoutMs: 120_000 });
    return { ...r, stderr: r.stderr.split('\n').filter((l) => !l.includes('found symbolic link in path')).join('\n').trim() };
  };
  const kubectl = async (args: string[], input?: string) => {
    const r = await cp.kubectl(args, { input, timeoutMs: 60_000 });
    return r;
  };
  const mustKubectl = async (args: string[], input?: string) => {
    const r = await kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}:\n${r.stderr}`);
    return r.stdout;
  };

  /** A kubeconfig holding only a ServiceAccount token from the TokenRequest API. */
  const serviceAccountKubeconfig = async (name: string): Promise<string> => {
    const token = (await mustKubectl(['create', 'token', name, '-n', SYSTEM, '--duration=1h'])).trim();
    const caPem = Buffer.from(cp.kubeConfig.getCurrentCluster()!.caData!, 'base64').toString();
    const path = join(dir, `${name}.kubeconfig`);
    writeFileSync(path, renderKubeconfig({ server: cp.server, caPem, token }), { mode: 0o600 });
    return path;
  };

  const start = (name: string, args: string[]): ManagedProcess => {
    const p = startProcess(name, process.execPath, [join(ROOT, 'bin', 'outrigger.ts'), ...args], { logPath: join(dir, `${name}.log`), cwd: ROOT });
    processes.push(p);
    return p;
  };
  const logOf = (name: string) => {
    try {
      return readFileSync(join(dir, `${name}.log`), 'utf8');
    } catch {
      return '';
    }
  };

  const install = (chart: string) =>
    helm(['upgrade', '--install', RELEASE, chart, '--namespace', SYSTEM, '--set', `webhook.url=https://127.0.0.1:${webhookPort}`]);

  before(async () => {
    // Its own apiserver without pre-installed CRDs: the chart installs them, and its cluster-wide
    // webhooks and roles must not reach other tests.
    cp = await useControlPlane({ private: true, crdDir: false });
    dir = mkdtempSync(join(tmpdir(), 'outrigger-helm-test-'));
    helmEnv = {
      ...process.env,
      KUBECONFIG: cp.kubeconfigPath,
      HELM_CACHE_HOME: join(dir, 'helm', 'cache'),
      HELM_CONFIG_HOME: join(dir, 'helm', 'config'),
      HELM_DATA_HOME: join(dir, 'helm', 'data'),
    };
    webhookPort = await freePort();
    await mustKubectl(['create', 'namespace', SYSTEM]);
    await mustKubectl(['label', 'namespace', SYSTEM, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/enforce-version=latest']);
    for (const ns of [RECONCILED, ADMITTED]) await mustKubectl(['create', 'namespace', ns]);
  });

  after(async () => {
    for (const p of processes.reverse()) await p.stop();
    await cp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installs with helm, and the CRDs become Established and served', async () => {
    const r = await install(CHART);
    assert.equal(r.code, 0, r.stderr);
    installOutput = r.stdout;
    assert.match(installOutput, /STATUS: deployed/);
    await mustKubectl(['wait', '--for=condition=Established', 'crd', '-l', 'app.kubernetes.io/part-of=outrigger', '--timeout=60s']);
    const crds = (await mustKubectl(['get', 'crd', '-l', 'app.kubernetes.io/part-of=outrigger', '-o', 'name'])).trim().split('\n').sort();
    assert.deepEqual(crds, ['alerts', 'hosts', 'labs', 'proxmoxclusters', 'proxyroutes', 'workspaces'].map((p) => `customresourcedefinition.apiextensions.k8s.io/${p}.outrigger.dev`));
    await waitFor(async () => (await kubectl(['get', 'outrigger', '-A'])).code === 0, { description: 'the outrigger category to be served', timeoutMs: 30_000 });
  });

  it('prints NOTES that say what was installed and what to do next', () => {
    const notes = installOutput.slice(installOutput.indexOf('NOTES:'));
    assert.match(notes, /CRDs: alerts, hosts, labs, proxmoxclusters, proxyroutes, workspaces/);
    assert.match(notes, new RegExp(`The API server calls https://127\\.0\\.0\\.1:${webhookPort}`));
    assert.match(notes, /kubectl apply -n outrigger-demo -f examples\/01-local-docker-host\.yaml/);
  });

  it('has Pod templates that the restricted Pod Security admission accepts', async () => {
    const rendered = await helm(['template', RELEASE, CHART, '--namespace', SYSTEM]);
    assert.equal(rendered.code, 0, rendered.stderr);
    const deployments = parseAllDocuments(rendered.stdout).map((d) => d.toJS() as Obj).filter((d) => d?.kind === 'Deployment');
    assert.equal(deployments.length, 2);
    for (const d of deployments) {
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${d.metadata.name}-psa-check`, namespace: SYSTEM }, spec: { ...d.spec.template.spec, serviceAccountName: 'default' } };
      const r = await kubectl(['create', '--dry-run=server', '-f', '-'], stringify(pod));
      assert.equal(r.code, 0, `${d.metadata.name}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /violate PodSecurity/);
    }
    // The namespace really enforces: a Pod without the settings is refused.
    const plain = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain', namespace: SYSTEM }, spec: { containers: [{ name: 'c', image: 'outrigger' }] } };
    const refused = await kubectl(['create', '--dry-run=server', '-f', '-'], stringify(plain));
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /violates PodSecurity "restricted:latest"/);
  });

  it('runs the webhook with only its ServiceAccount token: certificates, caBundle and lookups work', async () => {
    const kubeconfig = await serviceAccountKubeconfig(`${RELEASE}-webhook`);
    start('webhook', [
      'webhook', `--kubeconfig=${kubeconfig}`, `--bind-address=127.0.0.1:${webhookPort}`, '--http-bind-address=off',
      `--namespace=${SYSTEM}`, `--cert-secret=${RELEASE}-webhook-tls`, `--service-name=${RELEASE}-webhook`, '--tls-san=127.0.0.1',
      `--validating-webhook-configuration=${CONFIG}`, `--mutating-webhook-configuration=${CONFIG}`,
    ]);
    await waitFor(async () => {
      const out = await mustKubectl(['get', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', CONFIG, '-o', 'jsonpath={.items[*].webhooks[0].clientConfig.caBundle}']);
      return out.trim().split(' ').filter(Boolean).length === 2;
    }, { description: `the webhook to write the caBundle of ${CONFIG}`, timeoutMs: 30_000 });
    // Admission goes through it (a reference check is a lookup with its token).
    await waitFor(async () => {
      const r = await kubectl(['create', '-n', ADMITTED, '--dry-run=server', '-f', '-'], stringify({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'Workspace', metadata: { name: 'probe' }, spec: { owner: 'x', runtime: { docker: { hostRef: { name: 'nowhere' }, image: 'debian:12' } } } }));
      return r.code === 0 && /Host "nowhere" does not exist/.test(r.stderr);
    }, { description: 'kube-apiserver to call the webhook', timeoutMs: 30_000 });
    assert.doesNotMatch(logOf('webhook'), /forbidden/i, 'the webhook was denied something: extend templates/rbac-webhook.yaml');
  });

  it('admits every example through the webhook, and kubectl diff --server-side then shows nothing', async () => {
    const files = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml')).sort();
    const applied = await kubectl(['apply', '--server-side', '--field-manager=gitops', '-n', ADMITTED, ...files.flatMap((f) => ['-f', join(ROOT, 'examples', f)])]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.doesNotMatch(applied.stderr, /Warning: spec\./, 'applied together, every reference resolves');
    const diff = await kubectl(['diff', '--server-side', '--field-manager=gitops', '-n', ADMITTED, ...files.flatMap((f) => ['-f', join(ROOT, 'examples', f)])]);
    assert.equal(diff.code, 0, `kubectl diff found drift:\n${diff.stdout}${diff.stderr}`);
    assert.equal(diff.stdout, '');
  });

  it('runs the controller with only its ServiceAccount token and reconciles the examples; no drift after', async (t) => {
    const dockerSkip = await dockerSkipReason();
    if (dockerSkip) {
      t.skip(dockerSkip);
      return;
    }
    // Examples 01 and 02 need only Docker on this machine; the image is the locally built one
    // (no registry here). Argo CD's tracking metadata rides along.
    const image = process.env[WORKSPACE_IMAGE_ENV] || (await ensureWorkspaceImage(dockerClient())).tag;
    const objects = examples(['01-local-docker-host.yaml', '02-workspace.yaml']).map((o) => {
      const copy = structuredClone(o);
      copy.metadata.labels = { ...copy.metadata.labels, [TRACKING_LABEL]: 'quickstart' };
      copy.metadata.annotations = { ...copy.metadata.annotations, [TRACKING_ANNOTATION]: `quickstart:${o.apiVersion.split('/')[0]}/${o.kind}:${RECONCILED}/${o.metadata.name}` };
      if (copy.kind === 'Host' && copy.spec.docker?.unix) copy.spec.docker.unix.path = dockerSocket();
      if (copy.kind === 'Workspace') copy.spec.runtime.docker.image = image;
      return copy;
    });
    const manifest = join(dir, 'reconciled.yaml');
    writeFileSync(manifest, objects.map((o) => stringify(o)).join('---\n'));
    const applied = await kubectl(['apply', '--server-side', '--field-manager=gitops', '-n', RECONCILED, '-f', manifest]);
    assert.equal(applied.code, 0, applied.stderr);

    const kubeconfig = await serviceAccountKubeconfig(`${RELEASE}-controller`);
    const httpPort = await freePort();
    const controller = start('controller', [
      'controller', `--kubeconfig=${kubeconfig}`, '--leader-elect', `--leader-election-namespace=${SYSTEM}`,
      `--namespace=${RECONCILED}`, `--http-bind-address=127.0.0.1:${httpPort}`,
    ]);
    try {
      const started = await waitFor(() => logOf('controller').split('\n').map((l) => { try { return JSON.parse(l); } catch { return undefined; } }).find((l) => l?.msg === 'controller started'), { description: 'the controller to start', timeoutMs: 30_000 });
      const kinds: string[] = started.kinds ?? [];
      await waitFor(async () => JSON.parse(await mustKubectl(['get', 'lease', 'outrigger-controller', '-n', SYSTEM, '-o', 'json'])).spec?.holderIdentity, { description: 'the controller to take the leader Lease', timeoutMs: 30_000 });
      await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200, { description: 'its informers to sync with its permissions', timeoutMs: 30_000 });
      assert.ok(kinds.includes('Workspace'), `the controller must reconcile Workspaces (registered: ${JSON.stringify(kinds)}); reconcilers/index.ts registers none yet`);

      for (const o of objects.filter((x) => x.apiVersion.startsWith('outrigger.dev/') && kinds.includes(x.kind))) {
        await waitFor(async () => {
          const live = JSON.parse(await mustKubectl(['get', o.kind.toLowerCase(), o.metadata.name, '-n', RECONCILED, '-o', 'json'])) as Obj;
          const ready = (live.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready');
          return live.status?.observedGeneration === live.metadata.generation && ready ? live : undefined;
        }, { description: `${o.kind} ${o.metadata.name} to be reconciled (observedGeneration and Ready)`, timeoutMs: 120_000 });
      }
      // Settle, then GitOps sees exactly what Git holds: no spec writes, no defaulting drift.
      const diff = await kubectl(['diff', '--server-side', '--field-manager=gitops', '-n', RECONCILED, '-f', manifest]);
      assert.equal(diff.code, 0, `kubectl diff found drift after reconcile:\n${diff.stdout}${diff.stderr}`);
      assert.doesNotMatch(logOf('controller'), /forbidden/i, 'the controller was denied something: extend charts/outrigger/files/rbac/controller.yaml');

      // Nothing the controller made carries Argo CD's tracking metadata.
      const events = JSON.parse(await mustKubectl(['get', 'events.events.k8s.io', '-n', RECONCILED, '-o', 'json'])).items as Obj[];
      for (const e of events) {
        assert.equal(e.metadata.labels?.[TRACKING_LABEL], undefined);
        assert.equal(e.metadata.annotations?.[TRACKING_ANNOTATION], undefined);
      }
      const workspace = JSON.parse(await mustKubectl(['get', 'workspace', 'alice', '-n', RECONCILED, '-o', 'json'])) as Obj;
      const containerId = workspace.status?.docker?.containerId;
      if (containerId) {
        const labels = (await dockerClient().getContainer(containerId).inspect()).Config.Labels ?? {};
        assert.ok(!Object.keys(labels).some((k) => k === TRACKING_LABEL || k === TRACKING_ANNOTATION), `container labels: ${JSON.stringify(labels)}`);
      }
    } finally {
      // The controller removes what it made before it stops (the Workspace's container and home).
      const uids = JSON.parse((await kubectl(['get', 'workspaces', '-n', RECONCILED, '-o', 'json'])).stdout || '{"items":[]}').items.map((w: Obj) => w.metadata.uid);
      await kubectl(['delete', 'workspace', '--all', '-n', RECONCILED, '--wait=false']);
      if (controller.running()) {
        await waitFor(async () => (await mustKubectl(['get', 'workspaces', '-n', RECONCILED, '-o', 'name'])).trim() === '', { description: 'the controller to finalize the Workspace', timeoutMs: 60_000 }).catch(() => undefined);
      }
      await controller.stop();
      // Whatever it could not remove goes by the owner uid it labels Docker objects with.
      const engine = dockerClient();
      for (const uid of uids) {
        const filters = { label: [`${Labels.ownerUid}=${uid}`] };
        for (const c of await engine.listContainers({ all: true, filters })) await engine.getContainer(c.Id).remove({ force: true, v: true });
        for (const v of (await engine.listVolumes({ filters })).Volumes ?? []) await engine.getVolume(v.Name).remove();
      }
    }
  });

  it('matches the checked-in kubectl auth can-i --list of both ServiceAccounts', async () => {
    const sections: string[] = [];
    for (const account of [`${RELEASE}-controller`, `${RELEASE}-webhook`]) {
      for (const namespace of [SYSTEM, RECONCILED]) {
        const args = ['auth', 'can-i', '--list', `--namespace=${namespace}`, `--as=system:serviceaccount:${SYSTEM}:${account}`];
        sections.push(`# kubectl ${args.join(' ')}\n${normalizeTable(await mustKubectl(args))}`);
      }
    }
    const actual = `${sections.join('\n\n')}\n`;
    if (process.env.OUTRIGGER_UPDATE_RBAC_EXPECTED === '1' && process.env.CI !== 'true') writeFileSync(RBAC_EXPECTED, actual);
    assert.equal(actual, readFileSync(RBAC_EXPECTED, 'utf8'), 'RBAC changed: review it, then rerun with OUTRIGGER_UPDATE_RBAC_EXPECTED=1 to update test/integration/rbac-expected.txt');
  });

  it('applies a changed CRD schema on helm upgrade, without interrupting admission', async () => {
    const caBefore = await mustKubectl(['get', 'validatingwebhookconfiguration', CONFIG, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']);
    // The next chart version: a new field in Host's schema and a new printer column.
    const next = join(dir, 'chart-next');
    cpSync(CHART, next, { recursive: true, dereference: true });
    // cpSync can keep a nested directory link as a link; editing through it would change the
    // repository's own CRDs. Replace it with a real copy before editing.
    const copiedCrds = join(next, 'files', 'crds');
    rmSync(copiedCrds, { recursive: true, force: true });
    cpSync(realpathSync(join(CHART, 'files', 'crds')), copiedCrds, { recursive: true });
    assert.ok(!lstatSync(copiedCrds).isSymbolicLink(), 'the copied chart must not link back to the repository');
    const crdPath = join(copiedCrds, 'hosts.outrigger.dev.yaml');
    const crd = parse(readFileSync(crdPath, 'utf8'));
    const version = crd.spec.versions[0];
    version.schema.openAPIV3Schema.properties.spec.properties.location = { description: 'Where the machine stands (added in the next version).', type: 'string', maxLength: 64 };
    version.additionalPrinterColumns.splice(1, 0, { name: 'Location', type: 'string', jsonPath: '.spec.location', description: 'Where the machine stands.' });
    writeFileSync(crdPath, stringify(crd));
    const chartFile = join(next, 'Chart.yaml');
    writeFileSync(chartFile, readFileSync(chartFile, 'utf8').replace(/^version: .*$/m, 'version: 0.2.0'));

    const r = await install(next);
    assert.equal(r.code, 0, r.stderr);
    const live = JSON.parse(await mustKubectl(['get', 'crd', 'hosts.outrigger.dev', '-o', 'json']));
    assert.deepEqual(live.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.location, { description: 'Where the machine stands (added in the next version).', type: 'string', maxLength: 64 });
    assert.equal(live.spec.versions[0].additionalPrinterColumns[1].name, 'Location');
    assert.equal(live.metadata.annotations['helm.sh/resource-policy'], 'keep');
    assert.equal(live.metadata.labels['helm.sh/chart'], 'outrigger-0.2.0');

    // The upgrade carried the live caBundle over: admission works at once, not after a re-inject.
    const caAfter = await mustKubectl(['get', 'validatingwebhookconfiguration', CONFIG, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']);
    assert.equal(caAfter, caBefore);
    const probe = await kubectl(['create', '-n', ADMITTED, '--dry-run=server', '-f', '-'], stringify({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', metadata: { name: 'after-upgrade' }, spec: { docker: { unix: {} } } }));
    assert.equal(probe.code, 0, probe.stderr);
  });

  it('keeps the CRDs and every object on helm uninstall', async () => {
    const r = await helm(['uninstall', RELEASE, '--namespace', SYSTEM]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /kept due to the resource policy/);
    const crds = (await mustKubectl(['get', 'crd', '-l', 'app.kubernetes.io/part-of=outrigger', '-o', 'name'])).trim().split('\n');
    assert.equal(crds.length, 6);
    const hosts = (await mustKubectl(['get', 'hosts', '-n', ADMITTED, '-o', 'name'])).trim().split('\n');
    assert.ok(hosts.length >= 2, 'the examples are still there');
  });
});
