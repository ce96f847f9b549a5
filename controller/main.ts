// Runs a controller process: loads the Kubernetes configuration, starts the manager with every
// reconciler, and shuts down in order on SIGTERM or SIGINT (within 30 s, then exits regardless).
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from './logger.ts';
import { Manager } from './manager.ts';
import { errorMessage } from './errors.ts';

export interface ControllerProcessOptions {
  kubeconfig?: string;
  kubeConfig?: KubeConfig;
  namespace?: string;
  leaderElect?: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId?: string;
  httpBindAddress?: string;
  logLevel?: string;
  /** Runs after the manager stopped, before the process exits (e.g. to close an embedded API). */
  afterStop?: () => Promise<void>;
}

/** The reconcilers to run; given by the caller so controller/ never imports reconcilers/. */
export type Registrar = (manager: Manager, opts: { namespace?: string }) => string[];

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export function parseBindAddress(value: string): { host: string; port: number } | null {
  if (value === '0' || value === 'off') return null;
  const match = /^(.*):(\d+)$/.exec(value);
  if (!match) throw new Error(`--http-bind-address must be HOST:PORT, got "${value}"`);
  return { host: match[1] || '0.0.0.0', port: Number(match[2]) };
}

export async function runControllerProcess(opts: ControllerProcessOptions, register: Registrar): Promise<Manager> {
  const logger = createLogger({ level: opts.logLevel });
  const kubeConfig = opts.kubeConfig ?? loadKubeConfig(opts.kubeconfig);
  const manager = new Manager({
    kubeConfig,
    logger,
    defaultMetrics: true,
    httpAddress: parseBindAddress(opts.httpBindAddress ?? '0.0.0.0:8080'),
    leaderElection: opts.leaderElect
      ? { namespace: opts.leaderElectionNamespace ?? process.env.POD_NAMESPACE ?? 'default', name: opts.leaderElectionId ?? 'outrigger-controller' }
      : false,
  });
  const kinds = register(manager, { namespace: opts.namespace });
  let exiting = false;
  const shutdown = (signal: string) => {
    if (exiting) return;
    exiting = true;
    logger.info({ signal }, 'shutting down');
    const hardStop = setTimeout(() => {
      logger.error('shutdown took longer than 30 s; exiting');
      process.exit(1);
    }, 30_000);
    hardStop.unref();
    void manager.stop().then(() => opts.afterStop?.()).then(() => { logger.flush(); process.exit(0); });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  manager.on('leadershipLost', () => {
    logger.error('lost leadership; exiting so the process restarts as a candidate');
    void manager.stop().then(() => opts.afterStop?.()).then(() => process.exit(1));
  });
  try {
    await manager.start();
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'could not start the manager');
    process.exit(1);
  }
  logger.info({ kinds, server: manager.rest.server, namespace: opts.namespace ?? '(all)', httpPort: manager.httpPort }, 'controller started');
  return manager;
}
