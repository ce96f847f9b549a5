// Credentials for a test control plane: the admin bearer token (a static token file, group
// system:masters), the service-account signing key pair (so the TokenRequest API issues tokens
// that RBAC then judges), and the kubeconfig that hands all of it to clients.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const ADMIN_USER = 'outrigger-test-admin';

export interface ControlPlaneCredentials {
  token: string;
  tokenFile: string;
  serviceAccountKeyFile: string;
  serviceAccountPublicKeyFile: string;
}

export function writeCredentials(dir: string): ControlPlaneCredentials {
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'tokens.csv');
  // token,user,uid,"group1,group2"
  writeFileSync(tokenFile, `${token},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`, { mode: 0o600 });

  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const serviceAccountKeyFile = join(dir, 'sa.key');
  const serviceAccountPublicKeyFile = join(dir, 'sa.pub');
  writeFileSync(serviceAccountKeyFile, privateKey, { mode: 0o600 });
  writeFileSync(serviceAccountPublicKeyFile, publicKey);
  return { token, tokenFile, serviceAccountKeyFile, serviceAccountPublicKeyFile };
}

/** A kubeconfig with one cluster, one token user and one current context. */
export function renderKubeconfig(opts: { server: string; caPem: string; token: string }): string {
  const name = 'outrigger-test';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name,
        cluster: {
          server: opts.server,
          'certificate-authority-data': Buffer.from(opts.caPem).toString('base64'),
        },
      },
    ],
    users: [{ name: ADMIN_USER, user: { token: opts.token } }],
    contexts: [{ name, context: { cluster: name, user: ADMIN_USER, namespace: 'default' } }],
    'current-context': name,
  });
}
