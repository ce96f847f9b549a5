// Self-managed certificates: the CA and serving certificate live in one Secret next to the webhook,
// shared by every replica. Each replica periodically reads the Secret, renews what is due
// (optimistic concurrency: when two replicas race, the loser adopts the winner's certificates),
// serves the current certificate, and keeps the caBundle of the webhook configurations current
// (a `helm upgrade` or a GitOps sync may have reset it).
import { ResourceClient, type KubeObject } from '../../controller/kube/resource.ts';
import { isConflict, isNotFound, type KubeRest } from '../../controller/kube/rest.ts';
import type { Logger } from '../../controller/logger.ts';
import { inspectCertificate } from '../../pki/authority.ts';
import { caBundleOf, planCertificates, DEFAULT_ROTATION, type CertificateBundle, type RotationPolicy } from './plan.ts';
import { RefreshingCertificates } from './refresh.ts';

export interface WebhookConfigurationNames {
  validating: string[];
  mutating: string[];
}

export interface SelfManagedOptions {
  rest: KubeRest;
  logger: Logger;
  /** Namespace and name of the Secret holding the certificates. */
  namespace: string;
  secretName: string;
  /** DNS names and IP addresses the serving certificate covers. */
  names: string[];
  /** Webhook configurations whose caBundle this process keeps current. */
  configurations: WebhookConfigurationNames;
  policy?: RotationPolicy;
  /** How often the Secret and the caBundles are checked. */
  checkIntervalMs?: number;
  now?: () => number;
}

interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

interface WebhookConfiguration extends KubeObject {
  webhooks?: Array<{ name: string; clientConfig?: { caBundle?: string } }>;
}

const secretsRef = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };
export const validatingRef = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations', kind: 'ValidatingWebhookConfiguration', namespaced: false };
export const mutatingRef = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations', kind: 'MutatingWebhookConfiguration', namespaced: false };

const KEYS = { caCert: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key', previousCa: 'ca-previous.crt' } as const;
const b64 = (text: string) => Buffer.from(text).toString('base64');
const unb64 = (text: string | undefined) => (text === undefined ? undefined : Buffer.from(text, 'base64').toString('utf8'));

export function bundleFromSecret(secret: SecretObject | undefined): CertificateBundle | undefined {
  const d = secret?.data ?? {};
  const [caCert, caKey, cert, key] = [unb64(d[KEYS.caCert]), unb64(d[KEYS.caKey]), unb64(d[KEYS.cert]), unb64(d[KEYS.key])];
  if (!caCert || !caKey || !cert || !key) return undefined;
  const previousCaPem = unb64(d[KEYS.previousCa]);
  return { ca: { certPem: caCert, keyPem: caKey }, serving: { certPem: cert, keyPem: key }, ...(previousCaPem ? { previousCaPem } : {}) };
}

export function secretData(bundle: CertificateBundle): Record<string, string> {
  const data: Record<string, string> = {
    [KEYS.caCert]: b64(bundle.ca.certPem),
    [KEYS.caKey]: b64(bundle.ca.keyPem),
    [KEYS.cert]: b64(bundle.serving.certPem),
    [KEYS.key]: b64(bundle.serving.keyPem),
  };
  if (bundle.previousCaPem) data[KEYS.previousCa] = b64(bundle.previousCaPem);
  return data;
}

export class SelfManagedCertificates extends RefreshingCertificates {
  private readonly opts: SelfManagedOptions;
  private readonly secrets: ResourceClient<SecretObject>;
  private readonly now: () => number;

  constructor(opts: SelfManagedOptions) {
    const intervalMs = opts.checkIntervalMs ?? 60_000;
    super({ intervalMs, retryMs: Math.min(intervalMs, 10_000), maxStartDelayMs: 30_000 });
    this.opts = opts;
    this.secrets = new ResourceClient<SecretObject>(opts.rest, secretsRef);
    this.now = opts.now ?? Date.now;
  }

  protected refresh(): Promise<CertificateBundle> {
    return this.sync();
  }

  protected reportFailure(err: string, phase: 'start' | 'refresh', retryInMs: number): void {
    if (phase === 'start') this.opts.logger.warn({ err, retryInMs }, 'could not set up the webhook certificates');
    else this.opts.logger.warn({ err }, 'certificate check failed; retrying');
  }

  /** One pass: read, renew what is due, serve it, and inject the caBundle. */
  async sync(): Promise<CertificateBundle> {
    const bundle = await this.ensureSecret();
    this.serve(bundle.serving);
    await this.injectCaBundle(caBundleOf(bundle));
    return bundle;
  }

  private async ensureSecret(): Promise<CertificateBundle> {
    const key = { namespace: this.opts.namespace, name: this.opts.secretName };
    // A lost race re-reads once per attempt; three attempts are plenty for two or three replicas.
    for (let attempt = 1; ; attempt++) {
      let secret: SecretObject | undefined;
      try {
        secret = await this.secrets.get(key, AbortSignal.timeout(10_000));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const plan = planCertificates(bundleFromSecret(secret), this.opts.names, this.now(), this.opts.policy ?? DEFAULT_ROTATION);
      if (!plan.reason) return plan.bundle;
      try {
        if (secret) {
          await this.secrets.replace({ ...secret, type: secret.type, data: secretData(plan.bundle) }, AbortSignal.timeout(10_000));
        } else {
          await this.secrets.create({
            metadata: { ...key, labels: { 'app.kubernetes.io/part-of': 'outrigger', 'app.kubernetes.io/component': 'webhook' } },
            type: 'kubernetes.io/tls',
            data: secretData(plan.bundle),
          }, AbortSignal.timeout(10_000));
        }
        const info = inspectCertificate(plan.bundle.serving.certPem);
        this.opts.logger.info({ secret: `${key.namespace}/${key.name}`, reason: plan.reason, notAfter: new Date(info.notAfter).toISOString(), names: info.names }, 'issued webhook certificates');
        return plan.bundle;
      } catch (err) {
        if (!(isConflict(err) && attempt < 3)) throw err;
        // Another replica wrote first: adopt what it wrote.
      }
    }
  }

  private async injectCaBundle(caPem: string): Promise<void> {
    const wanted = b64(caPem);
    const targets = [
      ...this.opts.configurations.validating.map((name) => ({ ref: validatingRef, name })),
      ...this.opts.configurations.mutating.map((name) => ({ ref: mutatingRef, name })),
    ];
    for (const { ref, name } of targets) {
      const client = new ResourceClient<WebhookConfiguration>(this.opts.rest, ref);
      let config: WebhookConfiguration;
      try {
        config = await client.get({ name }, AbortSignal.timeout(10_000));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.opts.logger.warn({ kind: ref.kind, name }, 'webhook configuration not found; its caBundle is set once it exists');
        continue;
      }
      // `test` guards against the list changing between read and patch.
      const ops = (config.webhooks ?? []).flatMap((w, i) =>
        w.clientConfig?.caBundle === wanted
          ? []
          : [{ op: 'test', path: `/webhooks/${i}/name`, value: w.name }, { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: wanted }],
      );
      if (ops.length === 0) continue;
      await client.jsonPatch({ name }, ops, { signal: AbortSignal.timeout(10_000) });
      this.opts.logger.info({ kind: ref.kind, name }, 'updated caBundle');
    }
  }
}
