// The Lab reconciler, on the kit's managed-resource state machine (common/managed.ts): finalizer,
// connect, observe, create or update, the access-Secret step, status, poll. This module supplies
// `connect`: the dependency graph and address plan (terminal when the spec cannot work), the
// schedule's verdict for now, the Hosts and their engines (a wait when one is missing), the SSH
// key's public half, the generated passwords; and it keeps per-Lab memory between reconciles.
import {
  OutriggerError,
  TerminalError,
  isDeleting,
  isNotFound,
  type ConditionInput,
  type EventRecorder,
  type ObjectKey,
  type ReconcileContext,
  type Reconciler,
  type ResourceClient,
  type Result,
} from '../../controller/index.ts';
import { labSpecSchema, type Host, type ProxmoxCluster } from '../../crds/index.ts';
import { labRef, secretRef } from '../common/kinds.ts';
import { reconcileManaged, type ExternalClient, type ManagedKind } from '../common/managed.ts';
import { ErrorCodes, KitReasons } from '../common/reasons.ts';
import type { SecretObject } from '../common/secrets.ts';
import { WaitingForReferent } from '../common/waiting.ts';
import { DockerErrorCodes, machineContainerName } from '../docker/index.ts';
import { hostName, resolveHost } from '../hosts.ts';
import type { Platform } from '../platform.ts';
import { resolveProxmoxCluster, type ProxmoxConnections } from '../proxmox-clusters.ts';
import type { Informer } from '../../controller/index.ts';
import type { LabCluster } from './vms.ts';
import { accessSecretName, generatePassword, passwordKey, publicKeyOf, renderAccessData, type AccessMachine } from './access.ts';
import { planAddresses } from './addresses.ts';
import type { LabEngine, LabEngines } from './engines.ts';
import { machineGraph } from './graph.ts';
import { memoryFromStatus, type LabMemory } from './memory.ts';
import type { LabMetrics } from './metrics.ts';
import { LabReasons } from './reasons.ts';
import { scheduleState } from './schedule.ts';
import { LabSession, type LabObject, type SessionOptions } from './session.ts';
import { labConditions, labStatusFields, type LabFacts, type LabMode, type MachineView } from './status.ts';
import { labOwner, machinePlan, type MachinePlan } from './targets.ts';

export interface LabReconcilerOptions extends Partial<SessionOptions> {
  read?: (key: ObjectKey) => LabObject | undefined;
  /** The clock schedules, expiry and rollback retries read (tests pass a fake one). */
  now?: () => number;
  /** Poll of a Lab at rest (engine events and watches bring it back sooner). */
  pollReadyMs?: number;
  /** Poll while steps run or machines come up. */
  pollBusyMs?: number;
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  stepWaitMs: 15_000,
  stepPollMs: 250,
  rollbackBaseMs: 30_000,
  rollbackMaxMs: 10 * 60_000,
  machineConcurrency: 8,
  vmStopGraceMs: 60_000,
};

const OWNER_API_VERSION = 'outrigger.dev/v1alpha1';

export class LabReconciler implements Reconciler {
  private readonly platform: Platform;
  private readonly engines: LabEngines;
  private readonly metrics: LabMetrics;
  private readonly events: EventRecorder;
  private readonly secretsClient: ResourceClient<SecretObject>;
  private readonly memory = new Map<string, LabMemory>();
  private readonly opts: SessionOptions;
  private readonly pollReadyMs: number;
  private readonly pollBusyMs: number;
  readonly now: () => number;
  readonly kind: ManagedKind<LabObject, LabFacts>;

  private readonly proxmox: { clusters: Informer<ProxmoxCluster>; connections: ProxmoxConnections };

  constructor(platform: Platform, engines: LabEngines, metrics: LabMetrics, proxmox: { clusters: Informer<ProxmoxCluster>; connections: ProxmoxConnections }, opts: LabReconcilerOptions = {}) {
    this.platform = platform;
    this.proxmox = proxmox;
    this.engines = engines;
    this.metrics = metrics;
    this.events = platform.manager.events;
    this.secretsClient = platform.manager.client<SecretObject>(secretRef);
    this.now = opts.now ?? (() => platform.manager.clock.now());
    this.pollReadyMs = opts.pollReadyMs ?? 5 * 60_000;
    this.pollBusyMs = opts.pollBusyMs ?? 2_000;
    this.opts = { ...DEFAULT_SESSION_OPTIONS, ...Object.fromEntries(Object.entries(opts).filter(([k, v]) => k in DEFAULT_SESSION_OPTIONS && v !== undefined)) };
    this.kind = {
      client: platform.manager.client<LabObject>(labRef),
      specSchema: labSpecSchema,
      events: this.events,
      clock: platform.manager.clock,
      connect: (obj, ctx) => this.connect(obj, ctx, false),
      connectForCleanup: (obj, ctx) => this.connect(obj, ctx, true),
      // Containers and networks carry the owner's uid in labels set by the create call itself.
      createGuard: 'owner-label',
      statusFields: (obj, o) => {
        if (!o.facts) return {};
        this.metrics.observe(obj.metadata.uid ?? '', o.facts.machines);
        return labStatusFields(o.facts);
      },
      conditions: (_obj, o): ConditionInput[] => (o.facts ? labConditions(o.facts) : []),
      failureFields: (obj, failure) => ({ phase: isDeleting(obj) ? 'Deleting' : failure.kind === 'waiting' ? 'Pending' : (obj.status?.phase ?? 'Pending') }),
      pollIntervalMs: (obj, ready, o) => this.pollInterval(obj, ready, o.facts),
      deletionPolicy: (obj) => obj.spec.deletionPolicy ?? 'Delete',
      ...(opts.read ? { read: opts.read } : {}),
    };
  }

  reconcile(request: ObjectKey, ctx: ReconcileContext): Promise<Result> {
    return reconcileManaged(this.kind, request, ctx);
  }

  /** The Lab is gone: forget it. */
  forget(uid: string | undefined): void {
    if (!uid) return;
    this.memory.delete(uid);
    this.metrics.observe(uid, []);
  }

  private memoryOf(lab: LabObject): LabMemory {
    const uid = lab.metadata.uid ?? '';
    let m = this.memory.get(uid);
    if (!m) this.memory.set(uid, (m = memoryFromStatus(lab.status as never)));
    return m;
  }

  private pollInterval(lab: LabObject, ready: boolean, facts: LabFacts | undefined): number {
    const now = this.now();
    let ms = ready ? this.pollReadyMs : this.pollBusyMs;
    const m = this.memory.get(lab.metadata.uid ?? '');
    if (m?.nextRetryTime) ms = Math.max(0, Date.parse(m.nextRetryTime) - now);
    for (const r of m?.refusals.values() ?? []) ms = Math.min(ms, Math.max(this.pollBusyMs, r.retryAt - now));
    // Keep, and nothing left that a retry can fix: look again at rest's pace.
    if (facts && !ready && facts.machines.every((x) => x.phase === 'Ready' || x.phase === 'Failed' || x.phase === 'Pending') && !m?.nextRetryTime && (m?.refusals.size ?? 0) === 0) ms = this.pollReadyMs;
    const next = facts?.schedule.nextAction?.time.getTime();
    if (next !== undefined) ms = Math.min(ms, Math.max(1_000, next - now + 500));
    return ms;
  }

  private async connect(lab: LabObject, ctx: ReconcileContext, forCleanup: boolean): Promise<ExternalClient<LabObject, LabFacts>> {
    const spec = lab.spec;
    const namespace = lab.metadata.namespace ?? 'default';
    const owner = labOwner(lab);
    const engines = await this.enginesOf(lab, forCleanup);
    const clusters = this.clustersOf(lab, forCleanup, engines.size);
    const memory = this.memoryOf(lab);
    if (forCleanup) {
      // Deletion needs no plan, no Secret and no schedule: only the engines.
      return new LabSession({
        lab, owner, graph: { names: [], dependsOn: new Map(), dependents: new Map(), level: new Map() }, plans: new Map(), engines, clusters,
        schedule: { expired: false, running: false, reason: 'being deleted' }, mode: 'stop', memory, events: this.events, metrics: this.metrics,
        now: this.now, log: ctx.log, opts: this.opts, passwords: new Map(), writeAccess: async () => {},
      });
    }
    const graph = machineGraph(spec.machines);
    const addresses = planAddresses(spec);
    const schedule = scheduleState(lab, this.now());
    const mode: LabMode = schedule.expired ? 'expired' : schedule.running ? 'run' : 'stop';
    const ssh = spec.ssh
      ? { user: spec.ssh.user ?? 'outrigger', publicKey: publicKeyOf(this.platform.secretReader.value(namespace, spec.ssh.privateKeySecretRef, 'spec.ssh.privateKeySecretRef'), 'spec.ssh.privateKeySecretRef') }
      : undefined;
    const plans = new Map<string, MachinePlan>(spec.machines.map((m) => [m.name, machinePlan(owner, spec, m, addresses.get(m.name) ?? [], ssh, m.proxmox ? clusters.get(m.proxmox.clusterRef.name)?.cluster : undefined)]));
    const passwords = this.passwordsFor(lab, plans);
    const hosts = new Map([...engines.keys()].map((h) => [h, this.platform.hosts.get(`${namespace}/${h}`)]));
    return new LabSession({
      lab, owner, graph, plans, engines, clusters, schedule, mode, memory, events: this.events, metrics: this.metrics, now: this.now, log: ctx.log, opts: this.opts, passwords,
      writeAccess: (views) => this.writeAccess(lab, plans, views, passwords, hosts, ctx.signal),
    });
  }

  /** The engines of the Hosts the docker machines name; a missing Host is a wait (deletion: skipped with a warning). */
  private async enginesOf(lab: LabObject, forCleanup: boolean): Promise<Map<string, LabEngine>> {
    const namespace = lab.metadata.namespace ?? 'default';
    const engines = new Map<string, LabEngine>();
    const missing: WaitingForReferent[] = [];
    for (const [i, m] of lab.spec.machines.entries()) {
      if (!m.docker || engines.has(m.docker.hostRef.name)) continue;
      const field = `spec.machines[${i}].docker.hostRef`;
      let host: Host;
      try {
        host = resolveHost(this.platform.hosts, namespace, m.docker.hostRef.name, field);
      } catch (err) {
        if (forCleanup && err instanceof WaitingForReferent) {
          missing.push(err);
          continue;
        }
        throw err;
      }
      if (!host.spec.docker) {
        throw new TerminalError(ErrorCodes.InvalidSpec, `${field}: Host "${host.metadata.name}" has no spec.docker, so it cannot run machine "${m.name}": set spec.docker on the Host or refer to a Host that has it`, { field });
      }
      const engine = this.platform.connections.engine(host);
      const bundle = this.engines.forEngine(host.metadata.uid ?? hostName(host), engine);
      if (!bundle.watcher.reachable) {
        const cause = bundle.watcher.lastError;
        throw new OutriggerError(DockerErrorCodes.Unreachable, `the Docker engine of Host "${host.metadata.name}" (${engine.description}) does not answer${cause ? `: ${cause.message}` : ''}`, { cause });
      }
      engines.set(m.docker.hostRef.name, bundle);
    }
    if (forCleanup && missing.length > 0) {
      if (engines.size === 0 && !lab.spec.machines.some((m) => m.proxmox)) throw missing[0];
      for (const w of missing) this.events.event(lab, 'Warning', KitReasons.ReferenceGone, `${w.message}; what this Lab made there, if anything, may remain`);
    }
    return engines;
  }

  /** The providers of the ProxmoxClusters the VM machines name; a missing one is a wait (deletion: skipped with a warning). */
  private clustersOf(lab: LabObject, forCleanup: boolean, engines: number): Map<string, LabCluster> {
    const namespace = lab.metadata.namespace ?? 'default';
    const out = new Map<string, LabCluster>();
    const missing: WaitingForReferent[] = [];
    for (const [i, m] of lab.spec.machines.entries()) {
      if (!m.proxmox || out.has(m.proxmox.clusterRef.name)) continue;
      try {
        const cluster = resolveProxmoxCluster(this.proxmox.clusters, namespace, m.proxmox.clusterRef.name, `spec.machines[${i}].proxmox.clusterRef`);
        out.set(m.proxmox.clusterRef.name, { name: m.proxmox.clusterRef.name, cluster, handle: this.proxmox.connections.handle(cluster) });
      } catch (err) {
        if (!forCleanup || !(err instanceof WaitingForReferent)) throw err;
        missing.push(err);
      }
    }
    if (forCleanup && missing.length > 0) {
      if (out.size === 0 && engines === 0) throw missing[0];
      for (const w of missing) this.events.event(lab, 'Warning', KitReasons.ReferenceGone, `${w.message}; what this Lab made there, if anything, may remain`);
    }
    return out;
  }

  /** Generated passwords, kept from the access Secret once made (read through the Secret reader, so they are redacted everywhere). */
  private passwordsFor(lab: LabObject, plans: Map<string, MachinePlan>): Map<string, string> {
    const namespace = lab.metadata.namespace ?? 'default';
    const name = accessSecretName(lab.metadata.name ?? '');
    const existing = this.platform.secrets.get(`${namespace}/${name}`);
    const ours = existing?.metadata.ownerReferences?.some((r) => r.uid === lab.metadata.uid);
    const out = new Map<string, string>();
    for (const plan of plans.values()) {
      for (const u of plan.users) {
        if (u.auth !== 'password') continue;
        const key = passwordKey(plan.name, u.name);
        const kept = ours && existing?.data?.[key] !== undefined ? this.platform.secretReader.text(namespace, { name, key }, `Secret ${name}`) : undefined;
        out.set(key, kept || generatePassword());
      }
    }
    return out;
  }

  private async writeAccess(lab: LabObject, plans: Map<string, MachinePlan>, views: MachineView[], passwords: Map<string, string>, hosts: Map<string, Host | undefined>, signal: AbortSignal): Promise<void> {
    const namespace = lab.metadata.namespace ?? 'default';
    const labName = lab.metadata.name ?? '';
    const name = accessSecretName(labName);
    const machines: AccessMachine[] = [...plans.values()].map((plan) => {
      const view = views.find((v) => v.name === plan.name);
      const address = view?.address ?? plan.attachments.find((a) => a.address)?.address;
      const host = plan.docker ? hosts.get(plan.docker.hostName) : undefined;
      const jump = host?.spec.ssh && host.spec.address ? `${host.spec.ssh.user}@${host.spec.address}:${host.spec.ssh.port ?? 22}` : undefined;
      const firstUser = plan.users[0]?.name;
      return {
        name: plan.name,
        ...(address ? { address } : {}),
        addresses: view?.addresses ?? plan.attachments.map((a) => a.address).filter((a): a is string => Boolean(a)),
        users: plan.users,
        ...(plan.docker ? { exec: `docker exec -it${firstUser ? ` -u ${firstUser}` : ''} ${machineContainerName(plan.docker.spec.owner, plan.name)} sh` } : {}),
        ...(view?.hostKey ? { hostKey: view.hostKey } : {}),
        ...(jump ? { jumpHost: jump } : {}),
      };
    });
    const data = renderAccessData(labName, machines, passwords);
    const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    const existing = this.platform.secrets.get(`${namespace}/${name}`);
    const ownerRef = { apiVersion: OWNER_API_VERSION, kind: 'Lab', name: labName, uid: lab.metadata.uid ?? '', controller: true };
    if (existing) {
      if (!existing.metadata.ownerReferences?.some((r) => r.uid === lab.metadata.uid)) {
        throw new TerminalError(ErrorCodes.Conflict, `Secret ${name} exists and does not belong to this Lab (it has no owner reference to it): delete or rename that Secret so the Lab can write its access details there`);
      }
      const same = Object.keys(encoded).length === Object.keys(existing.data ?? {}).length && Object.entries(encoded).every(([k, v]) => existing.data?.[k] === v);
      if (same) return;
      await this.secretsClient.replace({ ...existing, data: encoded }, signal);
      return;
    }
    try {
      await this.secretsClient.create({
        metadata: { name, namespace, ownerReferences: [ownerRef], labels: { 'outrigger.dev/lab': labName } },
        type: 'Opaque',
        data: encoded,
      } as SecretObject, signal);
      this.events.event(lab, 'Normal', LabReasons.AccessSecretWritten, `wrote the access details (addresses, users, ssh_config) to Secret ${name}`);
    } catch (err) {
      // Made by an earlier pass the cache has not seen yet: the next reconcile compares again.
      if ((err as { statusCode?: number }).statusCode === 409) return;
      if (isNotFound(err)) return;
      throw err;
    }
  }
}
