// What the Alert integration tests share: a real kube-apiserver and the real Alert controller in
// this process on a fake clock (every timing rule, group_wait, repeat, for, expiry thresholds, is
// driven by hand), with its logs captured so tests can grep them for secrets. The controller can
// be stopped and a fresh one started (a restart or a leader change: new memory, same API).
// Not a test file itself.
import { Writable } from 'node:stream';
import { FakeClock, KubeRest, Manager, ResourceClient, createLogger, realClock, type Clock, type Controller } from '../../controller/index.ts';
import { createPlatform, type Platform } from '../../reconcilers/platform.ts';
import { alertRef, secretRef } from '../../reconcilers/common/kinds.ts';
import { registerAlertReconciler, type AlertControllerOptions, type AlertObject } from '../../reconcilers/alert/index.ts';
import type { SecretObject } from '../../reconcilers/common/secrets.ts';
import { createTestNamespace, useControlPlane, type ControlPlane, type TestNamespace } from '../fixtures/controlplane.ts';
import { waitFor } from '../fixtures/wait.ts';

export interface AlertHarness {
  cp: ControlPlane;
  ns: TestNamespace;
  /** The fake clock (with `realClock: true`, one whose advance does nothing). */
  clock: FakeClock;
  rest: KubeRest;
  alerts: ResourceClient<AlertObject>;
  secrets: ResourceClient<SecretObject>;
  manager: Manager;
  platform: Platform;
  controller: Controller<AlertObject>;
  logs(): string;
  /** Moves the fake clock and waits until the controller has worked through what fell due. */
  advance(ms: number): Promise<void>;
  /** Waits until no reconcile is queued or running and one finished since `since` reconciles. */
  settle(since?: number): Promise<void>;
  reconciles(): number;
  alert(name: string): Promise<AlertObject>;
  events(): Promise<Array<{ reason?: string; note?: string; type?: string; regarding?: { name?: string } }>>;
  stopController(): Promise<void>;
  startController(): Promise<void>;
  stop(): Promise<void>;
}

export interface AlertHarnessOptions {
  prefix: string;
  alert?: AlertControllerOptions;
  /** More controllers on the same manager (registered before it starts). */
  register?: (platform: Platform) => void;
  /** Start of the fake clock (default now). */
  startMs?: number;
  /** Run on the real clock (for servers that judge times by their own clock, as Alertmanager does). */
  realClock?: boolean;
}

export async function startAlertHarness(opts: AlertHarnessOptions): Promise<AlertHarness> {
  const cp = await useControlPlane();
  const ns = await createTestNamespace(cp.kubeConfig, opts.prefix);
  const clock = new FakeClock(opts.startMs ?? Date.now());
  const managerClock: Clock = opts.realClock ? realClock : clock;
  const chunks: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { chunks.push(chunk.toString()); done(); } });
  const rest = new KubeRest(cp.kubeConfig);
  let running = false;
  let total = 0;
  const start = async () => {
    const logger = createLogger({ level: 'debug', destination: sink });
    const manager = new Manager({ kubeConfig: cp.kubeConfig, logger, httpAddress: null, gracefulShutdownMs: 10_000, clock: managerClock });
    // The receivers and probe targets of these tests listen on loopback, which the operator allows.
    const platform = createPlatform(manager, { namespace: ns.name, outbound: { allowCidrs: ['127.0.0.0/8'] } });
    const { controller } = registerAlertReconciler(platform, { retryInitialMs: 1_000, retryMaxMs: 60_000, ...opts.alert });
    opts.register?.(platform);
    await manager.start();
    running = true;
    return { manager, platform, controller };
  };
  const count = (c: Controller<AlertObject>) => c.counts.success + c.counts.error + c.counts.terminal + c.counts.requeue + c.counts.requeueAfter;
  const h: AlertHarness = {
    cp, ns, clock, rest,
    alerts: new ResourceClient<AlertObject>(rest, alertRef),
    secrets: new ResourceClient<SecretObject>(rest, secretRef),
    ...(await start()),
    logs: () => chunks.join(''),
    reconciles: () => total + count(h.controller),
    async settle(since) {
      const from = since ?? h.reconciles();
      await waitFor(() => h.reconciles() > from && h.controller.queue.length === 0 && !busy(h.controller), { description: 'the Alert controller to finish what fell due', timeoutMs: 30_000, intervalMs: 20 });
    },
    async advance(ms) {
      const before = h.reconciles();
      clock.advance(ms);
      if (h.controller.queue.length > 0 || busy(h.controller)) await h.settle(before);
      else await new Promise((r) => setTimeout(r, 50));
    },
    alert: (name) => h.alerts.get({ namespace: ns.name, name }),
    async events() {
      const list = await rest.request<{ items: Array<{ reason?: string; note?: string; type?: string; regarding?: { name?: string } }> }>('GET', `/apis/events.k8s.io/v1/namespaces/${ns.name}/events`);
      return list.items;
    },
    async stopController() {
      total += count(h.controller);
      running = false;
      await h.manager.stop();
    },
    async startController() {
      Object.assign(h, await start());
    },
    async stop() {
      if (running) await h.manager.stop();
      rest.close();
      await ns.delete();
    },
  };
  return h;
}

/** A reconcile is running (the queue's processing set is not empty). */
function busy(c: Controller<AlertObject>): boolean {
  return ((c.queue as unknown as { processing: Set<string> }).processing?.size ?? 0) > 0;
}

export const b64 = (s: string): string => Buffer.from(s).toString('base64');

export function secret(h: AlertHarness, name: string, data: Record<string, string>): SecretObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: h.ns.name }, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) } as SecretObject;
}

export function alertObject(h: AlertHarness, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>): AlertObject {
  return { apiVersion: 'outrigger.dev/v1alpha1', kind: 'Alert', metadata: { name, namespace: h.ns.name, ...(annotations ? { annotations } : {}) }, spec } as unknown as AlertObject;
}

export function readyOf(obj: { status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } }) {
  return obj.status?.conditions?.find((c) => c.type === 'Ready');
}
