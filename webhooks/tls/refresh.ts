// What both certificate sources share: load the first certificate, retrying with backoff until it
// can (nothing can be served before it), then load again on an interval so a renewal is served
// without a restart, emitting 'change' when the pair differs. A failed refresh keeps serving what
// was loaded and tries again (sooner, where retryMs says so).
import { EventEmitter } from 'node:events';
import type { KeyPairPem } from '../../pki/authority.ts';
import type { CertificateSource } from './source.ts';

export interface RefreshTiming {
  intervalMs: number;
  /** After a failed refresh (default intervalMs). */
  retryMs?: number;
  /** Cap of the first load's backoff (500 ms, doubling). */
  maxStartDelayMs: number;
}

export abstract class RefreshingCertificates extends EventEmitter implements CertificateSource {
  private readonly timing: RefreshTiming;
  private pair?: KeyPairPem;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(timing: RefreshTiming) {
    super();
    this.timing = timing;
  }

  /** Loads or renews the certificate and hands it to serve(); throws when it cannot. */
  protected abstract refresh(): Promise<unknown>;
  /** Says why a load failed (`retryInMs` is when the next attempt is). */
  protected abstract reportFailure(err: string, phase: 'start' | 'refresh', retryInMs: number): void;

  current(): KeyPairPem | undefined {
    return this.pair;
  }

  /** Resolves once the first certificate is loaded (or stop() was called). */
  async start(): Promise<void> {
    this.stopped = false;
    for (let delay = 500; ; delay = Math.min(delay * 2, this.timing.maxStartDelayMs)) {
      try {
        await this.refresh();
        break;
      } catch (err) {
        if (this.stopped) return;
        this.reportFailure(err instanceof Error ? err.message : String(err), 'start', delay);
        await new Promise((r) => setTimeout(r, delay));
        if (this.stopped) return;
      }
    }
    this.schedule(this.timing.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Serves `pair` from now on; true (and 'change' emitted) when it differs from the current one. */
  protected serve(pair: KeyPairPem): boolean {
    if (this.pair?.certPem === pair.certPem && this.pair.keyPem === pair.keyPem) return false;
    this.pair = pair;
    this.emit('change', pair);
    return true;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.refresh().then(
        () => this.schedule(this.timing.intervalMs),
        (err) => {
          const retry = this.timing.retryMs ?? this.timing.intervalMs;
          this.reportFailure(err instanceof Error ? err.message : String(err), 'refresh', retry);
          this.schedule(retry);
        },
      );
    }, ms);
    this.timer.unref();
  }
}
