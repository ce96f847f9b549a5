// Serves the webhook app over TLS with the certificate a CertificateSource provides, switching to
// a renewed certificate without dropping the listener.
import https from 'node:https';
import type { Express } from 'express';
import type { Logger } from '../controller/logger.ts';
import type { KeyPairPem } from '../pki/authority.ts';
import type { CertificateSource } from './tls/source.ts';

export interface WebhookServer {
  port: number;
  close(): Promise<void>;
}

export async function startWebhookServer(opts: {
  app: Express;
  host: string;
  port: number;
  certificates: CertificateSource;
  logger: Logger;
}): Promise<WebhookServer> {
  const first = opts.certificates.current();
  if (!first) throw new Error('startWebhookServer: the certificate source has no certificate yet (await its start() first)');
  const server = https.createServer({ cert: first.certPem, key: first.keyPem, minVersion: 'TLSv1.2' }, opts.app);
  // kube-apiserver keeps connections open; a renewed certificate applies to new handshakes.
  const onChange = (pair: KeyPairPem) => {
    server.setSecureContext({ cert: pair.certPem, key: pair.keyPem, minVersion: 'TLSv1.2' });
    opts.logger.info('serving a renewed certificate');
  };
  opts.certificates.on('change', onChange);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : opts.port,
    close: () =>
      new Promise<void>((resolve) => {
        opts.certificates.off('change', onChange);
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      }),
  };
}
