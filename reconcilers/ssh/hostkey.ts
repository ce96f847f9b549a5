// Pinned SSH host keys: parsing the OpenSSH public key line a Host carries, fingerprints for error
// messages, and the host key algorithms to offer so the server presents the pinned key's type.
import { createHash } from 'node:crypto';
import { OutriggerError } from '../../controller/errors.ts';
import { ErrorCodes } from '../common/reasons.ts';

export interface PinnedHostKey {
  /** The key type named in the line, e.g. `ssh-ed25519`. */
  type: string;
  /** The raw key blob (what the server sends in the key exchange). */
  blob: Buffer;
  /** `SHA256:<base64>` as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

const ALGORITHMS_BY_TYPE: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export const SUPPORTED_HOST_KEY_TYPES = Object.keys(ALGORITHMS_BY_TYPE);

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Parses "<type> <base64> [comment]" (one line of an `.pub` file or of `ssh-keyscan` output without
 * the host name). The type inside the blob must agree with the type in front of it.
 */
export function parseHostKey(line: string, field = 'hostKey'): PinnedHostKey {
  const invalid = (why: string) =>
    new OutriggerError(ErrorCodes.InvalidSpec, `${field}: ${why}; expected one OpenSSH public key line such as the content of /etc/ssh/ssh_host_ed25519_key.pub ("ssh-ed25519 AAAA...")`, { field });
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2) throw invalid('not a public key line');
  const [type, b64] = parts as [string, string];
  if (!ALGORITHMS_BY_TYPE[type]) throw invalid(`key type "${type.slice(0, 40)}" is not one of ${SUPPORTED_HOST_KEY_TYPES.join(', ')}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw invalid('the key is not base64');
  const blob = Buffer.from(b64, 'base64');
  // The blob starts with a length-prefixed copy of the type name.
  if (blob.length < 4) throw invalid('the key is truncated');
  const nameLength = blob.readUInt32BE(0);
  const inner = blob.subarray(4, 4 + nameLength).toString('latin1');
  if (inner !== type) throw invalid(`the key blob says "${inner.slice(0, 40)}" but the line says "${type}"`);
  return { type, blob, fingerprint: fingerprintOf(blob) };
}

/** The host key algorithms to offer so a server with several keys presents the pinned one. */
export function hostKeyAlgorithms(key: PinnedHostKey): string[] {
  return ALGORITHMS_BY_TYPE[key.type] ?? [key.type];
}
