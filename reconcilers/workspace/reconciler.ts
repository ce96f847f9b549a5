// The Workspace reconciler for runtime.docker, on the shared managed-resource state machine
// (common/managed.ts): finalizer, connect, observe, create or update, status, poll. This module
// supplies the pieces: `connect` resolves the Host and its engine and builds the target from the
// spec and Secrets; the session it returns is the ExternalClient (observe never changes anything;
// create/update also run the one-time bootstrap and the idle stop); status comes from the facts.
// What must outlive one reconcile (activity, bootstrap outcomes, published ports) is kept in memory
// per Workspace uid and rebuilt from status after a restart.
import {
  OutriggerError,
  TerminalError,
  errorMessage,
  getCondition,
  isDeleting,
  type EventRecorder,
  type ObjectKey,
  type ReconcileContext,
  type Reconciler,
  type Result,
} from '../../controller/index.ts';
import { parseDuration, workspaceSpecSchema, type Host, type WorkspaceSpec } from '../../crds/index.ts';
import { reconcileManaged, type ExternalClient, type ManagedKind, type ManagedObject, type ManagedStatus, type ManagedStep, type Observation } from '../common/managed.ts';
import { workspaceRef } from '../common/kinds.ts';
import { hostName, resolveHost } from '../hosts.ts';
import type { Platform } from '../platform.ts';
import {
  DockerErrorCodes,
  activityEpoch,
  endpointsOf,
  homeVolumeName,
  containerName,
  containerSpecHash,
  type ContainerChange,
  type ContainerSpec,
  type ObservedContainer,
  type PublishedPort,
  type WorkspaceObservation,
  type WorkspaceTarget,
} from '../docker/index.ts';
import { WorkspaceReasons } from './reasons.ts';
import { runBootstrap } from './bootstrap.ts';
import { createWorkspaceContainer } from './create.ts';
import type { EngineBundle, EngineWatchers } from './engines.ts';
import {
  activeAgo,
  afterProbe,
  idleStoppedAt,
  isIdle,
  isoSeconds,
  nextIdleCheckMs,
  probeDue,
  rememberRunning,
  type ActivityMemory,
} from './idle.ts';
import { BOOTSTRAPPED_CONDITION, statusEndpoints, statusFields, workspaceConditions, type BootstrapStatus, type StatusEndpoint, type WorkspaceFacts } from './status.ts';
import { buildTarget, secretLookup, workspaceOwner, workspaceUser, type BuiltTarget, type SecretLookup } from './target.ts';

/** A Workspace as the reconciler reads it: the parsed spec and the status fields it reads back. */
export interface WorkspaceObject extends ManagedObject<WorkspaceSpec> {
  status?: ManagedStatus & {
    phase?: string;
    lastActivity?: string;
    bootstrap?: BootstrapStatus;
    docker?: { containerId?: string };
  };
}

export interface WorkspaceReconcilerOptions {
  /** Read Workspaces from this cache (the controller's informer) instead of a GET per reconcile. */
  read?: (key: ObjectKey) => WorkspaceObject | undefined;
  /** Poll of a workspace in its resting state (events and the engine list catch drift sooner). */
  pollReadyMs?: number;
  /** Poll while something is under way (starting, waiting for a bootstrap to be possible). */
  pollBusyMs?: number;
  now?: () => number;
}

/** What the reconciler remembers about one Workspace between reconciles (lost on restart, rebuilt from status). */
interface Memory {
  activity?: ActivityMemory;
  bootstrap?: { containerId: string; generation: number; status: BootstrapStatus };
  ports?: { containerId: string; ports: PublishedPort[] };
  /** Engine events this controller's own calls will cause ("<containerId>:<action>" until a time): no reason to look again. */
  expected?: Map<string, number>;
  /** status.lastActivity to show while no container runs (kept from the last running one). */
  lastShown?: string;
  /** The next poll, as the last session computed it. */
  pollMs?: number;
}

export const NOT_IMPLEMENTED = WorkspaceReasons.NotImplemented;

export class WorkspaceReconciler implements Reconciler {
  private readonly platform: Platform;
  private readonly watchers: EngineWatchers;
  private readonly secrets: SecretLookup;
  private readonly events: EventRecorder;
  private readonly memory = new Map<string, Memory>();
  private readonly pollReadyMs: number;
  private readonly pollBusyMs: number;
  private readonly now: () => number;
  readonly kind: ManagedKind<WorkspaceObject, WorkspaceFacts>;

  constructor(platform: Platform, watchers: EngineWatchers, opts: WorkspaceReconcilerOptions = {}) {
    this.platform = platform;
    this.watchers = watchers;
    this.secrets = secretLookup(platform.secretReader);
    this.events = platform.manager.events;
    this.pollReadyMs = opts.pollReadyMs ?? 5 * 60_000;
    this.pollBusyMs = opts.pollBusyMs ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.kind = {
      client: platform.manager.client<WorkspaceObject>(workspaceRef),
      specSchema: workspaceSpecSchema,
      events: this.events,
      clock: platform.manager.clock,
      connect: (obj, ctx) => this.connect(obj, ctx),
      connectForCleanup: (obj, ctx) => this.connectForCleanup(obj, ctx),
      // Containers carry the owner's uid in a label set by the create call itself: observe finds
      // a container made just before a crash, so no create-pending marker is needed.
      createGuard: 'owner-label',
      failureFields: (obj, failure) => ({ phase: failurePhase(obj, failure.kind, failure.reason) }),
      statusFields: (_obj, observation) => (observation.facts ? statusFields(observation.facts) : {}),
      extraConditions: (obj, observation) =>
        observation.facts
          ? workspaceConditions(observation.facts, isReady(observation), obj.metadata.name ?? '', (obj.status?.conditions ?? []).map((c) => c.type))
          : [],
      pollIntervalMs: (obj, ready) => {
        const planned = this.memory.get(obj.metadata.uid ?? '')?.pollMs;
        return Math.min(planned ?? Infinity, ready ? this.pollReadyMs : this.pollBusyMs);
      },
      deletionPolicy: (obj) => obj.spec.deletionPolicy ?? 'Delete',
      ...(opts.read ? { read: opts.read } : {}),
    };
  }

  reconcile(request: ObjectKey, ctx: ReconcileContext): Promise<Result> {
    return reconcileManaged(this.kind, request, ctx);
  }

  /**
   * A container changed on an engine. Returns whether its Workspace needs a look: not when the
   * change is the echo of this controller's own create, start, stop or remove (each echo is
   * expected once, for a minute). Published ports are chosen anew on each start.
   */
  noteContainerChange(change: ContainerChange): boolean {
    const m = this.memory.get(change.owner.uid);
    if (m?.ports?.containerId === change.containerId && ['start', 'restart', 'die', 'stop', 'destroy', 'vanished'].includes(change.action)) delete m.ports;
    // By container, or for a container not made yet ("*": our own create of a new one).
    for (const key of [`${change.containerId}:${change.action}`, `*:${change.action}`]) {
      const until = m?.expected?.get(key);
      if (until === undefined) continue;
      m!.expected!.delete(key);
      if (until >= this.now()) return false;
    }
    return true;
  }

  /** The Workspace is gone: forget it. */
  forget(uid: string | undefined): void {
    if (uid) this.memory.delete(uid);
  }

  private memoryOf(uid: string): Memory {
    let m = this.memory.get(uid);
    if (!m) {
      m = {};
      this.memory.set(uid, m);
    }
    return m;
  }

  /** The Host's engine, watched; an engine whose events stream broke counts as unreachable. */
  private async engineOf(obj: WorkspaceObject, docker: NonNullable<WorkspaceSpec['runtime']['docker']>, ctx: ReconcileContext): Promise<{ host: Host; bundle: EngineBundle }> {
    const host = resolveHost(this.platform.hosts, obj.metadata.namespace ?? 'default', docker.hostRef.name, 'spec.runtime.docker.hostRef');
    const engine = this.platform.connections.engine(host);
    const bundle = await this.watchers.forEngine(host.metadata.uid ?? hostName(host), engine, ctx.signal);
    if (!bundle.watcher.reachable) {
      const cause = bundle.watcher.lastError;
      throw new OutriggerError(DockerErrorCodes.Unreachable, `the Docker engine of Host "${docker.hostRef.name}" (${engine.description}) does not answer${cause ? `: ${cause.message}` : ''}`, { cause });
    }
    return { host, bundle };
  }

  private async connectForCleanup(obj: WorkspaceObject, ctx: ReconcileContext): Promise<ExternalClient<WorkspaceObject, WorkspaceFacts>> {
    const docker = obj.spec.runtime?.docker;
    // Nothing was ever made for it, so deletion has nothing to clean up.
    if (!docker) return nothingToDelete;
    const { bundle } = await this.engineOf(obj, docker, ctx);
    return this.deletionClient(obj, bundle);
  }

  private async connect(obj: WorkspaceObject, ctx: ReconcileContext): Promise<ExternalClient<WorkspaceObject, WorkspaceFacts>> {
    const spec = obj.spec;
    if (!spec.runtime.docker) {
      throw new TerminalError(NOT_IMPLEMENTED, 'spec.runtime.proxmox: the Proxmox runtime is not implemented yet; only runtime.docker workspaces are supported in this version', {
        field: 'spec.runtime.proxmox',
      });
    }
    const { host, bundle } = await this.engineOf(obj, spec.runtime.docker, ctx);
    const built = buildTarget(obj, this.secrets, host);
    const memory = this.memoryOf(obj.metadata.uid ?? '');
    delete memory.pollMs;
    return new WorkspaceSession({ obj, bundle, built, host, memory, events: this.events, now: this.now, ctx, pollBusyMs: this.pollBusyMs });
  }

  private deletionClient(obj: WorkspaceObject, bundle: EngineBundle): ExternalClient<WorkspaceObject, WorkspaceFacts> {
    const owner = workspaceOwner(obj);
    const user = workspaceUser(obj.spec);
    // delete() needs the owner and the home volume only: no Secret is read, so a Secret deleted
    // before the Workspace cannot block its deletion.
    const spec = { owner, image: obj.spec.runtime.docker?.image ?? '', pullPolicy: 'Never', home: { volume: homeVolumeName(owner), mountPath: user.home } } as ContainerSpec;
    return {
      ...nothingToDelete,
      delete: async (_o, signal) => {
        await bundle.containers.delete({ spec }, { removeHome: true }, signal);
        this.forget(owner.uid);
      },
    };
  }
}

const nothingToDelete: ExternalClient<WorkspaceObject, WorkspaceFacts> = {
  observe: async () => ({ exists: false, upToDate: false }),
  create: async () => {},
  update: async () => {},
  delete: async () => {},
};

/** What status.phase says while a failure holds the Workspace. */
function failurePhase(obj: WorkspaceObject, kind: string, reason: string): string {
  if (isDeleting(obj)) return 'Deleting';
  if (kind === 'terminal') return 'Failed';
  if (reason === DockerErrorCodes.Unreachable) return 'Unknown';
  return kind === 'waiting' ? 'Pending' : (obj.status?.phase ?? 'Pending');
}

function isReady(o: Observation<WorkspaceFacts>): boolean {
  return Boolean(o.exists && o.upToDate && (o.ready ?? true));
}

interface SessionInputs {
  obj: WorkspaceObject;
  bundle: EngineBundle;
  built: BuiltTarget;
  host: Host;
  memory: Memory;
  events: EventRecorder;
  now: () => number;
  ctx: ReconcileContext;
  pollBusyMs: number;
}

/** One reconcile's view of one workspace: the ExternalClient the managed reconciler drives. */
class WorkspaceSession implements ExternalClient<WorkspaceObject, WorkspaceFacts> {
  private readonly in: SessionInputs;
  private readonly idleTimeoutMs: number | undefined;
  private readonly stoppedBySpec: boolean;
  /** When the workspace was stopped for idleness (from status, or by this session). */
  private idleStopped: Date | undefined;
  private seen: WorkspaceObservation | undefined;
  /**
   * What runs after create/update, each an explicit step (observe only reads): the one-time
   * bootstrap in a running container, then the idle check that may stop it.
   */
  readonly steps: ManagedStep<WorkspaceObject, WorkspaceFacts>[] = [
    { name: 'bootstrap', run: (obj, _o, signal) => this.bootstrapStep(obj, signal) },
    { name: 'idle-stop', run: (_obj, _o, signal) => this.idleStep(signal) },
  ];

  constructor(inputs: SessionInputs) {
    this.in = inputs;
    const spec = inputs.obj.spec;
    this.idleTimeoutMs = spec.idleTimeout ? parseDuration(spec.idleTimeout) : undefined;
    this.stoppedBySpec = spec.state === 'Stopped';
    this.idleStopped = this.stoppedBySpec || this.idleTimeoutMs === undefined ? undefined : idleStoppedAt(inputs.obj);
  }

  private get containers() {
    return this.in.bundle.containers;
  }

  private get desiredRunning(): boolean {
    return !this.stoppedBySpec && !this.idleStopped;
  }

  private target(): WorkspaceTarget {
    return { spec: this.in.built.spec, running: this.desiredRunning, files: this.in.built.files };
  }

  async observe(_obj: WorkspaceObject, signal: AbortSignal): Promise<Observation<WorkspaceFacts>> {
    const seen = await this.containers.observe(this.target(), signal);
    this.seen = seen;
    const c = seen.container;
    const running = c?.state === 'running';
    const problems = seen.diff ? [seen.diff] : [];
    const upToDate = seen.upToDate;

    if (!running && this.in.memory.activity) {
      this.in.memory.lastShown = isoSeconds(this.in.memory.activity.shownMs);
      delete this.in.memory.activity;
    }
    const facts = await this.facts(c, running, signal);
    const bootstrapFailed = facts.bootstrap?.state === 'Failed' && this.desiredRunning;
    return {
      exists: seen.exists,
      upToDate,
      ...(problems.length > 0 ? { diff: problems.join('; ') } : {}),
      ready: !bootstrapFailed,
      ...(this.notReady(seen, running, bootstrapFailed, facts, problems)),
      facts,
    };
  }

  async create(obj: WorkspaceObject, signal: AbortSignal): Promise<void> {
    // Registered first: the engine's events arrive while the calls are still under way.
    this.expectEchoes('*', this.desiredRunning ? ['create', 'start'] : ['create']);
    await this.unlessFailed(() => createWorkspaceContainer(this.containers, this.target(), this.in.now, signal));
  }

  async update(_obj: WorkspaceObject, _observation: Observation<WorkspaceFacts>, signal: AbortSignal): Promise<void> {
    // Re-creates (the new image checked before the old container goes), starts or stops, places files.
    const seen = this.seen;
    const before = seen?.container;
    // The echoes of what update is about to do, registered first (events arrive while it works).
    for (const id of seen?.duplicates ?? []) this.expectEchoes(id, ['die', 'stop', 'destroy']);
    if (!before || seen?.needsRecreate) {
      if (before) this.expectEchoes(before.id, ['die', 'stop', 'destroy']);
      this.expectEchoes('*', this.desiredRunning ? ['create', 'start'] : ['create']);
    } else if (this.desiredRunning && before.state !== 'running') this.expectEchoes(before.id, ['start']);
    else if (!this.desiredRunning && before.state === 'running') this.expectEchoes(before.id, ['die', 'stop']);
    const c = await this.unlessFailed(async () => {
      if (before) return this.containers.update(this.target(), seen, signal);
      for (const id of seen?.duplicates ?? []) await this.containers.removeContainer(id, signal);
      return createWorkspaceContainer(this.containers, this.target(), this.in.now, signal);
    });
    if (c && before && c.id === before.id && before.state === 'running' && !this.desiredRunning) {
      // The stop returned: the container is stopped, whatever the cache heard so far.
      this.rememberStopped(c);
    }
  }

  /** Step: the bootstrap script, once per home, in the running container observe found. */
  private async bootstrapStep(obj: WorkspaceObject, signal: AbortSignal): Promise<boolean> {
    const c = this.seen?.container;
    if (!c || c.state !== 'running' || !this.bootstrapPending(c, true)) return false;
    await this.bootstrapIfPending(obj, c, signal);
    return true;
  }

  /** Step: probe activity when due and stop a workspace idle for its idleTimeout (the home stays). */
  private async idleStep(signal: AbortSignal): Promise<boolean> {
    const seen = this.seen;
    const c = seen?.container;
    if (!c || c.state !== 'running' || !this.desiredRunning || this.idleTimeoutMs === undefined || seen?.needsRecreate) return false;
    if (!(await this.checkIdle(c, signal))) return false;
    this.expectEchoes(c.id, ['die', 'stop']);
    await this.unlessFailed(() => this.containers.stop(c.id, signal));
    this.rememberStopped(c);
    this.idleStopped = new Date(this.in.now());
    const a = this.in.memory.activity;
    if (a) this.in.memory.activity = { ...a, shownMs: a.lastActivityMs };
    this.in.events.event(this.in.obj, 'Normal', WorkspaceReasons.IdleStopped, `No activity for ${this.in.obj.spec.idleTimeout}: stopped the container (the home is kept)`);
    return true;
  }

  async delete(): Promise<void> {
    throw new Error('a live session never deletes: deletion uses the deletion client');
  }

  // -------------------------------------------------------------------------------------------

  /** Probes activity when due; true when the workspace has been idle for its idleTimeout. */
  private async checkIdle(c: ObservedContainer, signal: AbortSignal): Promise<boolean> {
    const idleTimeoutMs = this.idleTimeoutMs!;
    const now = this.in.now();
    const status = this.in.obj.status;
    // A controller restart while this container ran: start from what status recorded.
    const restored =
      status?.phase === 'Running' && status.lastActivity && status.docker?.containerId === c.id
        ? { lastActivityMs: Date.parse(status.lastActivity), idleTimeoutMs }
        : undefined;
    let memory = rememberRunning(this.in.memory.activity, c.id, now, restored);
    if (probeDue(memory, idleTimeoutMs, now)) {
      const tcpPorts = (this.in.built.spec.ports ?? []).filter((p) => p.protocol === 'tcp').map((p) => p.containerPort);
      try {
        const report = await this.containers.activity(c.id, { uid: this.in.built.user.uid, ports: tcpPorts, signal });
        memory = afterProbe(memory, activeAgo(report, activityEpoch(report)), now, idleTimeoutMs);
      } catch (err) {
        if (signal.aborted) throw err;
        // A probe that cannot run must never stop a workspace: count it as activity, say so in the log.
        this.in.ctx.log.warn({ code: (err as { code?: string }).code, err: errorMessage(err) }, 'activity probe failed; treating the workspace as active');
        memory = afterProbe(memory, 0, now, idleTimeoutMs);
      }
    }
    this.in.memory.activity = memory;
    const idle = isIdle(memory, idleTimeoutMs, now);
    if (!idle) this.plan(nextIdleCheckMs(memory, idleTimeoutMs, now));
    return idle;
  }

  /** A call that failed part-way may not cause the events expected of it: expect none, miss nothing. */
  private async unlessFailed<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      this.in.memory.expected?.clear();
      throw err;
    }
  }

  /** What our own successful stop did, so the observe that follows needs no wait for the engine's event. */
  private rememberStopped(c: ObservedContainer): void {
    const current = this.containers.cache.get(c.id) ?? c;
    this.containers.cache.remember({ ...current, state: 'exited', ports: undefined }, this.in.now());
  }

  /** Engine events our own call causes: their echo needs no reconcile (see noteContainerChange). */
  private expectEchoes(containerId: string, actions: string[]): void {
    const now = this.in.now();
    const expected = (this.in.memory.expected ??= new Map());
    for (const [k, until] of expected) if (until < now) expected.delete(k);
    for (const a of actions) expected.set(`${containerId}:${a}`, now + 60_000);
  }

  /** Asks for an earlier poll than the default. */
  private plan(ms: number): void {
    this.in.memory.pollMs = Math.min(this.in.memory.pollMs ?? Infinity, ms);
  }

  private get generation(): number {
    return this.in.obj.metadata.generation ?? 0;
  }

  /** Whether the bootstrap step still has to run in this (running, wanted) container. */
  private bootstrapPending(c: ObservedContainer, running: boolean): boolean {
    if (!this.in.obj.spec.bootstrap || !running || !this.desiredRunning) return false;
    const known = this.in.memory.bootstrap;
    if (known && known.containerId === c.id) return known.status.state === 'Failed' && known.generation !== this.generation;
    // After a controller restart: what status recorded for this very container.
    const status = this.in.obj.status;
    if (status?.bootstrap && status.docker?.containerId === c.id) {
      const conditionGeneration = getCondition(status.conditions, BOOTSTRAPPED_CONDITION)?.observedGeneration;
      const recorded = status.bootstrap as BootstrapStatus;
      if (recorded.state === 'Succeeded' || (recorded.state === 'Failed' && conditionGeneration === this.generation)) {
        this.in.memory.bootstrap = { containerId: c.id, generation: conditionGeneration ?? this.generation, status: recorded };
        return false;
      }
    }
    return true;
  }

  private async bootstrapIfPending(obj: WorkspaceObject, c: ObservedContainer, signal: AbortSignal): Promise<void> {
    const spec = obj.spec.bootstrap;
    if (!spec || !this.bootstrapPending(c, c.state === 'running')) return;
    const outcome = await runBootstrap((cmd, opts) => this.containers.exec(c.id, cmd, opts), spec, this.in.built.user, this.in.built.secretValues, signal);
    const previous = this.in.obj.status?.bootstrap as BootstrapStatus | undefined;
    const status: BootstrapStatus =
      outcome.alreadyDone && previous?.state === 'Succeeded'
        ? previous
        : { state: outcome.state, completionTime: isoSeconds(this.in.now()), message: outcome.message };
    this.in.memory.bootstrap = { containerId: c.id, generation: this.generation, status };
    if (!outcome.alreadyDone) {
      if (outcome.state === 'Succeeded') this.in.events.event(obj, 'Normal', 'Bootstrapped', outcome.message);
      else this.in.events.event(obj, 'Warning', 'BootstrapFailed', outcome.message);
    }
  }

  private async facts(c: ObservedContainer | undefined, running: boolean, signal: AbortSignal): Promise<WorkspaceFacts> {
    const { built, obj, memory } = this.in;
    if (this.idleTimeoutMs === undefined) delete memory.lastShown;
    const spec = obj.spec;
    const bootstrap = spec.bootstrap ? (memory.bootstrap?.status ?? (obj.status?.bootstrap as BootstrapStatus | undefined) ?? { state: 'Pending' as const }) : undefined;
    const shown = memory.activity ? isoSeconds(memory.activity.shownMs) : (memory.lastShown ?? obj.status?.lastActivity);
    return {
      exists: Boolean(c),
      ...(c ? { containerId: c.id, containerState: c.state } : {}),
      containerName: containerName(built.spec.owner),
      volumeName: built.spec.home.volume,
      specHash: containerSpecHash(built.spec),
      running,
      desiredRunning: this.desiredRunning,
      ...(this.idleStopped ? { idleStoppedAt: this.idleStopped.toISOString() } : {}),
      ...(spec.idleTimeout ? { idleTimeout: spec.idleTimeout } : {}),
      ...(shown && this.idleTimeoutMs !== undefined ? { lastActivity: shown } : {}),
      endpoints: c && running ? await this.endpoints(c, signal) : [],
      bootstrapConfigured: Boolean(spec.bootstrap),
      ...(bootstrap ? { bootstrap } : {}),
      ...(spec.home?.size !== undefined ? { homeSize: String(spec.home.size) } : {}),
      stoppedBySpec: this.stoppedBySpec,
    };
  }

  private async endpoints(c: ObservedContainer, signal: AbortSignal): Promise<StatusEndpoint[]> {
    const ports = this.in.built.spec.ports ?? [];
    if (ports.length === 0) return [];
    const memo = this.in.memory.ports;
    let published = c.ports ?? (memo?.containerId === c.id ? memo.ports : undefined);
    if (!published) {
      published = await this.containers.publishedPorts(c.id, signal);
      this.in.memory.ports = { containerId: c.id, ports: published };
    }
    const host = this.in.host;
    return statusEndpoints(endpointsOf(ports, published), {
      publishAddress: this.in.obj.spec.runtime.docker?.publishAddress,
      hostAddress: host.spec.address,
      localEngine: Boolean(host.spec.docker?.unix),
      user: this.in.built.user.name,
    });
  }

  private notReady(seen: WorkspaceObservation, running: boolean, bootstrapFailed: boolean, facts: WorkspaceFacts, problems: string[]): Partial<Observation<WorkspaceFacts>> {
    if (bootstrapFailed) return { notReadyReason: 'BootstrapFailed', notReadyMessage: facts.bootstrap?.message ?? 'The bootstrap step failed' };
    if (!seen.exists) return { notReadyReason: 'Creating', notReadyMessage: 'Creating the container' };
    const message = problems.join('; ') || 'Waiting for the container';
    if (running !== this.desiredRunning) this.plan(this.in.pollBusyMs);
    if (this.desiredRunning && !running) return { notReadyReason: 'Starting', notReadyMessage: message };
    if (!this.desiredRunning && running) return { notReadyReason: 'Stopping', notReadyMessage: message };
    return { notReadyReason: 'Progressing', notReadyMessage: message };
  }
}
