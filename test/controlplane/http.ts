// Raw requests against a kube-apiserver, authenticated and trusted exactly as the KubeConfig says.
// For what client-node's typed calls cannot do: /readyz, group-version discovery, and sending
// objects verbatim (its typed serializers drop fields they do not model, such as
// x-kubernetes-int-or-string in a CRD schema).
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface RawResponse {
  status: number;
  body: string;
}

export async function apiRequest(
  kc: KubeConfig,
  method: string,
  path: string,
  opts: { body?: string; contentType?: string; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('kubeconfig has no current cluster');
  const url = new URL(path, server);
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  const requestOpts: https.RequestOptions = { method, headers };
  await kc.applyToHTTPSOptions(requestOpts);
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ...requestOpts, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function apiGet(kc: KubeConfig, path: string, timeoutMs = 5_000): Promise<RawResponse> {
  return apiRequest(kc, 'GET', path, { timeoutMs });
}
