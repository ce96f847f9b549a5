// Certificates from files (tls.crt and tls.key in a directory): a Secret that cert-manager issues
// and renews, mounted into the Pod. The kubelet swaps the files in place on renewal, so they are
// re-read periodically and a change is served without a restart.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../controller/logger.ts';
import { RefreshingCertificates } from './refresh.ts';

export interface FileCertificatesOptions {
  dir: string;
  logger: Logger;
  pollIntervalMs?: number;
}

export class FileCertificates extends RefreshingCertificates {
  private readonly opts: FileCertificatesOptions;

  constructor(opts: FileCertificatesOptions) {
    // cert-manager may not have issued yet when the Pod starts: wait for the files.
    super({ intervalMs: opts.pollIntervalMs ?? 30_000, maxStartDelayMs: 10_000 });
    this.opts = opts;
  }

  protected async refresh(): Promise<void> {
    const [certPem, keyPem] = await Promise.all([readFile(join(this.opts.dir, 'tls.crt'), 'utf8'), readFile(join(this.opts.dir, 'tls.key'), 'utf8')]);
    if (!certPem.includes('BEGIN CERTIFICATE') || !keyPem.includes('PRIVATE KEY')) throw new Error('tls.crt or tls.key holds no PEM data');
    if (this.serve({ certPem, keyPem })) this.opts.logger.info({ dir: this.opts.dir }, 'loaded serving certificate from files');
  }

  protected reportFailure(err: string, phase: 'start' | 'refresh', retryInMs: number): void {
    if (phase === 'start') this.opts.logger.warn({ dir: this.opts.dir, err, retryInMs }, 'waiting for certificate files');
    else this.opts.logger.warn({ err }, 'could not re-read certificate files; serving the previous ones');
  }
}
