// What the ProxyRoute and Host integration tests share: a real kube-apiserver, real test hosts
// (network namespaces with sshd and nginx), and the real controller (Host and ProxyRoute
// reconcilers on one Manager) running in this process with its logs captured, so tests can grep
// them for secrets. Not a test file itself.
import { Writable } from 'node:stream';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Manager, ResourceClient, KubeRest, createLogger, type KubeObject } from '../../controller/index.ts';
import type { Host, ProxyRoute, Workspace } from '../../crds/index.ts';
import { createPlatform, type Platform } from '../../reconcilers/platform.ts';
import type { OutboundConfig } from '../../reconcilers/net/index.ts';
import { HostConnections } from '../../reconcilers/hosts.ts';
import { SshPool } from '../../reconcilers/ssh/index.ts';
import { hostRef, proxyRouteRef, secretRef, workspaceRef } from '../../reconcilers/common/kinds.ts';
import { addHostController, type HostControllerOptions } from '../../reconcilers/host/index.ts';
import { addProxyRouteController, type ProxyRouteController, type ProxyRouteControllerOptions } from '../../reconcilers/proxyroute/index.ts';
import type { SecretObject } from '../../reconcilers/common/secrets.ts';
import { createTestNamespace, useControlPlane, type ControlPlane, type TestNamespace } from '../fixtures/controlplane.ts';
import { startTestHosts, type TestHost, type TestHosts } from '../fixtures/hosts.ts';

export interface Harness {
  cp: ControlPlane;
  fixture: TestHosts;
  hosts: TestHost[];
  ns: TestNamespace;
  manager: Manager;
  platform: Platform;
  proxyRoutes: ProxyRouteController;
  rest: KubeRest;
  routes: ResourceClient<ProxyRoute>;
  hostObjects: ResourceClient<Host>;
  secrets: ResourceClient<SecretObject>;
  workspaces: ResourceClient<Workspace>;
  /** Every log line the controller wrote so far (JSON, one per line). */
  logs(): string;
  /** Stops the controller (as a crash or an upgrade would); the API and the hosts stay. */
  stopController(): Promise<void>;
  /** Starts a new controller process's worth of state: manager, pool, caches (replaces the fields above). */
  startController(): Promise<void>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  hosts: number;
  prefix: string;
  proxyRoute?: ProxyRouteControllerOptions;
  host?: HostControllerOptions;
  /** More controllers on the same manager (registered before it starts). */
  register?: (platform: Platform) => void;
  /** The controller's outbound settings (e.g. the test DNS server for upstream names). */
  outbound?: OutboundConfig;
}

interface ControllerParts { manager: Manager; platform: Platform; proxyRoutes: ProxyRouteController }

async function startController(cp: ControlPlane, namespace: string, opts: HarnessOptions, sink: Writable): Promise<ControllerParts> {
  const logger = createLogger({ level: 'debug', destination: sink });
  const manager = new Manager({ kubeConfig: cp.kubeConfig, logger, httpAddress: null, gracefulShutdownMs: 10_000 });
  const base = createPlatform(manager, { namespace, ...(opts.outbound ? { outbound: opts.outbound } : {}) });
  // A pool that retries a dead host quickly, so recovery tests take seconds rather than the
  // production backoff's half minute.
  const sshPool = new SshPool({ backoff: { initialMs: 200, maxMs: 1_000, jitter: 0.1 }, connectTimeoutMs: 5_000 });
  base.sshPool.close();
  const platform: Platform = { ...base, sshPool, connections: new HostConnections({ secrets: base.secretReader, sshPool, engines: base.engines }) };
  manager.once('stopped', () => sshPool.close());
  addHostController(platform, { probeIntervalMs: 3_000, retryInitialMs: 300, ...opts.host });
  const proxyRoutes = addProxyRouteController(platform, { driftIntervalMs: 2_000, retryInitialMs: 300, retryMaxMs: 1_500, ...opts.proxyRoute });
  opts.register?.(platform);
  await manager.start();
  return { manager, platform, proxyRoutes };
}

export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  const cp = await useControlPlane();
  const fixture = await startTestHosts(opts.hosts);
  const ns = await createTestNamespace(cp.kubeConfig, opts.prefix);
  const chunks: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { chunks.push(chunk.toString()); done(); } });
  const rest = new KubeRest(cp.kubeConfig);
  let running: boolean;
  const harness: Harness = {
    cp, fixture, hosts: fixture.hosts, ns, rest,
    ...(await startController(cp, ns.name, opts, sink)),
    routes: new ResourceClient<ProxyRoute>(rest, proxyRouteRef),
    hostObjects: new ResourceClient<Host>(rest, hostRef),
    secrets: new ResourceClient<SecretObject>(rest, secretRef),
    workspaces: new ResourceClient<Workspace>(rest, workspaceRef),
    logs: () => chunks.join(''),
    async stopController() {
      running = false;
      await harness.manager.stop();
    },
    async startController() {
      Object.assign(harness, await startController(cp, ns.name, opts, sink));
      running = true;
    },
    async stop() {
      if (running) await harness.manager.stop();
      rest.close();
      await fixture.teardown();
      await ns.delete();
    },
  };
  running = true;
  return harness;
}

export const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** The SSH key Secret and the Host object for a test host (nginx settings of the fixture). */
export async function createHost(h: Harness, name: string, host: TestHost, overrides: { hostKey?: string; address?: string; port?: number } = {}): Promise<Host> {
  await h.secrets.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-ssh`, namespace: h.ns.name }, type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': b64(host.clientPrivateKey) } } as SecretObject).catch((err) => {
    if (!String(err).includes('409')) throw err;
  });
  return h.hostObjects.create({
    apiVersion: 'outrigger.dev/v1alpha1',
    kind: 'Host',
    metadata: { name, namespace: h.ns.name },
    spec: {
      address: overrides.address ?? host.address,
      ssh: { port: overrides.port ?? host.sshPort, user: host.username, privateKeySecretRef: { name: `${name}-ssh`, key: 'ssh-privatekey' }, hostKey: overrides.hostKey ?? host.hostPublicKey },
      nginx: {
        configDir: host.nginx.managedDir,
        mainConfigFile: host.nginx.configFile,
        errorLogFile: host.nginx.errorLog,
        testCommand: host.nginx.testCommand,
        reloadCommand: host.nginx.reloadCommand,
        workerGroup: host.nginx.workerGroup,
        statusPort: host.nginx.statusPort,
      },
    },
  } as unknown as Host);
}

export function httpRoute(h: Harness, name: string, hostName: string, port: number, extra: Record<string, unknown> = {}): ProxyRoute {
  return {
    apiVersion: 'outrigger.dev/v1alpha1',
    kind: 'ProxyRoute',
    metadata: { name, namespace: h.ns.name },
    spec: { hostRef: { name: hostName }, serverNames: [`${name}.test`], routes: [{ path: '/', upstream: { address: '127.0.0.1', port } }], ...extra },
  } as unknown as ProxyRoute;
}

/** The route's directory on the host (exists once any of its files was written). */
export function routeDir(h: Harness, host: TestHost, name: string): string {
  return join(host.nginx.managedDir, 'routes', `${h.ns.name}_${name}`);
}

export function routeFilesOnHost(h: Harness, host: TestHost, name: string): string[] {
  const dir = routeDir(h, host, name);
  return existsSync(dir) ? readdirSync(dir) : [];
}

export function readyOf(obj: KubeObject & { status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } }) {
  return obj.status?.conditions?.find((c) => c.type === 'Ready');
}
