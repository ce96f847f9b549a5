// One interface over "a Kubernetes API to test against": the embedded API server (started here
// on a free loopback port with a temporary state directory) or the real kube-apiserver fixture.
// Scenarios written against ApiTarget run unchanged on either, which is what the conformance
// suite relies on.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { runCommand } from '../controlplane/process.ts';
import { controlPlaneBinDir, controlPlaneSkipReason, useControlPlane, type ControlPlane } from '../fixtures/controlplane.ts';
import { startEmbeddedServer, type EmbeddedServer, type EmbeddedServerOptions } from '../../embedded/start.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..', '..');
export const CONFORMANCE_CRD = join(HERE, 'embedded-conformance-crd.yaml');

export interface HttpResult {
  code: number;
  body: unknown;
  text: string;
  headers: Record<string, string | string[] | undefined>;
  /** Warning headers, decoded to their text. */
  warnings: string[];
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  accept?: string;
  /** Send this bearer token instead of the target's (e.g. a wrong one). */
  token?: string | null;
  timeoutMs?: number;
}

export interface StreamHandle {
  /** Lines received so far (JSON watch events are parsed). */
  events: { type: string; object: Record<string, unknown> }[];
  code: Promise<number>;
  stop(): void;
}

export interface ApiTarget {
  name: 'embedded' | 'kube-apiserver';
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** Real kubectl v1.36 against this target. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** Starts a long-running kubectl (e.g. `get -w`); stop() kills it by pid. */
  kubectlStream(args: string[]): { output: () => string; stop: () => Promise<void> };
  request(method: string, path: string, opts?: RequestOptions): Promise<HttpResult>;
  /** A raw watch stream (GET with watch=1 and the given query). */
  watch(path: string, accept?: string): StreamHandle;
  stop(): Promise<void>;
}

/** The kubectl built with the control plane (v1.36), if present. */
export function kubectlPath(): string | undefined {
  try {
    const p = join(controlPlaneBinDir(), 'kubectl');
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

/** Why kubectl-driven tests cannot run (undefined in CI, where they must fail instead). */
export function kubectlSkipReason(): string | undefined {
  if (process.env.CI === 'true') return undefined;
  return kubectlPath() ? undefined : 'kubectl v1.36 not built yet: run bash test/controlplane/build.sh';
}

export { controlPlaneSkipReason };

interface Conn {
  server: string;
  ca: string;
  token: string;
  /** Kept-alive connections for ordinary requests. */
  agent: https.Agent;
}

function connFromKubeconfig(path: string): Conn {
  const kc = parseYaml(readFileSync(path, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }[];
    users: { user: { token: string } }[];
  };
  const cluster = kc.clusters[0]!.cluster;
  const ca = cluster['certificate-authority-data']
    ? Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8')
    : readFileSync(cluster['certificate-authority']!, 'utf8');
  return { server: cluster.server, ca, token: kc.users[0]!.user.token, agent: new https.Agent({ keepAlive: true, maxSockets: 16, ca }) };
}

function decodeWarnings(h: string | string[] | undefined): string[] {
  const list = h === undefined ? [] : Array.isArray(h) ? h : h.split(/,(?=\s*\d{3} )/);
  return list.map((w) => {
    const m = /^\s*\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(w);
    return m ? (JSON.parse(`"${m[1]}"`) as string) : w.trim();
  });
}

function rawRequest(conn: Conn, method: string, path: string, opts: RequestOptions = {}): Promise<HttpResult> {
  const url = new URL(path, conn.server);
  const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' };
  const token = opts.token === undefined ? conn.token : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: Buffer | undefined;
  if (opts.body !== undefined) {
    payload = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
    headers['content-type'] = opts.contentType ?? 'application/json';
    // Node frames no body on DELETE by default: always say how long it is.
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolvePromise, reject) => {
    // A large body gets its own connection: a server that answers before reading it all (413)
    // leaves the socket unusable for the next request.
    const agent = payload && payload.length > 1024 * 1024 ? false : conn.agent;
    const req = https.request(url, { method, headers, ca: conn.ca, agent, timeout: opts.timeoutMs ?? 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolvePromise({ code: res.statusCode ?? 0, body, text, headers: res.headers, warnings: decodeWarnings(res.headers.warning) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in time`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function rawWatch(conn: Conn, path: string, accept = 'application/json'): StreamHandle {
  const url = new URL(path, conn.server);
  if (!url.searchParams.has('watch')) url.searchParams.set('watch', '1');
  const events: StreamHandle['events'] = [];
  let req: ReturnType<typeof https.request> | undefined;
  const code = new Promise<number>((resolveCode, reject) => {
    req = https.request(url, { method: 'GET', headers: { accept, authorization: `Bearer ${conn.token}` }, ca: conn.ca, agent: false }, (res) => {
      resolveCode(res.statusCode ?? 0);
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) events.push(JSON.parse(line) as StreamHandle['events'][number]);
        }
      });
      res.on('error', () => {});
    });
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
    });
    req.end();
  });
  code.catch(() => {});
  return { events, code, stop: () => req?.destroy() };
}

function makeKubectl(kubeconfigPath: string, cacheDir: string) {
  const bin = kubectlPath();
  const run = async (args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> => {
    if (!bin) throw new Error('kubectl v1.36 is not built: run bash test/controlplane/build.sh');
    return runCommand(bin, [`--kubeconfig=${kubeconfigPath}`, `--cache-dir=${cacheDir}`, ...args], opts);
  };
  const stream = (args: string[]) => {
    if (!bin) throw new Error('kubectl v1.36 is not built: run bash test/controlplane/build.sh');
    const child: ChildProcess = spawn(bin, [`--kubeconfig=${kubeconfigPath}`, `--cache-dir=${cacheDir}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<void>((r) => child.once('close', () => r()));
    return {
      output: () => out,
      stop: async () => {
        if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGTERM');
        await exited;
      },
    };
  };
  return { run, stream };
}

/** An ApiTarget onto a server that is already running, known by its kubeconfig. */
export function targetFromKubeconfig(
  name: ApiTarget['name'],
  kubeconfigPath: string,
  cacheDir: string,
  stop: () => Promise<void> = async () => {},
): ApiTarget {
  const conn = connFromKubeconfig(kubeconfigPath);
  const kubectl = makeKubectl(kubeconfigPath, join(cacheDir, 'kubectl-cache'));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  return {
    name,
    kubeconfigPath,
    kubeConfig,
    kubectl: kubectl.run,
    kubectlStream: kubectl.stream,
    request: (method, path, ropts) => rawRequest(conn, method, path, ropts),
    watch: (path, accept) => rawWatch(conn, path, accept),
    async stop() {
      conn.agent.destroy();
      await stop();
    },
  };
}

/** Installs the conformance suite's Widget CRD and waits until it is served. */
export async function installConformanceCrd(t: ApiTarget): Promise<void> {
  return installCrd(t);
}

export interface EmbeddedTarget extends ApiTarget {
  server: EmbeddedServer;
  stateDir: string;
}

/**
 * Starts the embedded API server on a free loopback port with a fresh state directory, the
 * repository's CRDs and the conformance CRD installed.
 */
export async function startEmbeddedTarget(opts: Partial<EmbeddedServerOptions> & { keepState?: boolean } = {}): Promise<EmbeddedTarget> {
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'outrigger-embedded-'));
  const server = await startEmbeddedServer({ port: 0, host: '127.0.0.1', ...opts, stateDir });
  const conn = connFromKubeconfig(server.kubeconfigPath);
  const kubectl = makeKubectl(server.kubeconfigPath, join(stateDir, 'kubectl-cache'));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(server.kubeconfigPath);
  const target: EmbeddedTarget = {
    name: 'embedded',
    server,
    stateDir,
    kubeconfigPath: server.kubeconfigPath,
    kubeConfig,
    kubectl: kubectl.run,
    kubectlStream: kubectl.stream,
    request: (method, path, ropts) => rawRequest(conn, method, path, ropts),
    watch: (path, accept) => rawWatch(conn, path, accept),
    async stop() {
      conn.agent.destroy();
      await target.server.close(); // the current server: a test may have restarted it
      if (!opts.keepState && !opts.stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
  await installConformanceCrd(target);
  return target;
}

/** The real kube-apiserver (the suite-wide one when test/run.ts started it). */
export async function kubeApiserverTarget(): Promise<ApiTarget & { controlPlane: ControlPlane }> {
  const cp = await useControlPlane();
  const conn = connFromKubeconfig(cp.kubeconfigPath);
  const cacheDir = mkdtempSync(join(tmpdir(), 'outrigger-kubectl-cache-'));
  const kubectl = makeKubectl(cp.kubeconfigPath, cacheDir);
  const target = {
    name: 'kube-apiserver' as const,
    controlPlane: cp,
    kubeconfigPath: cp.kubeconfigPath,
    kubeConfig: cp.kubeConfig,
    kubectl: kubectl.run,
    kubectlStream: kubectl.stream,
    request: (method: string, path: string, ropts?: RequestOptions) => rawRequest(conn, method, path, ropts),
    watch: (path: string, accept?: string) => rawWatch(conn, path, accept),
    async stop() {
      conn.agent.destroy();
      rmSync(cacheDir, { recursive: true, force: true });
      await cp.stop();
    },
  };
  await installConformanceCrd(target);
  return target;
}

async function installCrd(t: ApiTarget): Promise<void> {
  const crd = parseYaml(readFileSync(CONFORMANCE_CRD, 'utf8')) as Record<string, unknown>;
  const name = (crd.metadata as { name: string }).name;
  const res = await t.request('PATCH', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=conformance-suite&force=true`, {
    body: crd,
    contentType: 'application/apply-patch+yaml',
  });
  if (res.code >= 300) throw new Error(`installing ${name} on ${t.name}: HTTP ${res.code} ${res.text}`);
  for (let i = 0; i < 100; i++) {
    const d = await t.request('GET', '/apis/conformance.outrigger.dev/v1');
    const got = await t.request('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
    const established = ((got.body as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions ?? []).some(
      (c) => c.type === 'Established' && c.status === 'True',
    );
    if (d.code === 200 && established) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not become Established on ${t.name}`);
}

/** A fresh namespace for one test. */
export async function createNamespace(t: ApiTarget, prefix: string): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  const res = await t.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
  if (res.code !== 201) throw new Error(`creating namespace ${name} on ${t.name}: HTTP ${res.code} ${res.text}`);
  return name;
}
