// The Helm chart as Helm sees it, with the helm binary built from Go modules alongside the control
// plane (no cluster needed): lint, deterministic rendering, the values schema, and what every
// rendering must hold (restricted Pod Security, no RBAC wildcards, the repository's CRDs).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { runCommand } from '../controlplane/process.ts';
import { controlPlaneBinDir } from '../fixtures/controlplane.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHART = join(ROOT, 'charts', 'outrigger');

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: any };

function helmBinary(): string | undefined {
  try {
    const path = join(controlPlaneBinDir(), 'helm');
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

function skipReason(): string | undefined {
  if (process.env.CI === 'true' || helmBinary()) return undefined;
  return 'helm is not built yet: run bash test/controlplane/build.sh';
}

async function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = helmBinary();
  if (!bin) throw new Error('helm is missing: bash test/controlplane/build.sh builds it');
  const result = await runCommand(bin, args, { timeoutMs: 60_000 });
  // Helm reports the link to the repository's crds/ folder on every run; it is expected.
  return { ...result, stderr: result.stderr.split('\n').filter((l) => !l.includes('found symbolic link in path')).join('\n').trim() };
}

async function render(...sets: string[]): Promise<Doc[]> {
  const r = await helm(['template', 'outrigger', CHART, '--namespace', 'outrigger-system', ...sets.flatMap((s) => ['--set', s])]);
  assert.equal(r.code, 0, r.stderr);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Doc).filter(Boolean);
}

const ofKind = (docs: Doc[], kind: string) => docs.filter((d) => d.kind === kind);

describe('Helm chart', { skip: skipReason() }, () => {
  it('passes helm lint --strict, with default values and the other modes', async () => {
    for (const sets of [[], ['webhook.certificates.mode=cert-manager', 'metrics.serviceMonitor.enabled=true'], ['webhook.url=https://127.0.0.1:9443', 'controller.watchNamespace=team-a']]) {
      const r = await helm(['lint', '--strict', CHART, ...sets.flatMap((s) => ['--set', s])]);
      assert.equal(r.code, 0, `helm lint --strict ${sets.join(' ')}:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('renders the same bytes every time, and no template asks for randomness or the time', async () => {
    const once = await helm(['template', 'outrigger', CHART, '-n', 'outrigger-system']);
    const twice = await helm(['template', 'outrigger', CHART, '-n', 'outrigger-system']);
    assert.equal(once.code, 0, once.stderr);
    assert.equal(once.stdout, twice.stdout);
    for (const file of readdirSync(join(CHART, 'templates'))) {
      const text = readFileSync(join(CHART, 'templates', file), 'utf8');
      assert.doesNotMatch(text, /\b(randAlphaNum|randAlpha|randNumeric|randAscii|randBytes|uuidv4|now|genCA|genSignedCert|genSelfSignedCert|genPrivateKey|derivePassword)\b/, `${file}: certificates come from the webhook, not the template`);
    }
  });

  it('rejects unknown and mistyped values, naming them', async () => {
    for (const [set, message] of [
      ['nope=1', /additional properties 'nope' not allowed/],
      ['controller.replica=3', /at '\/controller': additional properties 'replica' not allowed/],
      ['controller.replicas=two', /at '\/controller\/replicas': got string, want integer/],
      ['webhook.certificates.mode=manual', /at '\/webhook\/certificates\/mode'/],
      ['webhook.url=http://127.0.0.1:9443', /at '\/webhook\/url'/],
    ] as const) {
      const r = await helm(['template', 'outrigger', CHART, '--set', set]);
      assert.notEqual(r.code, 0, `--set ${set} must be rejected`);
      assert.match(r.stderr, message);
    }
  });

  it('renders the repository\'s CRDs, kept on uninstall, as templates (so upgrades apply them)', async () => {
    const crds = ofKind(await render(), 'CustomResourceDefinition');
    const files = readdirSync(join(ROOT, 'crds')).filter((f) => f.endsWith('.outrigger.dev.yaml')).sort();
    assert.equal(crds.length, files.length);
    for (const file of files) {
      const source = parse(readFileSync(join(ROOT, 'crds', file), 'utf8')) as Doc;
      const rendered = crds.find((c) => c.metadata.name === source.metadata.name);
      assert.ok(rendered, `${source.metadata.name} rendered`);
      assert.deepEqual(rendered.spec, source.spec, `${file}: the chart must carry the generated schema unchanged`);
      assert.equal(rendered.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
      assert.equal(rendered.metadata.labels?.['app.kubernetes.io/part-of'], 'outrigger');
    }
    const none = ofKind(await render('crds.install=false'), 'CustomResourceDefinition');
    assert.equal(none.length, 0);
  });

  it('runs every Pod under the restricted Pod Security Standard', async () => {
    for (const docs of [await render(), await render('webhook.certificates.mode=cert-manager')]) {
      const deployments = ofKind(docs, 'Deployment');
      assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), ['outrigger-controller', 'outrigger-webhook']);
      for (const d of deployments) {
        const pod = d.spec.template.spec;
        assert.equal(pod.securityContext.runAsNonRoot, true, d.metadata.name);
        assert.ok(pod.securityContext.runAsUser > 0);
        assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
        assert.ok(!pod.hostNetwork && !pod.hostPID && !pod.hostIPC);
        for (const c of pod.containers) {
          assert.equal(c.securityContext.allowPrivilegeEscalation, false);
          assert.equal(c.securityContext.readOnlyRootFilesystem, true);
          assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
          assert.ok(c.volumeMounts.some((m: { mountPath: string }) => m.mountPath === '/tmp'), 'a writable /tmp');
        }
        for (const v of pod.volumes) assert.ok(v.emptyDir || v.secret, `${d.metadata.name}: volume ${v.name} must be emptyDir or secret`);
      }
    }
  });

  it('runs the controller with 2 replicas and leader election, guarded by a PodDisruptionBudget', async () => {
    const docs = await render();
    const controller = ofKind(docs, 'Deployment').find((d) => d.metadata.name === 'outrigger-controller')!;
    assert.equal(controller.spec.replicas, 2);
    assert.ok(controller.spec.template.spec.containers[0].args.includes('--leader-elect'));
    const pdbs = ofKind(docs, 'PodDisruptionBudget');
    assert.deepEqual(pdbs.map((p) => p.metadata.name).sort(), ['outrigger-controller', 'outrigger-webhook']);
    assert.equal(ofKind(await render('controller.replicas=1', 'webhook.replicas=1'), 'PodDisruptionBudget').length, 0, 'a single replica must stay drainable');
  });

  it('uses no wildcard in any RBAC rule', async () => {
    for (const docs of [await render(), await render('controller.watchNamespace=team-a')]) {
      for (const role of [...ofKind(docs, 'ClusterRole'), ...ofKind(docs, 'Role')]) {
        for (const rule of role.rules) {
          for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs']) {
            assert.ok(!(rule[field] ?? []).some((v: string) => v.includes('*')), `${role.kind} ${role.metadata.name}: ${field} ${JSON.stringify(rule[field])}`);
          }
        }
      }
    }
  });

  it('aggregates the kinds into the built-in view, edit and admin roles', async () => {
    const docs = await render();
    const plurals = readdirSync(join(ROOT, 'crds')).filter((f) => f.endsWith('.outrigger.dev.yaml')).map((f) => f.split('.')[0]).sort();
    for (const [role, verb] of [['view', 'list'], ['edit', 'create'], ['admin', 'delete']] as const) {
      const found = ofKind(docs, 'ClusterRole').find((r) => r.metadata.labels?.[`rbac.authorization.k8s.io/aggregate-to-${role}`] === 'true');
      assert.ok(found, `a ClusterRole aggregated to ${role}`);
      const rule = found.rules.find((r: { verbs: string[] }) => r.verbs.includes(verb));
      assert.deepEqual(rule.resources.filter((r: string) => !r.includes('/')).sort(), plurals);
    }
    const view = ofKind(docs, 'ClusterRole').find((r) => r.metadata.name.endsWith('-view'))!;
    assert.ok(view.rules.every((r: { verbs: string[] }) => r.verbs.every((v) => ['get', 'list', 'watch'].includes(v))), 'view only reads');
    assert.equal(ofKind(await render('rbac.aggregateToDefaultRoles=false'), 'ClusterRole').filter((r) => r.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-view']).length, 0);
  });

  it('limits the controller to one namespace with a Role when watchNamespace is set', async () => {
    const docs = await render('controller.watchNamespace=team-a');
    const role = ofKind(docs, 'Role').find((r) => r.metadata.namespace === 'team-a');
    assert.ok(role, 'a Role in team-a');
    assert.ok(role.rules.some((r: { resources: string[] }) => r.resources.includes('secrets')));
    assert.ok(!ofKind(docs, 'ClusterRole').some((r) => r.rules.some((x: { resources: string[] }) => x.resources.includes('secrets'))), 'no cluster-wide Secret access');
    const controller = ofKind(docs, 'Deployment').find((d) => d.metadata.name === 'outrigger-controller')!;
    assert.ok(controller.spec.template.spec.containers[0].args.includes('--namespace=team-a'));
  });

  it('passes the outbound ranges and DNS servers an operator allows to the controller, and refuses a malformed one', async () => {
    const docs = await render('controller.outbound.allowCIDRs={10.0.0.0/8,192.168.0.0/16}', 'controller.outbound.dnsServers={10.0.0.2:53}');
    const args: string[] = ofKind(docs, 'Deployment').find((d) => d.metadata.name === 'outrigger-controller')!.spec.template.spec.containers[0].args;
    assert.deepEqual(args.filter((a) => a.startsWith('--allow-outbound-cidr') || a.startsWith('--dns-server')), ['--allow-outbound-cidr=10.0.0.0/8', '--allow-outbound-cidr=192.168.0.0/16', '--dns-server=10.0.0.2:53']);
    const bad = await helm(['template', 'outrigger', CHART, '--set', 'controller.outbound.allowCIDRs={everything}']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /\/controller\/outbound\/allowCIDRs\/0/);
  });

  it('points the webhooks at the Service, or at webhook.url with no Deployment', async () => {
    const inCluster = await render();
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      const [config] = ofKind(inCluster, kind);
      assert.ok(config, kind);
      const hook = config.webhooks[0];
      assert.deepEqual(hook.clientConfig.service, { name: 'outrigger-webhook', namespace: 'outrigger-system', path: kind.startsWith('V') ? '/validate' : '/mutate', port: 443 });
      assert.equal(hook.clientConfig.caBundle, undefined, 'no caBundle from the template: the webhook or cert-manager writes it');
      assert.equal(hook.sideEffects, 'None');
      assert.deepEqual(hook.rules[0].resources.sort(), ['alerts', 'hosts', 'labs', 'proxmoxclusters', 'proxyroutes', 'workspaces']);
    }
    const outside = await render('webhook.url=https://127.0.0.1:9443/');
    assert.equal(ofKind(outside, 'ValidatingWebhookConfiguration')[0]!.webhooks[0].clientConfig.url, 'https://127.0.0.1:9443/validate');
    assert.ok(!ofKind(outside, 'Deployment').some((d) => d.metadata.name === 'outrigger-webhook'));
    assert.ok(ofKind(outside, 'ServiceAccount').some((s) => s.metadata.name === 'outrigger-webhook'), 'the outside webhook still runs as its ServiceAccount');
  });

  it('uses cert-manager when asked: a Certificate, the CA injector, certificates from files', async () => {
    const docs = await render('webhook.certificates.mode=cert-manager');
    const cert = ofKind(docs, 'Certificate')[0];
    assert.ok(cert);
    assert.deepEqual(cert.spec.dnsNames, ['outrigger-webhook.outrigger-system.svc', 'outrigger-webhook.outrigger-system.svc.cluster.local']);
    assert.equal(ofKind(docs, 'ValidatingWebhookConfiguration')[0]!.metadata.annotations?.['cert-manager.io/inject-ca-from'], 'outrigger-system/outrigger-webhook');
    const webhook = ofKind(docs, 'Deployment').find((d) => d.metadata.name === 'outrigger-webhook')!;
    assert.ok(webhook.spec.template.spec.containers[0].args.includes('--cert-mode=files'));
    const webhookRole = ofKind(docs, 'ClusterRole').find((r) => r.metadata.name.endsWith('-webhook'))!;
    assert.ok(!webhookRole.rules.some((r: { apiGroups: string[] }) => r.apiGroups.includes('admissionregistration.k8s.io')), 'cert-manager injects the caBundle, the webhook needs no access to its configurations');
  });

  it('exposes metrics, with an optional ServiceMonitor', async () => {
    const docs = await render('metrics.serviceMonitor.enabled=true');
    const services = ofKind(docs, 'Service').filter((s) => s.metadata.labels?.['outrigger.dev/metrics'] === 'true');
    assert.deepEqual(services.map((s) => s.metadata.name).sort(), ['outrigger-controller-metrics', 'outrigger-webhook-metrics']);
    assert.equal(ofKind(docs, 'ServiceMonitor').length, 1);
    assert.equal(ofKind(await render(), 'ServiceMonitor').length, 0);
  });
});
