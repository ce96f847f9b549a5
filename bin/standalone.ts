// Standalone mode, for one machine and no cluster: the embedded Kubernetes-compatible API (state in
// ./.outrigger) and the controller in one process. The controller is the same code as in a cluster;
// it only ever talks to the API through the kubeconfig the embedded server writes.
import { relative } from 'node:path';
import { runControllerProcess } from '../controller/main.ts';
import { DEFAULT_PORT, DEFAULT_STATE_DIR, startEmbeddedServer } from '../embedded/start.ts';
import { registerReconcilers } from '../reconcilers/index.ts';
import type { OutboundConfig } from '../reconcilers/net/index.ts';

export interface StandaloneOptions {
  stateDir?: string;
  port?: number;
  httpBindAddress?: string;
  logLevel?: string;
  /** Allowed outbound ranges and DNS servers (the operator's, never a user's). */
  outbound?: OutboundConfig;
}

export async function runStandalone(opts: StandaloneOptions): Promise<void> {
  const stateDir = opts.stateDir ?? DEFAULT_STATE_DIR;
  const api = await startEmbeddedServer({
    stateDir,
    port: opts.port ?? DEFAULT_PORT,
    log: (level, message) => { if (level !== 'info') process.stderr.write(`[embedded-api] ${level}: ${message}\n`); },
    onFatal: (err) => {
      process.stderr.write(`[embedded-api] storage failed, stopping: ${err.message}\n`);
      process.exit(1);
    },
  });
  const kubeconfig = relative(process.cwd(), api.kubeconfigPath) || api.kubeconfigPath;
  process.stderr.write(`
Outrigger is running standalone: an embedded Kubernetes API at ${api.url}, state in ${stateDir}.
Use it with kubectl:

  export KUBECONFIG=${api.kubeconfigPath}
  kubectl apply -f examples/01-local-docker-host.yaml -f examples/02-workspace.yaml
  kubectl get outrigger
  kubectl wait --for=condition=Ready workspace/alice --timeout=5m

(kubeconfig: ${kubeconfig}; stop with Ctrl-C; to run against a cluster instead: npm start -- --cluster)

`);
  await runControllerProcess({
    kubeconfig: api.kubeconfigPath,
    httpBindAddress: opts.httpBindAddress ?? '127.0.0.1:8080',
    logLevel: opts.logLevel,
    afterStop: () => api.close(),
  }, (manager, o) => registerReconcilers(manager, { ...o, outbound: opts.outbound }));
}
