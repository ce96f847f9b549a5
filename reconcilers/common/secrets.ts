// Reading Secret values for reconcilers. Values come from the shared Secret informer's cache (no
// API call per reconcile) and are returned as Buffers; errors name the referring field and the
// Secret, never the value. Every value handed out is remembered so that redactSecrets can take it
// out of any message before it reaches status, an event or a log line.
import { type Informer, type KubeObject } from '../../controller/index.ts';
import { ErrorCodes } from './reasons.ts';
import { WaitingForReferent } from './waiting.ts';

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
      throw new WaitingForReferent(ErrorCodes.SecretNotFound, { kind: 'Secret', namespace, name }, `${field}: Secret "${name}" not found in namespace "${namespace}"; create it or fix the reference`, { field });
    }
    return secret;
  }

  value(namespace: string, ref: SecretKeyReference, field: string): Buffer {
    const secret = this.secret(namespace, ref.name, field);
    const encoded = secret.data?.[ref.key];
    if (encoded === undefined) {
      const keys = Object.keys(secret.data ?? {}).sort().join(', ') || 'none';
      throw new WaitingForReferent(ErrorCodes.SecretKeyMissing, { kind: 'Secret', namespace, name: ref.name }, `${field}: Secret "${ref.name}" has no key "${ref.key}" (it has: ${keys})`, { field });
    }
    const value = Buffer.from(encoded, 'base64');
    rememberSecretValue(`${namespace}/${ref.name}/${ref.key}`, value);
    return value;
  }

  text(namespace: string, ref: SecretKeyReference, field: string): string {
    return this.value(namespace, ref, field).toString('utf8');
  }
}

/** Values shorter than this are too common to scrub without mangling ordinary words. */
const MIN_REDACTED_LENGTH = 6;
/** Secret values handed out, by namespace/name/key (a changed Secret replaces its entry). */
const handedOut = new Map<string, string[]>();

function rememberSecretValue(id: string, value: Buffer): void {
  const text = value.toString('utf8');
  // A key file's message may quote one line of it: remember the lines as well as the whole.
  const pieces = [text, ...text.split(/\r?\n/)].map((p) => p.trim()).filter((p) => p.length >= MIN_REDACTED_LENGTH);
  handedOut.set(id, [...new Set(pieces)].sort((a, b) => b.length - a.length));
}

/**
 * Takes every Secret value the process has read out of a message, and with it any run of bytes
 * that is not text (what a binary secret decoded as UTF-8 looks like).
 */
export function redactSecrets(message: string): string {
  let out = message;
  for (const pieces of handedOut.values()) {
    for (const piece of pieces) if (out.includes(piece)) out = out.split(piece).join('[redacted]');
  }
  // U+FFFD and control characters: what raw bytes become; no user-facing message needs them.
  return out.replace(/[\uFFFD\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]+/g, '[binary]');
}
