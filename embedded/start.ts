// Starts the embedded API server: storage, the resource registry and its CRDs, the built-in
// controllers, TLS with token authentication on a loopback socket, and a kubeconfig for clients.
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ObjectStore } from './storage/store.ts';
import { Registry } from './kinds/registry.ts';
import { ResourceService } from './api/service.ts';
import { WatchHub } from './api/watch.ts';
import { OpenApi } from './api/openapi.ts';
import { createApiHandler, type RequestLog } from './server.ts';
import { certNames, servingCert } from './security/tls.ts';
import { loadOrCreateToken } from './security/token.ts';
import { renderKubeconfig, writeKubeconfig } from './security/kubeconfig.ts';
import { crdController } from './controllers/crd-lifecycle.ts';
import { namespaceController } from './controllers/namespace-lifecycle.ts';
import { garbageCollector } from './controllers/garbage-collector.ts';
import { eventExpiry } from './controllers/event-ttl.ts';
import type { Controller, ControllerContext } from './controllers/context.ts';
import { installCrds, readCrdFiles } from './crd-loader.ts';
import { namespaceType } from './kinds/builtin.ts';
import { isApiError } from './api/errors.ts';

export const DEFAULT_STATE_DIR = './.outrigger';
export const DEFAULT_PORT = 6443;
export const DEFAULT_HOST = '127.0.0.1';
const REPO_CRDS = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'crds');
const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export interface EmbeddedServerOptions {
  /** Where state, certificates, the token and the kubeconfig live (default ./.outrigger). */
  stateDir?: string;
  /** 0 picks a free port (default 6443). */
  port?: number;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Folder of CRD YAML to install at start (default: the repository's crds/); false for none. */
  crdDir?: string | false;
  /** Default <stateDir>/kubeconfig. */
  kubeconfigPath?: string;
  /** How many recent changes watches can resume from. */
  historyCapacity?: number;
  /** Journal size that triggers compaction into state.json. */
  compactAfterBytes?: number;
  bookmarkIntervalMs?: number;
  /** Informational and warning messages (no request bodies, no secrets). */
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  onRequest?: (entry: RequestLog) => void;
  /** Storage failed: the server refuses writes from now on; the caller should exit. */
  onFatal?: (err: Error) => void;
}

export interface EmbeddedServer {
  /** https://host:port */
  url: string;
  host: string;
  port: number;
  kubeconfigPath: string;
  token: string;
  caPem: string;
  stateDir: string;
  /** For tests and benchmarks. */
  store: ObjectStore;
  close(): Promise<void>;
}

export async function startEmbeddedServer(opts: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const stateDir = resolve(opts.stateDir ?? DEFAULT_STATE_DIR);
  const host = opts.host ?? DEFAULT_HOST;
  const log = opts.log ?? (() => {});
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });

  let fatal: Error | undefined;
  const store = await ObjectStore.open({
    dir: join(stateDir, 'db'),
    ...(opts.historyCapacity !== undefined ? { historyCapacity: opts.historyCapacity } : {}),
    ...(opts.compactAfterBytes !== undefined ? { compactAfterBytes: opts.compactAfterBytes } : {}),
    warn: (m) => log('warn', m),
    onFatal: (err) => {
      fatal = err;
      log('error', err.message);
      opts.onFatal?.(err);
    },
  });
  const controllers: Controller[] = [];
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  try {
    const registry = new Registry();
    const service = new ResourceService({ store, registry });
    const ctx: ControllerContext = { store, registry, service, warn: (m) => log('warn', m) };
    const crds = crdController(ctx);
    crds.start(); // serve stored CRDs before anything else
    controllers.push(crds, namespaceController(ctx), garbageCollector(ctx), eventExpiry(ctx));
    for (const c of controllers.slice(1)) c.start();

    for (const ns of SYSTEM_NAMESPACES) {
      if (store.get(namespaceType.storageResource, ns)) continue;
      try {
        await service.create({ rt: namespaceType, namespace: '' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, { fieldManager: 'outrigger-embedded', warnings: [] });
      } catch (err) {
        if (!(isApiError(err) && err.code === 409)) throw err;
      }
    }
    const crdDir = opts.crdDir === undefined ? REPO_CRDS : opts.crdDir;
    if (crdDir) {
      const installed = await installCrds(service, readCrdFiles(crdDir));
      if (installed.length) log('info', `installed ${installed.length} CRDs from ${crdDir}`);
    }

    const token = loadOrCreateToken(stateDir);
    const tls = servingCert(join(stateDir, 'tls'), certNames(host));
    const watches = new WatchHub(store, service, {
      bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 15_000,
      maxBufferedBytes: 64 * 1024 * 1024,
      defaultTimeoutMs: () => (1800 + Math.floor(Math.random() * 1800)) * 1000,
    });
    const openapi = new OpenApi(registry);
    let address = '';
    const handler = createApiHandler({
      store,
      registry,
      service,
      watches,
      openapi,
      token,
      serverAddress: () => address,
      ...(opts.onRequest ? { onRequest: opts.onRequest } : {}),
      onError: (err) => log('error', `request failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
    });
    const srv = createServer({ key: tls.keyPem, cert: tls.certPem, minVersion: 'TLSv1.2' }, handler);
    server = srv;
    srv.keepAliveTimeout = 65_000;
    srv.requestTimeout = 0; // watches are long-lived
    srv.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolveListen, reject) => {
      srv.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          reject(new Error(`${host}:${opts.port ?? DEFAULT_PORT} is already in use (another API server?): choose another port (--port, 0 picks a free one)`, { cause: err }));
        } else reject(err);
      });
      srv.listen(opts.port ?? DEFAULT_PORT, host, () => resolveListen());
    });
    const addr = srv.address();
    const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? DEFAULT_PORT);
    const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    address = `${urlHost}:${port}`;
    const url = `https://${address}`;
    const kubeconfigPath = resolve(opts.kubeconfigPath ?? join(stateDir, 'kubeconfig'));
    writeKubeconfig(kubeconfigPath, renderKubeconfig({ server: url, caPem: tls.caPem, token }));
    log('info', `embedded API server listening on ${url} (state in ${stateDir})`);

    let closing: Promise<void> | undefined;
    return {
      url,
      host,
      port,
      kubeconfigPath,
      token,
      caPem: tls.caPem,
      stateDir,
      store,
      close() {
        closing ??= (async () => {
          for (const c of controllers) c.stop();
          watches.stopAll();
          await new Promise<void>((r) => {
            srv.close(() => r());
            for (const s of sockets) s.destroy();
          });
          await store.close();
          if (fatal) log('warn', 'closed after a storage failure');
        })();
        return closing;
      },
    };
  } catch (err) {
    for (const c of controllers) c.stop();
    server?.close();
    await store.close();
    throw err;
  }
}
