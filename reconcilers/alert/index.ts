// Registers the Alert controller: the Alert informer, the reconciler, and what brings an Alert back
// before its next due time: its targets changing (Workspaces, ProxyRoutes, Labs, Secrets), their
// containers changing on an engine (the engine watchers' events, through ContainerHistory), its
// receivers' Secrets changing, and its silence annotations changing.
import { readFileSync } from 'node:fs';
import { generationChanged, objectKeyString, type Controller, type KubeObject, type ObjectKey } from '../../controller/index.ts';
import { alertKind, type ProxyRoute, type Workspace } from '../../crds/index.ts';
import { alertRef, labRef, proxyRouteRef, workspaceRef } from '../common/kinds.ts';
import { referentChanged } from '../common/references.ts';
import type { SecretObject } from '../common/secrets.ts';
import type { Platform } from '../platform.ts';
import { Notifier } from '../notify/index.ts';
import type { LabLike } from './evaluate.ts';
import { AlertMetrics } from './metrics.ts';
import type { Outbound } from './outbound.ts';
import { AlertReconciler, type AlertObject } from './reconciler.ts';
import { SILENCE_ALL_ANNOTATION, SILENCE_RULE_PREFIX } from './silences.ts';
import { HttpProber } from './sources/probe.ts';

export { AlertReasons } from './reasons.ts';
export { AlertReconciler, type AlertObject } from './reconciler.ts';
export { SILENCE_ALL_ANNOTATION, SILENCE_RULE_PREFIX } from './silences.ts';
export type { Outbound } from './outbound.ts';

export interface AlertControllerOptions {
  workers?: number;
  /** CA certificates trusted for probes and receivers besides the system's (default $OUTRIGGER_ALERT_CA_FILE's content). */
  ca?: string[];
  /** The outbound guard (default the platform's: the operator's allowed ranges and DNS servers). */
  outbound?: Outbound;
  certificateCheckMs?: number;
  timeoutMs?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  maxRequeueMs?: number;
}

export interface AlertController {
  controller: Controller<AlertObject>;
  reconciler: AlertReconciler;
  notifier: Notifier;
}

/** Silence annotations changed (they live in metadata, so the generation does not move). */
export function silenceAnnotationsChanged(oldObj: KubeObject, newObj: KubeObject): boolean {
  const pick = (o: KubeObject) => JSON.stringify(Object.entries(o.metadata.annotations ?? {}).filter(([k]) => k === SILENCE_ALL_ANNOTATION || k.startsWith(SILENCE_RULE_PREFIX)).sort());
  return pick(oldObj) !== pick(newObj);
}

export function registerAlertReconciler(platform: Platform, opts: AlertControllerOptions = {}): AlertController {
  const { manager } = platform;
  const informer = manager.informer<AlertObject>(alertRef, { namespace: platform.namespace });
  const workspaces = manager.informer<Workspace>(workspaceRef, { namespace: platform.namespace });
  const routes = manager.informer<ProxyRoute>(proxyRouteRef, { namespace: platform.namespace });
  const labs = manager.informer<LabLike>(labRef, { namespace: platform.namespace });
  const outbound = opts.outbound ?? platform.outbound;
  const ca = opts.ca;
  const prober = new HttpProber({ outbound, ...(ca ? { ca } : {}) });
  const notifier = new Notifier({ outbound, ...(ca ? { ca } : {}), now: () => manager.clock.now() });
  const reconciler = new AlertReconciler({
    client: manager.client<AlertObject>(alertRef),
    cache: informer,
    secrets: platform.secretReader,
    notifier,
    events: manager.events,
    clock: manager.clock,
    metrics: new AlertMetrics(manager.metrics.registry),
    sources: {
      workspaces, routes, labs, hosts: platform.hosts, secrets: platform.secrets, history: platform.containerHistory, connections: platform.connections, prober, outbound,
      certificateCheckMs: opts.certificateCheckMs ?? 3_600_000, timeoutMs: opts.timeoutMs ?? 10_000,
    },
    ...(opts.retryInitialMs !== undefined ? { retryInitialMs: opts.retryInitialMs } : {}),
    ...(opts.retryMaxMs !== undefined ? { retryMaxMs: opts.retryMaxMs } : {}),
    ...(opts.maxRequeueMs !== undefined ? { maxRequeueMs: opts.maxRequeueMs } : {}),
  });
  platform.references.track(alertKind, informer as never);
  const dependants = (referent: KubeObject, kind: string): ObjectKey[] => platform.references.dependantKeys(alertKind.kind, referent, kind);
  const controller = manager.addController<AlertObject>({
    name: 'alert',
    informer,
    reconciler,
    workers: opts.workers ?? 4,
    predicate: (o, n) => generationChanged(o, n) || silenceAnnotationsChanged(o, n),
    watches: [
      { informer: platform.secrets, predicate: referentChanged, map: (s: SecretObject) => dependants(s, 'Secret') },
      // A Workspace's status (phase, Idle) and a ProxyRoute's (its certificate) are inputs too.
      { informer: workspaces, map: (w: Workspace) => dependants(w, 'Workspace') },
      { informer: routes, map: (r: ProxyRoute) => dependants(r, 'ProxyRoute') },
      { informer: labs, map: (l: LabLike) => dependants(l, 'Lab') },
    ],
  });
  // A container died, started, vanished: the Alerts naming its owner look at once.
  platform.containerHistory.onChange((change) => {
    const [namespace, name] = change.key.split('/');
    for (const key of dependants({ metadata: { namespace, name } } as KubeObject, change.owner.kind)) if (informer.get(objectKeyString(key))) controller.enqueue(key);
  });
  informer.addHandler({ onDelete: (obj) => reconciler.forget(obj) });
  manager.once('stopped', () => {
    void prober.close();
    void notifier.close();
  });
  return { controller, reconciler, notifier };
}

export const alertRegistration = { kind: 'Alert', register: (platform: Platform): void => { registerAlertReconciler(platform, { ...caFromEnvironment() }); } };

/** $OUTRIGGER_ALERT_CA_FILE: a PEM bundle of CAs trusted for probes and receivers (a private PKI). */
function caFromEnvironment(): { ca?: string[] } {
  const file = process.env.OUTRIGGER_ALERT_CA_FILE;
  if (!file) return {};
  // Read once at start; a missing file is the operator's mistake and stops the controller.
  return { ca: [readFileSync(file, 'utf8')] };
}
