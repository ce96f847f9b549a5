// Runs the webhook process (`outrigger webhook`): certificates (self-managed or from files), the
// TLS admission server, and a plain-HTTP server for /healthz, /readyz and /metrics. Stops in order
// on SIGTERM or SIGINT.
import type { Server } from 'node:http';
import { KubeRest } from '../controller/kube/rest.ts';
import { createLogger } from '../controller/logger.ts';
import { loadKubeConfig, parseBindAddress } from '../controller/main.ts';
import { createWebhookApp, createWebhookMetricsApp } from './app.ts';
import { KubeLookup } from './lookup.ts';
import { WebhookMetrics } from './metrics.ts';
import { startWebhookServer } from './server.ts';
import { FileCertificates } from './tls/files.ts';
import { inspectCertificate } from '../pki/authority.ts';
import { SelfManagedCertificates } from './tls/self-managed.ts';
import type { CertificateSource } from './tls/source.ts';

export interface WebhookProcessOptions {
  kubeconfig?: string;
  /** TLS admission endpoint, HOST:PORT. */
  bindAddress: string;
  /** /healthz, /readyz, /metrics over plain HTTP, HOST:PORT (0 or off disables). */
  httpBindAddress: string;
  logLevel?: string;
  certMode: 'self-managed' | 'files';
  /** files: directory with tls.crt and tls.key. */
  certDir?: string;
  /** self-managed: namespace and name of the Secret holding the certificates. */
  namespace?: string;
  certSecret: string;
  /** self-managed: the Service in front of the webhook (its DNS names go into the certificate). */
  serviceName?: string;
  /** self-managed: more DNS names or IP addresses for the certificate. */
  tlsSans: string[];
  validatingConfigurations: string[];
  mutatingConfigurations: string[];
}

/** The DNS names of a Service, as kube-apiserver addresses it, plus extra names. */
export function certificateNames(serviceName: string | undefined, namespace: string, extra: string[]): string[] {
  const names = serviceName ? [`${serviceName}.${namespace}.svc`, `${serviceName}.${namespace}.svc.cluster.local`, `${serviceName}.${namespace}`, serviceName] : [];
  for (const n of extra) if (!names.includes(n)) names.push(n);
  return names;
}

export async function runWebhookProcess(opts: WebhookProcessOptions): Promise<void> {
  const logger = createLogger({ level: opts.logLevel, name: 'outrigger-webhook' });
  const kubeConfig = loadKubeConfig(opts.kubeconfig);
  const rest = new KubeRest(kubeConfig);
  const metrics = new WebhookMetrics({ defaultMetrics: true });

  let certificates: CertificateSource;
  if (opts.certMode === 'files') {
    if (!opts.certDir) throw new Error('--cert-dir is required with --cert-mode=files');
    certificates = new FileCertificates({ dir: opts.certDir, logger });
  } else {
    const namespace = opts.namespace ?? process.env.POD_NAMESPACE;
    if (!namespace) throw new Error('--namespace (or $POD_NAMESPACE) is required with --cert-mode=self-managed: the certificate Secret lives there');
    const names = certificateNames(opts.serviceName, namespace, opts.tlsSans);
    if (names.length === 0) throw new Error('--service-name or --tls-san is required with --cert-mode=self-managed: the certificate needs a name');
    certificates = new SelfManagedCertificates({
      rest,
      logger,
      namespace,
      secretName: opts.certSecret,
      names,
      configurations: { validating: opts.validatingConfigurations, mutating: opts.mutatingConfigurations },
    });
  }
  const ready = () => certificates.current() !== undefined;
  certificates.on('change', (pair: { certPem: string }) => {
    metrics.certificateExpiry.set(Math.round((inspectCertificate(pair.certPem).notAfter - Date.now()) / 1000));
  });

  // Health first, so liveness holds while the first certificate is being set up.
  let health: Server | undefined;
  const healthAddress = parseBindAddress(opts.httpBindAddress);
  if (healthAddress) {
    const app = createWebhookMetricsApp(metrics, ready);
    await new Promise<void>((resolve, reject) => {
      health = app.listen(healthAddress.port, healthAddress.host, (err?: Error) => (err ? reject(err) : resolve()));
    });
  }
  await certificates.start();

  const bind = parseBindAddress(opts.bindAddress);
  if (!bind) throw new Error('--bind-address must be HOST:PORT');
  const app = createWebhookApp({ lookup: new KubeLookup(rest), logger, metrics, ready });
  const server = await startWebhookServer({ app, host: bind.host, port: bind.port, certificates, logger });
  logger.info({ port: server.port, certMode: opts.certMode, server: rest.server }, 'webhook started');

  let exiting = false;
  const shutdown = (signal: string) => {
    if (exiting) return;
    exiting = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), 15_000).unref();
    certificates.stop();
    void Promise.all([server.close(), new Promise<void>((r) => (health ? health.close(() => r()) : r()))]).then(() => {
      rest.close();
      logger.flush();
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
