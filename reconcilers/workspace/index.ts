// Registers the Workspace controller with a manager: the Workspace informer, the reconciler, and
// what else makes a Workspace worth another look: its Secrets and Host changing, and its
// container changing on the engine (the engine watcher's events, within moments).
import { generationChanged, keyOf, objectKeyString, parseObjectKey, type Controller, type KubeObject } from '../../controller/index.ts';
import type { Host } from '../../crds/index.ts';
import { workspaceRef } from '../common/kinds.ts';
import type { SecretObject } from '../common/secrets.ts';
import type { Platform } from '../platform.ts';
import { DEFAULT_INSTANCE } from '../docker/index.ts';
import { EngineWatchers } from './engines.ts';
import { wakeAnnotationChanged } from './idle.ts';
import { WorkspaceReconciler, type WorkspaceObject, type WorkspaceReconcilerOptions } from './reconciler.ts';

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
    onChange: (change) => {
      // Only Workspaces this controller watches (another namespace's are another controller's),
      // and not for the echo of our own calls.
      if (reconciler.noteContainerChange(change) && informer.get(change.key)) controller?.enqueue(parseObjectKey(change.key));
    },
  });
  // Reads come from the informer: no GET per reconcile (the write after a stale read conflicts and is retried).
  const reconciler = new WorkspaceReconciler(platform, watchers, { ...opts, read: (key) => informer.get(objectKeyString(key)) });

  const hostGenerations = new Map<string, number | undefined>();
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
      { informer: platform.secrets, map: (secret: SecretObject) => workspacesUsingSecret(informer.list(), platform.hosts.list(), secret) },
      {
        informer: platform.hosts,
        map: (host: Host) => {
          // Status-only updates of a Host (its probe) change nothing for workspaces.
          const key = keyOf(host);
          const present = platform.hosts.get(key) !== undefined;
          if (present && hostGenerations.has(key) && hostGenerations.get(key) === host.metadata.generation) return [];
          if (present) hostGenerations.set(key, host.metadata.generation);
          else hostGenerations.delete(key);
          return workspacesOnHost(informer.list(), host.metadata.namespace ?? '', host.metadata.name ?? '');
        },
      },
    ],
  });
  informer.addHandler({ onDelete: (obj) => reconciler.forget(obj.metadata.uid) });
  manager.once('stopped', () => void watchers.stopAll());
  return { controller, reconciler, watchers };
}

function keysOf(objects: KubeObject[]) {
  return objects.map((o) => parseObjectKey(keyOf(o)));
}

export function workspacesOnHost(workspaces: WorkspaceObject[], namespace: string, hostName: string) {
  return keysOf(workspaces.filter((w) => w.metadata.namespace === namespace && w.spec?.runtime?.docker?.hostRef?.name === hostName));
}

/** Secrets a Workspace reads directly (env, files, editor password). */
export function secretNamesOf(ws: WorkspaceObject): string[] {
  const spec = ws.spec;
  if (!spec) return [];
  return [
    ...(spec.env ?? []).flatMap((e) => (e.secretKeyRef ? [e.secretKeyRef.name] : [])),
    ...(spec.files ?? []).map((f) => f.secretKeyRef.name),
    ...(spec.editor?.passwordSecretRef ? [spec.editor.passwordSecretRef.name] : []),
  ];
}

/** Workspaces that read this Secret, directly or through their Host's connection settings. */
export function workspacesUsingSecret(workspaces: WorkspaceObject[], hosts: Host[], secret: SecretObject) {
  const namespace = secret.metadata.namespace;
  const name = secret.metadata.name ?? '';
  const hostsUsing = new Set(
    hosts
      .filter((h) => h.metadata.namespace === namespace)
      .filter((h) => h.spec?.docker?.tcp?.tlsSecretRef.name === name || h.spec?.ssh?.privateKeySecretRef.name === name || h.spec?.ssh?.passphraseSecretRef?.name === name)
      .map((h) => h.metadata.name),
  );
  return keysOf(
    workspaces.filter(
      (w) => w.metadata.namespace === namespace && (secretNamesOf(w).includes(name) || hostsUsing.has(w.spec?.runtime?.docker?.hostRef?.name)),
    ),
  );
}

export const workspaceRegistration = { kind: 'Workspace', register: (platform: Platform): void => { registerWorkspaceReconciler(platform); } };
