// How etcd and kube-apiserver are launched for tests, and how we know they are up. Flags are
// chosen for a single-node, throwaway, fast-starting control plane whose authentication and RBAC
// are nonetheless the real thing.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { startProcess, type ManagedProcess } from './process.ts';
import { apiGet } from './http.ts';
import { renderKubeconfig, type ControlPlaneCredentials } from './credentials.ts';

export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** A loopback TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not allocate a port'));
      });
    });
  });
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

export class ProcessStartError extends Error {
  readonly portInUse: boolean;
  constructor(message: string, portInUse: boolean) {
    super(message);
    this.name = 'ProcessStartError';
    this.portInUse = portInUse;
  }
}

function failure(proc: ManagedProcess, what: string): ProcessStartError {
  const tail = proc.tail();
  return new ProcessStartError(
    `${proc.name} ${what}; log ${proc.logPath} ends with:\n${tail}`,
    /address already in use/i.test(tail),
  );
}

/**
 * Polls `ready` until it is true, failing early if the process exits. Bounded by timeoutMs. The
 * fixture's generic waitFor is not used here because a dead process must end the wait at once.
 */
async function waitUntilReady(proc: ManagedProcess, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (!proc.running()) throw failure(proc, `exited (${await proc.exited}) before it was ready`);
    try {
      if (await ready()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await sleep(100);
  }
  await proc.stop();
  throw failure(proc, `was not ready within ${timeoutMs} ms (last probe error: ${lastError || 'none'})`);
}

export interface Etcd {
  process: ManagedProcess;
  clientUrl: string;
}

export async function startEtcd(binDir: string, dir: string, timeoutMs: number): Promise<Etcd> {
  const clientUrl = `http://127.0.0.1:${await freePort()}`;
  const peerUrl = `http://127.0.0.1:${await freePort()}`;
  // A data dir from a failed attempt would remember that attempt's peer URL.
  rmSync(join(dir, 'etcd-data'), { recursive: true, force: true });
  const proc = startProcess(
    'etcd',
    join(binDir, 'etcd'),
    [
      '--name=default',
      `--data-dir=${join(dir, 'etcd-data')}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      // Throwaway data: durability buys nothing and fsync dominates write latency on VMs.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    { logPath: join(dir, 'etcd.log') },
  );
  await waitUntilReady(
    proc,
    async () => {
      const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    },
    timeoutMs,
  );
  return { process: proc, clientUrl };
}

export interface ApiServerConfig {
  binDir: string;
  dir: string;
  port: number;
  etcdUrl: string;
  credentials: ControlPlaneCredentials;
  extraArgs: string[];
}

export function apiServerArgs(cfg: ApiServerConfig): string[] {
  return [
    '--advertise-address=127.0.0.1',
    '--bind-address=127.0.0.1',
    `--secure-port=${cfg.port}`,
    // The apiserver makes its own CA and serving certificate here once and reuses them on restart.
    `--cert-dir=${join(cfg.dir, 'certs')}`,
    `--etcd-servers=${cfg.etcdUrl}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    `--token-auth-file=${cfg.credentials.tokenFile}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${cfg.credentials.serviceAccountPublicKeyFile}`,
    `--service-account-signing-key-file=${cfg.credentials.serviceAccountKeyFile}`,
    // Without a controller-manager no token controller or default ServiceAccounts exist; the
    // ServiceAccount admission plugin would reject pods for that. Everything else stays default
    // (NamespaceLifecycle, ResourceQuota, the admission webhooks, ...).
    '--disable-admission-plugins=ServiceAccount',
    // Faster start: no flow-control bootstrap objects, no profiling endpoints.
    '--enable-priority-and-fairness=false',
    '--profiling=false',
    '--allow-privileged=true',
    ...cfg.extraArgs,
  ];
}

export interface ApiServer {
  process: ManagedProcess;
  caPem: string;
}

/** The CA bundle the apiserver generated in --cert-dir (serving certificate followed by its CA). */
export function readServingCa(dir: string): string | undefined {
  const file = join(dir, 'certs', 'apiserver.crt');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

export async function startApiServer(cfg: ApiServerConfig, timeoutMs: number): Promise<ApiServer> {
  const proc = startProcess('kube-apiserver', join(cfg.binDir, 'kube-apiserver'), apiServerArgs(cfg), {
    logPath: join(cfg.dir, 'kube-apiserver.log'),
  });
  let caPem: string | undefined;
  let kc: KubeConfig | undefined;
  await waitUntilReady(
    proc,
    async () => {
      caPem ??= readServingCa(cfg.dir);
      if (!caPem) return false;
      if (!kc) {
        kc = new KubeConfig();
        kc.loadFromString(
          renderKubeconfig({ server: `https://127.0.0.1:${cfg.port}`, caPem, token: cfg.credentials.token }),
        );
      }
      const res = await apiGet(kc, '/readyz', 2_000);
      return res.status === 200;
    },
    timeoutMs,
  );
  return { process: proc, caPem: caPem! };
}
