// Certificates from files (tls.crt and tls.key in a directory): a Secret that cert-manager issues
// and renews, mounted into the Pod. The kubelet swaps the files in place on renewal, so they are
// re-read periodically and a change is served without a restart.
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../controller/logger.ts';
import type { KeyPairPem } from './issue.ts';
import type { CertificateSource } from './source.ts';

export interface FileCertificatesOptions {
  dir: string;
  logger: Logger;
  pollIntervalMs?: number;
}

export class FileCertificates extends EventEmitter implements CertificateSource {
  private readonly opts: FileCertificatesOptions;
  private pair?: KeyPairPem;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(opts: FileCertificatesOptions) {
    super();
    this.opts = opts;
  }

  current(): KeyPairPem | undefined {
    return this.pair;
  }

  async start(): Promise<void> {
    this.stopped = false;
    // cert-manager may not have issued yet when the Pod starts: wait for the files.
    for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
      try {
        await this.load();
        break;
      } catch (err) {
        if (this.stopped) return;
        this.opts.logger.warn({ dir: this.opts.dir, err: err instanceof Error ? err.message : String(err), retryInMs: delay }, 'waiting for certificate files');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    this.poll();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private poll(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.load().catch((err) => this.opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not re-read certificate files; serving the previous ones')).finally(() => this.poll());
    }, this.opts.pollIntervalMs ?? 30_000);
    this.timer.unref();
  }

  private async load(): Promise<void> {
    const [certPem, keyPem] = await Promise.all([readFile(join(this.opts.dir, 'tls.crt'), 'utf8'), readFile(join(this.opts.dir, 'tls.key'), 'utf8')]);
    if (!certPem.includes('BEGIN CERTIFICATE') || !keyPem.includes('PRIVATE KEY')) throw new Error('tls.crt or tls.key holds no PEM data');
    if (this.pair?.certPem === certPem && this.pair.keyPem === keyPem) return;
    this.pair = { certPem, keyPem };
    this.opts.logger.info({ dir: this.opts.dir }, 'loaded serving certificate from files');
    this.emit('change', this.pair);
  }
}
