// Registers the Workspace controller with a manager: the Workspace informer, the reconciler, and
// what else makes a Workspace worth another look: its Secrets and Host changing, and its
// container changing on the engine (the engine watcher's events, within moments).
import { generationChanged, objectKeyString, parseObjectKey, type Controller, type KubeObject } from '../../controller/index.ts';
import { hostKind, workspaceKind, type Host } from '../../crds/index.ts';
import { workspaceRef } from '../common/kinds.ts';
import { referentChanged } from '../common/references.ts';
import type { SecretObject } from '../common/secrets.ts';
import type { Platform } from '../platform.ts';
import { DEFAULT_INSTANCE } from '../docker/index.ts';
import { EngineWatchers } from './engines.ts';
import { wakeAnnotationChanged } from './idle.ts';
import { WorkspaceReconciler, type WorkspaceObject, type WorkspaceReconcilerOptions } from './reconciler.ts';

export { WorkspaceReasons } from './reasons.ts';
export { WorkspaceReconciler, type WorkspaceObject } from './reconciler.ts';
export { EngineWatchers } from './engines.ts';
export { WAKE_ANNOTATION, IDLE_CONDITION } from './idle.ts';
export { BOOTSTRAPPED_CONDITION, HOME_SIZE_CONDITION } from './status.ts';
export { buildTarget, OWNER_LABEL } from './target.ts';

/** The Docker label value separating controller instances that share an engine. */
export const INSTANCE_ENV = 'OUTRIGGER_DOCKER_INSTANCE';
export const WORKERS_ENV = 'OUTRIGGER_WORKSPACE_WORKERS';

export interface WorkspaceControllerOptions extends WorkspaceReconcilerOptions {
  /** Label value `dev.outrigger.managed-by` (default $OUTRIGGER_DOCKER_INSTANCE, else "outrigger"). */
  instance?: string;
  /** Concurrent reconciles (default $OUTRIGGER_WORKSPACE_WORKERS, else 8). */
  workers?: number;
  /** Period of each engine's fallback container list (default 30 s). */
  engineResyncMs?: number;
  stopTimeoutSeconds?: number;
}

export interface WorkspaceController {
  controller: Controller<WorkspaceObject>;
  reconciler: WorkspaceReconciler;
  watchers: EngineWatchers;
}

export function registerWorkspaceReconciler(platform: Platform, opts: WorkspaceControllerOptions = {}): WorkspaceController {
  const { manager } = platform;
  const informer = manager.informer<WorkspaceObject>(workspaceRef, { namespace: platform.namespace });
  const envWorkers = Number(process.env[WORKERS_ENV]);
  let controller: Controller<WorkspaceObject> | undefined;
  const watchers = new EngineWatchers({
    instance: opts.instance ?? (process.env[INSTANCE_ENV] || DEFAULT_INSTANCE),
    resyncMs: opts.engineResyncMs ?? 30_000,
    stopTimeoutSeconds: opts.stopTimeoutSeconds ?? 10,
    log: manager.log.child({ controller: 'workspace' }),
    history: platform.containerHistory,
    // An engine that stopped answering or came back: every Workspace on it is looked at now (and
    // any backoff forgotten), so status says Unreachable at once and recovers at once.
    onHealth: (_healthy, bundle) => {
      const host = platform.hosts.list().find((h) => h.metadata.uid === bundle.hostUid);
      if (host) for (const key of dependants(host, 'Host')) controller?.wake(key);
    },
    onChange: (change) => {
      // Only Workspaces this controller watches (another namespace's are another controller's),
      // and not for the echo of our own calls.
      if (reconciler.noteContainerChange(change) && informer.get(change.key)) controller?.enqueue(parseObjectKey(change.key));
    },
  });
  // Reads come from the informer: no GET per reconcile (the write after a stale read conflicts and is retried).
  const reconciler = new WorkspaceReconciler(platform, watchers, { ...opts, read: (key) => informer.get(objectKeyString(key)) });

  platform.references.track(workspaceKind, informer);
  const dependants = (referent: KubeObject, kind: string) => platform.references.dependantKeys(workspaceKind.kind, referent, kind);
  controller = manager.addController<WorkspaceObject>({
    name: 'workspace',
    informer,
    reconciler,
    workers: opts.workers ?? (Number.isInteger(envWorkers) && envWorkers > 0 ? envWorkers : 8),
    // Above the bootstrap step's own deadline (5 min).
    reconcileTimeoutMs: 10 * 60_000,
    predicate: (oldObj, newObj) => generationChanged(oldObj, newObj) || wakeAnnotationChanged(oldObj, newObj),
    backoff: { initialMs: 250, maxMs: 5 * 60_000, factor: 2 },
    watches: [
      // The Secrets a Workspace reads directly, and those its Host's connection reads.
      {
        informer: platform.secrets,
        predicate: referentChanged,
        map: (secret: SecretObject) => [
          ...dependants(secret, 'Secret'),
          ...platform.references.dependantKeys(hostKind.kind, secret, 'Secret').flatMap((h) => {
            const host = platform.hosts.get(`${h.namespace}/${h.name}`);
            return host ? dependants(host, 'Host') : [];
          }),
        ],
      },
      { informer: platform.hosts, predicate: referentChanged, map: (host: Host) => dependants(host, 'Host') },
    ],
  });
  // A Host gone: its engine watcher and connections close with it.
  platform.hosts.addHandler({ onDelete: (host) => { if (host.metadata.uid) watchers.release(host.metadata.uid); } });
  // The last Workspace on a Host gone: nothing needs that engine watched any more.
  platform.references.onChange((ids) => {
    for (const id of ids) {
      if (!id.startsWith('Host/')) continue;
      const host = platform.hosts.get(id.slice('Host/'.length));
      if (host?.metadata.uid && dependants(host, 'Host').length === 0) watchers.release(host.metadata.uid);
    }
  });
  informer.addHandler({ onDelete: (obj) => reconciler.forget(obj.metadata.uid) });
  manager.once('stopped', () => void watchers.stopAll());
  return { controller, reconciler, watchers };
}

export const workspaceRegistration = { kind: 'Workspace', register: (platform: Platform): void => { registerWorkspaceReconciler(platform); } };
