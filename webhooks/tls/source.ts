// Where the TLS server gets its certificate from: self-managed (a Secret this process keeps and
// rotates) or files (a mounted Secret that cert-manager keeps). Both say when it changed.
import type { EventEmitter } from 'node:events';
import type { KeyPairPem } from '../../pki/authority.ts';

export interface CertificateSource extends EventEmitter {
  /** The serving certificate and key, or undefined until the first one is loaded. */
  current(): KeyPairPem | undefined;
  /** Loads the first certificate (retrying until it can) and keeps it current; emits 'change'. */
  start(): Promise<void>;
  stop(): void;
}
