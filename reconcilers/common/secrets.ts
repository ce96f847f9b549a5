// Reading Secret values for reconcilers. Values come from the shared Secret informer's cache (no
// API call per reconcile) and are returned as Buffers; errors name the referring field and the
// Secret, never the value.
import { ErrorCodes, OutriggerError, type Informer, type KubeObject } from '../../controller/index.ts';

export interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

export interface SecretKeyReference {
  name: string;
  key: string;
}

export class SecretReader {
  private readonly informer: Informer<SecretObject>;

  constructor(informer: Informer<SecretObject>) {
    this.informer = informer;
  }

  /** The whole Secret; `field` is where the reference sits in the referring object (for the message). */
  secret(namespace: string, name: string, field: string): SecretObject {
    const secret = this.informer.get(`${namespace}/${name}`);
    if (!secret) {
      throw new OutriggerError(ErrorCodes.SecretNotFound, `${field}: Secret "${name}" not found in namespace "${namespace}"; create it or fix the reference`, { field });
    }
    return secret;
  }

  value(namespace: string, ref: SecretKeyReference, field: string): Buffer {
    const secret = this.secret(namespace, ref.name, field);
    const encoded = secret.data?.[ref.key];
    if (encoded === undefined) {
      const keys = Object.keys(secret.data ?? {}).sort().join(', ') || 'none';
      throw new OutriggerError(ErrorCodes.SecretKeyMissing, `${field}: Secret "${ref.name}" has no key "${ref.key}" (it has: ${keys})`, { field });
    }
    return Buffer.from(encoded, 'base64');
  }

  text(namespace: string, ref: SecretKeyReference, field: string): string {
    return this.value(namespace, ref, field).toString('utf8');
  }
}
