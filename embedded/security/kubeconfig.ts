// The kubeconfig users and the controller point kubectl / client-node at.
import { renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { stringify } from 'yaml';

export const CONTEXT_NAME = 'outrigger-embedded';

export function renderKubeconfig(opts: { server: string; caPem: string; token: string; namespace?: string }): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CONTEXT_NAME, cluster: { server: opts.server, 'certificate-authority-data': Buffer.from(opts.caPem).toString('base64') } }],
    users: [{ name: `${CONTEXT_NAME}-admin`, user: { token: opts.token } }],
    contexts: [{ name: CONTEXT_NAME, context: { cluster: CONTEXT_NAME, user: `${CONTEXT_NAME}-admin`, namespace: opts.namespace ?? 'default' } }],
    'current-context': CONTEXT_NAME,
    preferences: {},
  });
}

/** Written atomically with mode 0600: it holds the token. */
export function writeKubeconfig(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}
