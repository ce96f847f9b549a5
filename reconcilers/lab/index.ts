// Registers the Lab controller with a manager: the Lab informer, the reconciler, and what else
// makes a Lab worth another look: its SSH key Secret and its Hosts changing, its machines changing
// on an engine (the engine watcher's events, within moments), and the revert and start annotations.
import { generationChanged, objectKeyString, parseObjectKey, type Controller, type KubeObject } from '../../controller/index.ts';
import { labKind, proxmoxClusterKind, type Host, type ProxmoxCluster } from '../../crds/index.ts';
import { labRef, proxmoxClusterRef } from '../common/kinds.ts';
import { referentChanged } from '../common/references.ts';
import type { SecretObject } from '../common/secrets.ts';
import { DEFAULT_INSTANCE } from '../docker/index.ts';
import type { Platform } from '../platform.ts';
import { ProxmoxConnections, type ProxmoxConnectionsOptions } from '../proxmox-clusters.ts';
import { LabEngines } from './engines.ts';
import { LabMetrics } from './metrics.ts';
import { LabReconciler, type LabReconcilerOptions } from './reconciler.ts';
import { START_ANNOTATION } from './schedule.ts';
import { REVERT_ANNOTATION, type LabObject } from './session.ts';

export { LabReasons } from './reasons.ts';
export { LabReconciler } from './reconciler.ts';
export { REVERT_ANNOTATION, type LabObject } from './session.ts';
export { START_ANNOTATION } from './schedule.ts';
export { accessSecretName } from './access.ts';

/** The Docker label value separating controller instances that share an engine (the Workspace's too). */
export const INSTANCE_ENV = 'OUTRIGGER_DOCKER_INSTANCE';
export const WORKERS_ENV = 'OUTRIGGER_LAB_WORKERS';

export interface LabControllerOptions extends LabReconcilerOptions {
  /** Proxmox connections (shared with other kinds when given); default: one of the Lab's own. */
  proxmox?: ProxmoxConnections;
  /** Where user-data snippets of a cluster go, for VMs with packages or commands. */
  proxmoxSnippets?: ProxmoxConnectionsOptions['snippets'];
  instance?: string;
  workers?: number;
  engineResyncMs?: number;
  stopTimeoutSeconds?: number;
}

export interface LabController {
  controller: Controller<LabObject>;
  reconciler: LabReconciler;
  engines: LabEngines;
}

const annotationsChanged = (a: KubeObject, b: KubeObject): boolean =>
  [REVERT_ANNOTATION, START_ANNOTATION].some((k) => a.metadata.annotations?.[k] !== b.metadata.annotations?.[k]);

export function registerLabReconciler(platform: Platform, opts: LabControllerOptions = {}): LabController {
  const { manager } = platform;
  const informer = manager.informer<LabObject>(labRef, { namespace: platform.namespace });
  const envWorkers = Number(process.env[WORKERS_ENV]);
  let controller: Controller<LabObject> | undefined;
  const dependants = (referent: KubeObject, kind: string) => platform.references.dependantKeys(labKind.kind, referent, kind);
  const engines = new LabEngines({
    instance: opts.instance ?? (process.env[INSTANCE_ENV] || DEFAULT_INSTANCE),
    resyncMs: opts.engineResyncMs ?? 30_000,
    stopTimeoutSeconds: opts.stopTimeoutSeconds ?? 10,
    log: manager.log.child({ controller: 'lab' }),
    onChange: (change) => {
      if (change.owner.kind === labKind.kind && informer.get(change.key)) controller?.enqueue(parseObjectKey(change.key));
    },
    // An engine that stopped answering or came back: its Labs are looked at now.
    onHealth: (_healthy, bundle) => {
      const host = platform.hosts.list().find((h) => h.metadata.uid === bundle.hostUid);
      if (host) for (const key of dependants(host, 'Host')) controller?.wake(key);
    },
  });
  const metrics = new LabMetrics(manager.metrics.registry);
  const clusters = manager.informer<ProxmoxCluster>(proxmoxClusterRef, { namespace: platform.namespace });
  const connections = opts.proxmox ?? new ProxmoxConnections({ secrets: platform.secretReader, ...(opts.proxmoxSnippets ? { snippets: opts.proxmoxSnippets } : {}) });
  const reconciler = new LabReconciler(platform, engines, metrics, { clusters, connections }, { ...opts, read: (key) => informer.get(objectKeyString(key)) });

  platform.references.track(labKind, informer);
  platform.references.track(proxmoxClusterKind, clusters);
  controller = manager.addController<LabObject>({
    name: 'lab',
    informer,
    reconciler,
    workers: opts.workers ?? (Number.isInteger(envWorkers) && envWorkers > 0 ? envWorkers : 4),
    reconcileTimeoutMs: 10 * 60_000,
    predicate: (oldObj, newObj) => generationChanged(oldObj, newObj) || annotationsChanged(oldObj, newObj),
    backoff: { initialMs: 500, maxMs: 5 * 60_000, factor: 2 },
    watches: [
      // The Secrets a Lab reads, and the token Secrets of the clusters it names.
      {
        informer: platform.secrets,
        predicate: referentChanged,
        map: (secret: SecretObject) => [
          ...dependants(secret, 'Secret'),
          ...platform.references.dependantKeys(proxmoxClusterKind.kind, secret, 'Secret').flatMap((c) => {
            const cluster = clusters.get(`${c.namespace}/${c.name}`);
            return cluster ? dependants(cluster, 'ProxmoxCluster') : [];
          }),
        ],
      },
      { informer: platform.hosts, predicate: referentChanged, map: (host: Host) => dependants(host, 'Host') },
      { informer: clusters, predicate: referentChanged, map: (cluster: ProxmoxCluster) => dependants(cluster, 'ProxmoxCluster') },
    ],
  });
  clusters.addHandler({ onDelete: (cluster) => { if (!opts.proxmox) void connections.release(cluster); } });
  platform.hosts.addHandler({ onDelete: (host) => { if (host.metadata.uid) engines.release(host.metadata.uid); } });
  informer.addHandler({ onDelete: (obj) => reconciler.forget(obj.metadata.uid) });
  manager.once('stopped', () => {
    void engines.stopAll();
    if (!opts.proxmox) void connections.closeAll();
  });
  return { controller, reconciler, engines };
}

export const labRegistration = { kind: 'Lab', register: (platform: Platform): void => { registerLabReconciler(platform); } };
