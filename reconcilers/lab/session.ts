// One reconcile's view of one Lab: the ExternalClient the kit drives (observe / create / update /
// delete). observe lists the Lab's networks, containers and snapshot images on each engine (by
// the owner's uid label) and reads step states from machines not known to be done; it changes
// nothing. create and update are the same convergence: networks first, then every machine in
// dependency order, each as soon as the machines it depends on are Ready within this very pass
// (independent ones in parallel), then rollback, snapshot and revert as the spec and annotation
// ask. Long steps run detached in the machine; the pass waits a little for them, then the Lab is
// polled until they end.
import { errorMessage, type EventRecorder, type Logger } from '../../controller/index.ts';
import type { LabSpec } from '../../crds/index.ts';
import { catalogedReason } from '../common/failure.ts';
import { KitReasons } from '../common/reasons.ts';
import type { ExternalClient, ManagedObject, ManagedStatus, ManagedStep, Observation } from '../common/managed.ts';
import {
  DockerErrorCodes,
  machineContainerName,
  networkDrift,
  overlapError,
  type NetworkSpec,
  type ObservedMachine,
  type ObservedNetwork,
  type Owner,
  type SnapshotImage,
} from '../docker/index.ts';
import { Semaphore } from '../ssh/semaphore.ts';
import { createHash } from 'node:crypto';
import type { LabEngine } from './engines.ts';
import { dependentsOf, waitingFor, type MachineGraph } from './graph.ts';
import type { ContainerMemory, LabMemory } from './memory.ts';
import type { LabMetrics } from './metrics.ts';
import { LabReasons } from './reasons.ts';
import { FIRST_BOOT } from './scripts.ts';
import type { ScheduleState } from './schedule.ts';
import { labConditions, labStatusFields, readyCount, type LabFacts, type LabMode, type MachineView, type NetworkView } from './status.ts';
import { describeFailure, launchStep, passwordsDigest, probeMachine, setPasswords, stepOutput, stepsProgress, stepStatusOf, type MachineExec, type StepStatus } from './steps.ts';
import type { MachinePlan } from './targets.ts';
import { labVms, type LabCluster } from './vms.ts';
import type { Inventory, ManagedVm } from '../proxmox/vm-inventory.ts';
import type { VmMemory } from './memory.ts';
import { ipv4Range } from '../../crds/index.ts';

/** Set to any new value (a timestamp reads best) to bring every machine back to the snapshot; each value is carried out once. */
export const REVERT_ANNOTATION = 'outrigger.dev/revert';
import { REVERT_LABEL } from '../docker/index.ts';

export interface LabObject extends ManagedObject<LabSpec> {
  status?: ManagedStatus & Record<string, any>;
}

export interface SessionOptions {
  /** How long one pass waits for a running step before leaving it to the next poll. */
  stepWaitMs: number;
  /** Rollback retry: first delay, doubling up to the maximum. */
  rollbackBaseMs: number;
  rollbackMaxMs: number;
  /** Machines brought up at once per Lab. */
  machineConcurrency: number;
  /** Poll of a machine whose step runs (and of a VM's guest agent). */
  stepPollMs: number;
  /** How long a VM may take to shut down before it is stopped hard. */
  vmStopGraceMs: number;
}

export interface SessionInputs {
  lab: LabObject;
  owner: Owner;
  graph: MachineGraph;
  plans: Map<string, MachinePlan>;
  /** By Host name: the engine of each Host a docker machine runs on. */
  engines: Map<string, LabEngine>;
  /** By ProxmoxCluster name: the provider of each cluster a proxmox machine runs on. */
  clusters: Map<string, LabCluster>;
  schedule: ScheduleState;
  mode: LabMode;
  memory: LabMemory;
  events: EventRecorder;
  metrics: LabMetrics;
  now: () => number;
  log: Logger;
  opts: SessionOptions;
  /** Generated passwords by access-Secret key (kept once made). */
  passwords: Map<string, string>;
  /** Writes the access Secret when its content changed (views: what is known now). */
  writeAccess(views: MachineView[]): Promise<void>;
}

interface EngineWorld {
  networks: ObservedNetwork[];
  machines: ObservedMachine[];
  images?: SnapshotImage[];
}

type Outcome = 'ready' | 'waiting' | 'failed' | 'blocked';

const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve, reject) => {
  const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); reject(signal.reason); };
  signal.addEventListener('abort', onAbort, { once: true });
});

/** Failures of the engine itself end the reconcile (the kit retries); anything else is the machine's. */
function isEngineDown(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === DockerErrorCodes.Unreachable || code === DockerErrorCodes.Timeout;
}

export class LabSession implements ExternalClient<LabObject, LabFacts> {
  private readonly in: SessionInputs;
  private world = new Map<string, EngineWorld>();
  /** By cluster name: one /cluster/resources per reconcile. */
  private inventories = new Map<string, Inventory>();
  /** Snapshots of the Lab's VMs by VMID (read only when snapshots matter). */
  private vmSnapshots = new Map<number, string[]>();
  private lastFacts: LabFacts | undefined;
  readonly steps: ManagedStep<LabObject, LabFacts>[];

  constructor(inputs: SessionInputs) {
    this.in = inputs;
    this.steps = [{ name: 'access-secret', run: async (_obj, observation) => { await this.in.writeAccess(observation.facts?.machines ?? []); return false; } }];
  }

  get facts(): LabFacts | undefined {
    return this.lastFacts;
  }

  private get spec(): LabSpec {
    return this.in.lab.spec;
  }

  private get memory(): LabMemory {
    return this.in.memory;
  }

  /** A rolled-back deployment is tried again at its time, or at once when the spec changed since. */
  private retryDue(): boolean {
    const m = this.memory;
    if (!m.nextRetryTime) return true;
    return Date.parse(m.nextRetryTime) <= this.in.now() || (m.retryGeneration !== undefined && m.retryGeneration !== this.in.lab.metadata.generation);
  }

  private revertRequest(): string | undefined {
    const value = this.in.lab.metadata.annotations?.[REVERT_ANNOTATION];
    return value && value !== this.memory.lastRevert?.request ? value : undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Observe

  /** Lists what the Lab has on every engine: networks, machines, and snapshot images when they matter. */
  private async look(signal: AbortSignal): Promise<void> {
    const wantImages = this.spec.snapshotOnReady || Boolean(this.memory.snapshot) || Boolean(this.revertRequest());
    const world = new Map<string, EngineWorld>();
    await Promise.all([...this.in.engines].map(async ([host, eng]) => {
      const [networks, machines, images] = await Promise.all([
        eng.networks.list(this.in.owner.uid, signal),
        eng.machines.list(this.in.owner.uid, signal),
        wantImages ? eng.machines.snapshots(this.in.owner.uid, signal) : Promise.resolve(undefined),
      ]);
      world.set(host, { networks, machines, ...(images ? { images } : {}) });
    }));
    this.world = world;
    const inventories = new Map<string, Inventory>();
    const vmSnapshots = new Map<number, string[]>();
    await Promise.all([...this.in.clusters].map(async ([name, c]) => {
      const inventory = await c.handle.vms.inventory(signal);
      inventories.set(name, inventory);
      if (!wantImages) return;
      for (const vms of labVms(inventory, this.in.owner.uid).values()) {
        for (const vm of vms) vmSnapshots.set(vm.vmid, await c.handle.vms.snapshots(vm, signal));
      }
    }));
    this.inventories = inventories;
    this.vmSnapshots = vmSnapshots;
  }

  private vmPlans(): MachinePlan[] {
    return [...this.in.plans.values()].filter((p) => p.proxmox);
  }

  private vmOf(plan: MachinePlan): { vm?: ManagedVm; duplicates: ManagedVm[] } {
    const found = this.inventories.get(plan.proxmox!.clusterName)?.byOwner.get(plan.proxmox!.owner.uid.toLowerCase()) ?? [];
    const [vm, ...duplicates] = found;
    return { ...(vm ? { vm } : {}), duplicates };
  }

  private vmMemory(plan: MachinePlan): VmMemory {
    const uid = plan.proxmox!.owner.uid;
    let m = this.memory.vms.get(uid);
    if (!m) this.memory.vms.set(uid, (m = {}));
    return m;
  }

  async observe(_obj: LabObject, signal: AbortSignal): Promise<Observation<LabFacts>> {
    await this.look(signal);
    // Machines whose steps are not known to be done: read them (one exec each, in parallel).
    await Promise.all(this.dockerPlans().map(async (plan) => {
      const c = this.containerOf(plan).container;
      if (!c || c.state !== 'running' || plan.steps.length === 0) return;
      const mem = this.containerMemory(c.id);
      const progress = stepsProgress(plan.steps, mem.steps);
      // Outcomes are final (read before, or recorded in status for this very container).
      if (progress.done || progress.failed) return;
      await this.probe(plan, c, signal).catch((err) => {
        if (isEngineDown(err)) throw err;
        this.in.log.debug({ machine: plan.name, err: errorMessage(err) }, 'could not read the machine\'s steps');
      });
    }));
    const facts = this.computeFacts();
    this.lastFacts = facts;
    const todo = this.pending(facts);
    const exists = [...this.world.values()].some((w) => w.machines.length > 0 || w.networks.length > 0);
    const conditions = labConditions(facts);
    const ready = conditions[0]?.status === 'True';
    return {
      exists: exists || facts.mode !== 'run',
      upToDate: todo.length === 0,
      ...(todo.length > 0 ? { diff: todo.slice(0, 6).join('; ') } : {}),
      ready,
      ...(ready ? {} : { notReadyReason: conditions[0]?.reason, notReadyMessage: conditions[0]?.message }),
      facts,
    };
  }

  private dockerPlans(): MachinePlan[] {
    return [...this.in.plans.values()].filter((p) => p.docker);
  }

  private engineOf(plan: MachinePlan): LabEngine {
    return this.in.engines.get(plan.docker!.hostName)!;
  }

  private containerOf(plan: MachinePlan): { container?: ObservedMachine; duplicates: ObservedMachine[]; recreate?: string } {
    const w = this.world.get(plan.docker!.hostName);
    const mine = (w?.machines ?? []).filter((m) => m.machine === plan.name);
    const expected = machineContainerName(this.in.owner, plan.name);
    const container = mine.find((m) => m.name === expected) ?? mine[0];
    const duplicates = mine.filter((m) => m !== container);
    if (!container) return { duplicates };
    const recreate = container.specHash !== plan.docker!.hash ? 'made from an older spec' : container.state === 'dead' ? 'its container is dead' : undefined;
    return { container, duplicates, ...(recreate ? { recreate } : {}) };
  }

  private containerMemory(id: string): ContainerMemory {
    let m = this.memory.containers.get(id);
    if (!m) this.memory.containers.set(id, (m = { steps: new Map(), announced: new Set() }));
    return m;
  }

  private exec(eng: LabEngine, id: string): MachineExec {
    return (cmd, o) => eng.machines.exec(id, cmd, { ...(o.user ? { user: o.user } : {}), ...(o.stdin !== undefined ? { stdin: o.stdin } : {}), ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  }

  /** Reads the machine's steps, host key and password digest; fetches the output of steps that just ended. */
  private async probe(plan: MachinePlan, c: ObservedMachine, signal: AbortSignal): Promise<ContainerMemory> {
    const eng = this.engineOf(plan);
    const exec = this.exec(eng, c.id);
    const mem = this.containerMemory(c.id);
    const probe = await probeMachine(exec, signal);
    const nowSeconds = Math.floor(Date.now() / 1000);
    for (const step of plan.steps) {
      const before = mem.steps.get(step.name);
      const next = stepStatusOf(step.name, probe.steps.get(step.name), nowSeconds);
      if (before && (before.state === 'Succeeded' || before.state === 'Failed') && next.state === before.state) continue;
      if ((next.state === 'Succeeded' || next.state === 'Failed') && next.output === undefined) {
        const tail = await stepOutput(exec, step.name, signal).catch(() => '');
        if (tail) next.output = tail;
      }
      mem.steps.set(step.name, next);
      this.announceStep(plan, mem, next, step.timeoutSeconds);
    }
    if (probe.hostKey) mem.hostKey = probe.hostKey;
    if (probe.passwordsDigest) mem.passwordsDigest = probe.passwordsDigest;
    mem.probedAt = this.in.now();
    return mem;
  }

  private announceStep(plan: MachinePlan, mem: ContainerMemory, step: StepStatus, timeoutSeconds: number): void {
    if (step.state !== 'Succeeded' && step.state !== 'Failed') return;
    if (mem.announced.has(step.name)) return;
    mem.announced.add(step.name);
    const what = step.name === FIRST_BOOT ? 'first boot' : `step ${step.name}`;
    if (step.state === 'Succeeded') {
      this.in.events.event(this.in.lab, 'Normal', LabReasons.StepSucceeded, `machine ${plan.name}: ${what} succeeded (exit 0)${step.output ? `; last lines: ${step.output.split('\n').slice(-3).join(' | ')}` : ''}`);
      this.in.metrics.step(step.name === FIRST_BOOT ? 'first-boot' : 'provision', 'succeeded');
    } else {
      this.in.events.event(this.in.lab, 'Warning', LabReasons.StepFailed, `machine ${plan.name}: ${describeFailure(step, timeoutSeconds)}`);
      this.in.metrics.step(step.name === FIRST_BOOT ? 'first-boot' : 'provision', 'failed');
    }
  }

  /** The machines that are Ready by what is known now. */
  private readySet(views: MachineView[]): Set<string> {
    return new Set(views.filter((v) => v.phase === 'Ready').map((v) => v.name));
  }

  private computeFacts(): LabFacts {
    const views: MachineView[] = [];
    const ready = new Set<string>();
    // In dependency order, so a machine knows whether what it waits for is Ready.
    const order = [...this.in.graph.names].sort((a, b) => this.in.graph.level.get(a)! - this.in.graph.level.get(b)!);
    const byName = new Map<string, MachineView>();
    for (const name of order) {
      const view = this.machineView(this.in.plans.get(name)!, ready);
      if (view.phase === 'Ready') ready.add(name);
      byName.set(name, view);
    }
    for (const name of this.in.graph.names) views.push(byName.get(name)!);
    const networks: NetworkView[] = (this.spec.networks ?? []).map((n) => {
      const found = [...this.world.values()].flatMap((w) => w.networks).find((x) => x.network === n.name);
      return { name: n.name, ...(found ? { id: found.id } : {}), ...((found?.subnet ?? n.cidr) ? { cidr: found?.subnet ?? n.cidr } : {}), isolated: n.isolated ?? true };
    });
    const m = this.memory;
    const facts: LabFacts = {
      mode: this.in.mode,
      schedule: this.in.schedule,
      machines: views,
      networks,
      failurePolicy: this.spec.failurePolicy ?? 'Keep',
      ...(m.snapshot ? { snapshot: m.snapshot } : {}),
      ...(m.lastRevert ? { lastRevert: m.lastRevert } : {}),
      ...(m.lastReadyTime ? { lastReadyTime: m.lastReadyTime } : {}),
      ...(m.attempt ? { attempt: m.attempt } : {}),
      ...(m.nextRetryTime ? { nextRetryTime: m.nextRetryTime } : {}),
      ...(m.nextRetryTime && m.lastFailure ? { lastFailure: m.lastFailure } : {}),
    };
    const asked = this.in.lab.metadata.annotations?.[REVERT_ANNOTATION];
    if (asked && asked === m.refusedRevert) facts.revertRefused = `the revert asked for (${REVERT_ANNOTATION}=${asked}) cannot be done: the Lab has no snapshot of every machine (set snapshotOnReady and wait until it is Ready)`;
    if (this.in.mode === 'expired') {
      const anything = [...this.world.values()].some((w) => (this.spec.schedule?.expiryAction === 'Stop' ? w.machines.some((x) => x.state === 'running') : w.machines.length + w.networks.length + (w.images?.length ?? 0) > 0));
      facts.expiryDone = !anything;
    }
    return facts;
  }

  private machineView(plan: MachinePlan, ready: ReadonlySet<string>): MachineView {
    const base: MachineView = { name: plan.name, phase: 'Pending' };
    const planned = plan.attachments.map((a) => a.address).filter((a): a is string => Boolean(a));
    if (plan.proxmox) return this.vmView(plan, ready);
    if (!plan.docker) return { ...base, phase: 'Failed', reason: LabReasons.MachineNotSupported, message: 'the machine is neither a container nor a VM' };
    const { container, recreate } = this.containerOf(plan);
    const mem = container ? this.memory.containers.get(container.id) : undefined;
    const attached = mem?.attached ? Object.values(mem.attached).filter(Boolean) : [];
    const addresses = planned.length > 0 ? planned : attached;
    const where = {
      ...(addresses[0] ? { address: addresses[0] } : {}),
      ...(addresses.length > 0 ? { addresses } : {}),
      ...(container ? { containerId: container.id } : {}),
      ...(plan.steps.length > 0 ? { provisionedVia: 'exec' as const } : {}),
      ...(mem?.hostKey ? { hostKey: mem.hostKey } : {}),
    };
    const progress = stepsProgress(plan.steps, mem?.steps ?? new Map());
    const steps = plan.steps.length > 0 ? { steps: progress.steps } : {};
    const mode = this.in.mode;
    if (mode === 'expired') {
      return container ? { ...base, ...where, ...steps, phase: container.state === 'running' ? 'Deleting' : 'Stopped', reason: LabReasons.Expired } : { ...base, phase: 'Stopped', reason: LabReasons.Expired, message: 'removed at expiry' };
    }
    if (mode === 'stop') {
      if (!container) return { ...base, ...where, phase: 'Pending', reason: LabReasons.LabStopped, message: 'not made: the Lab is stopped' };
      return { ...base, ...where, ...steps, phase: container.state === 'running' ? 'Ready' : 'Stopped', reason: LabReasons.LabStopped, ...(container.state === 'running' ? { message: 'being stopped' } : {}) };
    }
    if (this.memory.nextRetryTime) {
      return { ...base, ...where, phase: container ? 'Creating' : 'Pending', reason: LabReasons.RolledBack, message: `rolled back; the next attempt starts at ${this.memory.nextRetryTime}` };
    }
    const refusal = this.memory.refusals.get(plan.name);
    if (!container && refusal) return { ...base, ...where, phase: 'Failed', reason: refusal.reason, message: refusal.message };
    const blockers = waitingFor(this.in.graph, plan.name, ready);
    if (!container) {
      return blockers.length > 0
        ? { ...base, ...where, phase: 'Pending', reason: LabReasons.WaitingForDependencies, message: `waits for ${blockers.join(', ')}` }
        : { ...base, ...where, phase: 'Creating', reason: LabReasons.Provisioning, message: 'being created' };
    }
    if (recreate) return { ...base, ...where, phase: 'Creating', reason: LabReasons.Provisioning, message: `being re-created: ${recreate}` };
    if (container.state !== 'running') {
      if (blockers.length > 0) return { ...base, ...where, ...steps, phase: 'Pending', reason: LabReasons.WaitingForDependencies, message: `waits for ${blockers.join(', ')}` };
      return { ...base, ...where, ...steps, phase: 'Booting', reason: LabReasons.Provisioning, message: container.state === 'exited' ? `container ${container.state}${container.exitCode !== undefined ? ` (exit ${container.exitCode})` : ''}: being started` : 'being started' };
    }
    if (progress.failed) {
      const timeout = plan.steps.find((s) => s.name === progress.failed!.name)?.timeoutSeconds;
      return { ...base, ...where, ...steps, phase: 'Failed', reason: LabReasons.StepFailed, message: describeFailure(progress.failed, timeout) };
    }
    if (!progress.done) {
      const current = progress.running ?? progress.next?.name ?? '';
      const known = mem?.probedAt !== undefined;
      return {
        ...base, ...where, ...steps,
        phase: current === FIRST_BOOT ? 'Booting' : 'Provisioning',
        reason: LabReasons.Provisioning,
        message: !known ? 'reading its steps' : progress.running ? `${current === FIRST_BOOT ? 'first boot' : `step ${current}`} running` : `${current === FIRST_BOOT ? 'first boot' : `step ${current}`} next`,
      };
    }
    if (this.passwordsDue(plan, mem)) return { ...base, ...where, ...steps, phase: 'Provisioning', reason: LabReasons.Provisioning, message: 'setting passwords' };
    return { ...base, ...where, ...steps, phase: 'Ready', reason: LabReasons.MachineReady };
  }

  private vmView(plan: MachinePlan, ready: ReadonlySet<string>): MachineView {
    const p = plan.proxmox!;
    const base: MachineView = { name: plan.name, phase: 'Pending' };
    if (p.unsupported) return { ...base, phase: 'Failed', reason: LabReasons.MachineNotSupported, message: p.unsupported };
    const { vm } = this.vmOf(plan);
    const mem = this.memory.vms.get(p.owner.uid);
    const running = vm?.status === 'running';
    const where = {
      ...(vm ? { vmid: vm.vmid, node: vm.node } : {}),
      ...(running && mem?.address ? { address: mem.address, addresses: mem.addresses ?? [mem.address] } : {}),
    };
    const note = p.ignoredNetworks.length > 0 ? ` (only its first network is attached: ${p.ignoredNetworks.join(', ')} not yet supported on Proxmox)` : '';
    const mode = this.in.mode;
    if (mode === 'expired') return vm ? { ...base, ...where, phase: running ? 'Deleting' : 'Stopped', reason: LabReasons.Expired } : { ...base, phase: 'Stopped', reason: LabReasons.Expired, message: 'removed at expiry' };
    if (mode === 'stop') {
      if (!vm) return { ...base, phase: 'Pending', reason: LabReasons.LabStopped, message: 'not made: the Lab is stopped' };
      return { ...base, ...where, phase: running ? 'Ready' : 'Stopped', reason: LabReasons.LabStopped, ...(running ? { message: 'being stopped' } : {}) };
    }
    if (this.memory.nextRetryTime) return { ...base, ...where, phase: vm ? 'Creating' : 'Pending', reason: LabReasons.RolledBack, message: `rolled back; the next attempt starts at ${this.memory.nextRetryTime}` };
    const refusal = this.memory.refusals.get(plan.name);
    if (refusal && !(running && mem?.address)) return { ...base, ...where, phase: 'Failed', reason: refusal.reason, message: refusal.message };
    const blockers = waitingFor(this.in.graph, plan.name, ready);
    if (!vm) {
      return blockers.length > 0
        ? { ...base, phase: 'Pending', reason: LabReasons.WaitingForDependencies, message: `waits for ${blockers.join(', ')}` }
        : { ...base, phase: 'Creating', reason: LabReasons.Provisioning, message: `being cloned from ${String(p.spec?.template)}` };
    }
    if (!running) {
      if (blockers.length > 0) return { ...base, ...where, phase: 'Pending', reason: LabReasons.WaitingForDependencies, message: `waits for ${blockers.join(', ')}` };
      return { ...base, ...where, phase: 'Booting', reason: LabReasons.Provisioning, message: `VM ${vm.vmid} is ${vm.status ?? 'not running'}: being started` };
    }
    if (!mem?.address) return { ...base, ...where, phase: 'Booting', reason: LabReasons.Provisioning, message: `VM ${vm.vmid} runs; waiting for its guest agent to report an address${note}` };
    return { ...base, ...where, phase: 'Ready', reason: LabReasons.MachineReady, ...(note ? { message: `Ready${note}` } : {}) };
  }

  private passwordLines(plan: MachinePlan): Array<{ user: string; password: string }> {
    return plan.users
      .filter((u) => u.auth === 'password')
      .map((u) => ({ user: u.name, password: this.in.passwords.get(`password.${plan.name}.${u.name}`) ?? '' }))
      .filter((l) => l.password);
  }

  private passwordsDue(plan: MachinePlan, mem: ContainerMemory | undefined): boolean {
    const lines = this.passwordLines(plan);
    return lines.length > 0 && mem?.passwordsDigest !== passwordsDigest(lines);
  }

  /** What converge would do now, in words (empty: up to date). */
  private pending(f: LabFacts): string[] {
    const todo: string[] = [];
    const worlds = [...this.world.values()];
    if (f.mode === 'expired') {
      if (!f.expiryDone) todo.push(this.spec.schedule?.expiryAction === 'Stop' ? 'machines to stop at expiry' : 'machines, networks and snapshots to remove at expiry');
      return todo;
    }
    if (f.mode === 'stop') {
      for (const w of worlds) for (const m of w.machines) if (m.state === 'running') todo.push(`machine ${m.machine}: to stop`);
      return todo;
    }
    if (this.memory.nextRetryTime) return this.retryDue() ? ['the next attempt is due'] : [];
    for (const [host, specs] of this.networkSpecs()) {
      const have = this.world.get(host)?.networks ?? [];
      for (const s of specs) {
        const n = have.find((x) => x.network === s.network);
        if (!n) todo.push(`network ${s.network}: to create`);
        else if (networkDrift(n, s).length > 0) todo.push(`network ${s.network}: ${networkDrift(n, s).join(', ')}`);
      }
    }
    const ready = this.readySet(f.machines);
    for (const plan of this.vmPlans()) {
      const v = f.machines.find((x) => x.name === plan.name)!;
      if (this.vmOf(plan).duplicates.length > 0) todo.push(`machine ${v.name}: duplicate VMs`);
      if (v.phase === 'Ready' || v.phase === 'Pending' || v.reason === LabReasons.MachineNotSupported) continue;
      if (v.phase === 'Failed') {
        const refusal = this.memory.refusals.get(v.name);
        if (refusal && refusal.retryAt <= this.in.now()) todo.push(`machine ${v.name}: to make again`);
        continue;
      }
      if (waitingFor(this.in.graph, v.name, ready).length > 0) continue;
      todo.push(`machine ${v.name}: ${v.message ?? v.phase}`);
    }
    for (const [host, w] of this.world) {
      for (const m of w.machines) if (!this.in.plans.has(m.machine)) todo.push(`container of machine ${m.machine} on Host ${host}: no longer in the spec`);
    }
    for (const [name, inv] of this.inventories) {
      const wanted = new Set(this.vmPlans().map((p) => p.proxmox!.owner.uid.toLowerCase()));
      for (const uid of labVms(inv, this.in.owner.uid).keys()) if (!wanted.has(uid)) todo.push(`a VM on ${name} whose machine is no longer in the spec`);
    }
    for (const v of f.machines) {
      const plan = this.in.plans.get(v.name)!;
      if (!plan.docker) continue;
      const { container, duplicates } = this.containerOf(plan);
      if (duplicates.length > 0) todo.push(`machine ${v.name}: ${duplicates.length} duplicate container(s)`);
      if (v.phase === 'Ready' || v.phase === 'Pending') continue;
      if (v.phase === 'Failed') {
        const refusal = this.memory.refusals.get(v.name);
        if (refusal && refusal.retryAt <= this.in.now()) todo.push(`machine ${v.name}: to create again`);
        else if (!refusal && this.spec.failurePolicy === 'Rollback') todo.push(`machine ${v.name}: failed, to roll back`);
        continue;
      }
      if (waitingFor(this.in.graph, v.name, ready).length > 0) continue;
      const mem = container ? this.memory.containers.get(container.id) : undefined;
      const progress = stepsProgress(plan.steps, mem?.steps ?? new Map());
      if (container?.state === 'running' && progress.running && !this.passwordsDue(plan, mem)) continue; // runs by itself; polled
      todo.push(`machine ${v.name}: ${v.message ?? v.phase}`);
    }
    if (this.revertRequest() && this.revertRequest() !== this.memory.refusedRevert) todo.push(`revert to the snapshot as ${REVERT_ANNOTATION} asks`);
    if (this.spec.snapshotOnReady && readyCount(f) === f.machines.length && !this.snapshotValid()) todo.push('snapshot of every machine to take');
    return todo;
  }

  // -------------------------------------------------------------------------------------------
  // Converge

  async create(obj: LabObject, signal: AbortSignal): Promise<void> {
    await this.converge(obj, signal);
  }

  async update(obj: LabObject, _o: Observation<LabFacts>, signal: AbortSignal): Promise<void> {
    await this.converge(obj, signal);
  }

  private async converge(_obj: LabObject, signal: AbortSignal): Promise<void> {
    const mode = this.in.mode;
    if (mode === 'expired') {
      if (this.spec.schedule?.expiryAction === 'Stop') await this.stopEverything(signal);
      else await this.removeEverything(signal);
      if (!this.memory.lastFailure) this.in.events.event(this.in.lab, 'Normal', LabReasons.Expired, this.in.schedule.reason);
      return;
    }
    if (mode === 'stop') {
      await this.stopEverything(signal);
      return;
    }
    if (this.memory.nextRetryTime) {
      if (!this.retryDue()) return;
      delete this.memory.nextRetryTime;
      delete this.memory.retryGeneration;
      this.memory.deployStartedMs = this.in.now();
    }
    // A deployment is under way while any machine is not Ready (the metric's start).
    if (!this.lastFacts || this.lastFacts.machines.some((m) => m.phase !== 'Ready')) this.memory.deployStartedMs ??= this.in.now();
    await this.removeStrays(signal);
    await this.ensureNetworks(signal);
    // Passwords exist in the access Secret before any machine is given one.
    await this.in.writeAccess(this.lastFacts?.machines ?? []);
    await this.revertIfAsked(signal);
    const outcomes = await this.bringUpAll(signal);
    const failed = [...outcomes].filter(([, o]) => o === 'failed').map(([n]) => n);
    if (failed.length > 0 && this.spec.failurePolicy === 'Rollback') {
      await this.rollback(failed, signal);
      return;
    }
    if ([...outcomes.values()].every((o) => o === 'ready')) await this.onAllReady(signal);
  }

  private networkSpecs(): Map<string, NetworkSpec[]> {
    const byName = new Map((this.spec.networks ?? []).map((n) => [n.name, n]));
    const out = new Map<string, NetworkSpec[]>();
    for (const plan of this.dockerPlans()) {
      const list = out.get(plan.docker!.hostName) ?? [];
      for (const a of plan.attachments) {
        if (list.some((s) => s.network === a.network)) continue;
        const n = byName.get(a.network)!;
        const subnet = n.cidr && ipv4Range(n.cidr) ? n.cidr : undefined;
        list.push({ owner: this.in.owner, network: n.name, ...(subnet ? { subnet } : {}), isolated: n.isolated ?? true });
      }
      out.set(plan.docker!.hostName, list);
    }
    return out;
  }

  /** Every network each engine needs; a clash with another network is found before anything is made. */
  private async ensureNetworks(signal: AbortSignal): Promise<void> {
    for (const [host, specs] of this.networkSpecs()) {
      const eng = this.in.engines.get(host)!;
      const w = this.world.get(host) ?? { networks: [], machines: [] };
      const missing = specs.filter((s) => !w.networks.some((n) => n.network === s.network && networkDrift(n, s).length === 0));
      if (missing.length === 0) continue;
      const clash = (await eng.networks.overlapping(missing.map((s) => s.subnet ?? ''), this.in.owner.uid, signal))[0];
      if (clash) throw overlapError(missing.find((s) => s.subnet === clash.subnet)?.network ?? '', clash.subnet, clash.holder, eng.engine.description);
      for (const s of missing) {
        const drifted = w.networks.find((n) => n.network === s.network);
        if (drifted) {
          // Its machines go with it (they are made again on the new network).
          for (const m of w.machines.filter((x) => this.in.plans.get(x.machine)?.attachments.some((a) => a.network === s.network))) await eng.machines.remove(m.id, signal);
          await eng.networks.remove(drifted.id, signal);
          w.machines = w.machines.filter((x) => !this.in.plans.get(x.machine)?.attachments.some((a) => a.network === s.network));
          w.networks = w.networks.filter((n) => n !== drifted);
        }
        w.networks.push(await eng.networks.create(s, signal));
      }
      this.world.set(host, w);
    }
  }

  /** Every machine, each once the machines it depends on are Ready in this pass. */
  private async bringUpAll(signal: AbortSignal): Promise<Map<string, Outcome>> {
    const limit = new Semaphore(this.in.opts.machineConcurrency);
    const runs = new Map<string, Promise<Outcome>>();
    const run = (name: string): Promise<Outcome> => {
      let p = runs.get(name);
      if (!p) {
        p = (async () => {
          const deps = await Promise.all((this.in.graph.dependsOn.get(name) ?? []).map(run));
          if (deps.some((d) => d !== 'ready')) return 'blocked' as const;
          const release = await limit.acquire(signal);
          try {
            return await this.bringUp(this.in.plans.get(name)!, signal);
          } finally {
            release();
          }
        })();
        runs.set(name, p);
      }
      return p;
    };
    const results = await Promise.allSettled(this.in.graph.names.map(run));
    const down = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (down) throw down.reason;
    return new Map(this.in.graph.names.map((n, i) => [n, (results[i] as PromiseFulfilledResult<Outcome>).value]));
  }

  private replaceInWorld(host: string, machine: ObservedMachine | undefined, removedIds: string[]): void {
    const w = this.world.get(host) ?? { networks: [], machines: [] };
    w.machines = w.machines.filter((m) => !removedIds.includes(m.id) && m.id !== machine?.id);
    if (machine) w.machines.push(machine);
    this.world.set(host, w);
  }

  private async bringUp(plan: MachinePlan, signal: AbortSignal): Promise<Outcome> {
    if (plan.proxmox) return this.bringUpVm(plan, signal);
    if (!plan.docker) return 'failed';
    const eng = this.engineOf(plan);
    const host = plan.docker.hostName;
    let { container, duplicates, recreate } = this.containerOf(plan);
    for (const d of duplicates) await eng.machines.remove(d.id, signal);
    if (duplicates.length > 0) this.replaceInWorld(host, container, duplicates.map((d) => d.id));
    if (container && recreate) {
      await eng.machines.remove(container.id, signal);
      this.memory.containers.delete(container.id);
      this.replaceInWorld(host, undefined, [container.id]);
      container = undefined;
    }
    if (!container) {
      const refusal = this.memory.refusals.get(plan.name);
      if (refusal && refusal.retryAt > this.in.now()) return 'failed';
      try {
        await eng.images.ensureImage(plan.docker.spec.image, 'IfNotPresent', signal);
        container = await eng.machines.create(plan.docker.spec, signal);
        this.memory.refusals.delete(plan.name);
      } catch (err) {
        if (isEngineDown(err) || signal.aborted) throw err;
        this.refuse(plan.name, err);
        return 'failed';
      }
      this.replaceInWorld(host, container, []);
      this.in.events.event(this.in.lab, 'Normal', LabReasons.MachineCreated, `machine ${plan.name}: container ${container.name} created on Host ${host}`);
    }
    const mem = this.containerMemory(container.id);
    if (container.state !== 'running') {
      try {
        if (mem.attached === undefined) await eng.machines.connectMissing(container.id, plan.docker.spec, signal);
        await eng.machines.start(container.id, signal);
      } catch (err) {
        if (isEngineDown(err) || signal.aborted) throw err;
        this.refuse(plan.name, err);
        return 'failed';
      }
      if (container.state === 'exited' && mem.readyAnnounced) {
        this.in.events.event(this.in.lab, 'Warning', LabReasons.MachineExited, `machine ${plan.name}: its container had stopped${container.exitCode !== undefined ? ` (exit ${container.exitCode})` : ''}; started it again`);
      }
      container = { ...container, state: 'running' };
      this.replaceInWorld(host, container, []);
    }
    if (mem.attached === undefined) {
      const seen = await eng.machines.networks(container.id, signal);
      if (seen) mem.attached = seen.attached;
    }
    const outcome = await this.provision(plan, container, signal);
    if (outcome === 'ready' && !mem.readyAnnounced) {
      mem.readyAnnounced = true;
      this.in.events.event(this.in.lab, 'Normal', LabReasons.MachineReady, `machine ${plan.name} is Ready`);
    }
    return outcome;
  }

  /** A VM: ensure (clone, config, disk) once, start, then the guest agent's address. */
  private async bringUpVm(plan: MachinePlan, signal: AbortSignal): Promise<Outcome> {
    const p = plan.proxmox!;
    if (p.unsupported || !p.spec) return 'failed';
    const vms = this.in.clusters.get(p.clusterName)!.handle.vms;
    const mem = this.vmMemory(plan);
    let { vm } = this.vmOf(plan);
    const refusal = this.memory.refusals.get(plan.name);
    if (refusal && refusal.retryAt > this.in.now() && !(vm?.status === 'running' && mem.address)) return 'failed';
    try {
      if (!vm || !mem.verified) {
        const ensured = await vms.ensure(p.owner, p.spec, signal);
        vm = ensured.vm;
        mem.verified = true;
        mem.vmid = vm.vmid;
        if (ensured.created) this.in.events.event(this.in.lab, 'Normal', LabReasons.MachineCreated, `machine ${plan.name}: VM ${vm.vmid} cloned from ${String(p.spec.template)} on ${p.clusterName} (node ${vm.node})`);
      }
      if (vm.status !== 'running') {
        await vms.start(vm, signal);
        vm = { ...vm, status: 'running' };
        delete mem.address;
      }
      this.memory.refusals.delete(plan.name);
      const deadline = Date.now() + this.in.opts.stepWaitMs;
      while (!mem.address) {
        const addr = await vms.address(vm, signal);
        if (addr.state === 'ready') {
          mem.address = addr.primary;
          mem.addresses = [...addr.ipv4, ...addr.ipv6];
          break;
        }
        if (Date.now() >= deadline) return 'waiting';
        await sleep(this.in.opts.stepPollMs, signal);
      }
    } catch (err) {
      if (isEngineDown(err) || signal.aborted) throw err;
      this.refuse(plan.name, err);
      return 'failed';
    }
    const inv = this.inventories.get(p.clusterName);
    if (inv) {
      const list = inv.byOwner.get(p.owner.uid.toLowerCase()) ?? [];
      inv.byOwner.set(p.owner.uid.toLowerCase(), [vm, ...list.filter((x) => x.vmid !== vm!.vmid)]);
    }
    if (!mem.readyAnnounced) {
      mem.readyAnnounced = true;
      this.in.events.event(this.in.lab, 'Normal', LabReasons.MachineReady, `machine ${plan.name} is Ready (VM ${vm.vmid}, ${mem.address})`);
    }
    return 'ready';
  }

  private refuse(machine: string, err: unknown): void {
    const before = this.memory.refusals.get(machine);
    const failures = (before?.failures ?? 0) + 1;
    const delay = Math.min(5_000 * 2 ** (failures - 1), 5 * 60_000);
    const reason = catalogedReason(err);
    const message = errorMessage(err);
    this.memory.refusals.set(machine, { reason, message, failures, retryAt: this.in.now() + delay });
    if (before?.message !== message) this.in.events.event(this.in.lab, 'Warning', LabReasons.MachineFailed, `machine ${machine}: ${message}`);
  }

  /** First boot and the provisioning steps, in order, each once; waits a little for a running one. */
  private async provision(plan: MachinePlan, c: ObservedMachine, signal: AbortSignal): Promise<Outcome> {
    if (plan.steps.length === 0) return 'ready';
    const eng = this.engineOf(plan);
    const exec = this.exec(eng, c.id);
    let mem = this.containerMemory(c.id);
    const known = stepsProgress(plan.steps, mem.steps);
    if (known.failed) return 'failed';
    if (!known.done && mem.probedAt === undefined) mem = await this.probe(plan, c, signal);
    const deadline = Date.now() + this.in.opts.stepWaitMs;
    for (;;) {
      const progress = stepsProgress(plan.steps, mem.steps);
      if (progress.failed) return 'failed';
      const firstBootDone = mem.steps.get(FIRST_BOOT)?.state === 'Succeeded' || !plan.steps.some((s) => s.name === FIRST_BOOT);
      if (firstBootDone && this.passwordsDue(plan, mem)) {
        const lines = this.passwordLines(plan);
        await setPasswords(exec, lines, signal);
        mem.passwordsDigest = passwordsDigest(lines);
      }
      if (progress.done) return 'ready';
      if (progress.next) {
        await launchStep(exec, progress.next, signal);
        mem.steps.set(progress.next.name, { name: progress.next.name, state: 'Running', startTime: isoSeconds(Date.now()) });
      }
      if (Date.now() >= deadline) return 'waiting';
      await sleep(this.in.opts.stepPollMs, signal);
      mem = await this.probe(plan, c, signal);
    }
  }

  private async stopEverything(signal: AbortSignal): Promise<void> {
    await Promise.all([...this.in.engines].map(async ([host, eng]) => {
      const running = (this.world.get(host)?.machines ?? []).filter((m) => m.state === 'running');
      await Promise.all(running.map((m) => eng.machines.stop(m.id, signal)));
    }));
    await Promise.all([...this.in.clusters].map(async ([name, c]) => {
      const inv = this.inventories.get(name);
      const running = inv ? [...labVms(inv, this.in.owner.uid).values()].flat().filter((vm) => vm.status === 'running') : [];
      await Promise.all(running.map((vm) => c.handle.vms.stop(vm, { graceMs: this.in.opts.vmStopGraceMs, signal })));
    }));
    for (const m of this.memory.vms.values()) delete m.address;
    await this.look(signal);
  }

  /** Machines, networks and snapshot images of the Lab on every engine (deletion and expiry). */
  private async removeEverything(signal: AbortSignal, fresh = false): Promise<void> {
    if (fresh) await this.look(signal);
    await Promise.all([...this.in.engines].map(async ([host, eng]) => {
      const w = this.world.get(host);
      if (!w) return;
      await Promise.all(w.machines.map((m) => eng.machines.remove(m.id, signal)));
      for (const n of w.networks) await eng.networks.remove(n.id, signal);
      const images = w.images ?? (await eng.machines.snapshots(this.in.owner.uid, signal));
      for (const i of images) await eng.machines.removeImage(i.id, signal);
      this.world.set(host, { networks: [], machines: [], images: [] });
    }));
    await Promise.all([...this.in.clusters].map(async ([name, c]) => {
      const inv = this.inventories.get(name) ?? (await c.handle.vms.inventory(signal));
      await Promise.all([...labVms(inv, this.in.owner.uid).values()].flat().map((vm) => c.handle.vms.delete(vm, signal)));
      for (const uid of labVms(inv, this.in.owner.uid).keys()) inv.byOwner.delete(uid);
    }));
    this.memory.vms.clear();
  }

  async delete(_obj: LabObject, signal: AbortSignal): Promise<void> {
    await this.removeEverything(signal, true);
  }

  // -------------------------------------------------------------------------------------------
  // Rollback, snapshots, revert

  private async rollback(failed: string[], signal: AbortSignal): Promise<void> {
    const attempt = (this.memory.attempt ?? 0) + 1;
    const why = failed.map((name) => {
      const plan = this.in.plans.get(name)!;
      const { container } = plan.docker ? this.containerOf(plan) : { container: undefined };
      const mem = container ? this.memory.containers.get(container.id) : undefined;
      const step = mem ? stepsProgress(plan.steps, mem.steps).failed : undefined;
      return `machine ${name}: ${step ? describeFailure(step, plan.steps.find((s) => s.name === step.name)?.timeoutSeconds) : (this.memory.refusals.get(name)?.message ?? 'failed')}`;
    }).join('; ');
    let what: string;
    if (this.snapshotValid()) {
      for (const name of failed) await this.revertMachine(this.in.plans.get(name)!, `rollback-${attempt}`, signal);
      what = `reverted ${failed.join(', ')} to snapshot ${this.memory.snapshot!.name}`;
    } else if (this.memory.lastReadyTime) {
      const gone = [...new Set(failed.flatMap((n) => [n, ...dependentsOf(this.in.graph, n)]))];
      for (const name of gone) await this.removeMachine(this.in.plans.get(name)!, signal);
      what = `removed ${gone.join(', ')}`;
    } else {
      await this.removeEverything(signal);
      what = 'removed every machine and network of the attempt';
    }
    for (const name of failed) this.memory.refusals.delete(name);
    const delay = Math.min(this.in.opts.rollbackBaseMs * 2 ** (attempt - 1), this.in.opts.rollbackMaxMs);
    this.memory.attempt = attempt;
    this.memory.nextRetryTime = isoSeconds(this.in.now() + delay);
    if (this.in.lab.metadata.generation !== undefined) this.memory.retryGeneration = this.in.lab.metadata.generation;
    this.memory.lastFailure = why;
    this.in.metrics.deploy('failed', this.memory.deployStartedMs, this.in.now());
    delete this.memory.deployStartedMs;
    this.in.events.event(this.in.lab, 'Warning', LabReasons.RolledBack, `attempt ${attempt} failed (${why}); ${what}; the next attempt starts at ${this.memory.nextRetryTime}`);
    await this.look(signal);
  }

  /** Removes one machine's container or VM (rollback, a machine gone from the spec). */
  private async removeMachine(plan: MachinePlan, signal: AbortSignal): Promise<void> {
    if (plan.docker) {
      const { container, duplicates } = this.containerOf(plan);
      for (const c of [...(container ? [container] : []), ...duplicates]) {
        await this.engineOf(plan).machines.remove(c.id, signal);
        this.memory.containers.delete(c.id);
      }
    }
    if (plan.proxmox) {
      const { vm, duplicates } = this.vmOf(plan);
      const vms = this.in.clusters.get(plan.proxmox.clusterName)!.handle.vms;
      for (const v of [...(vm ? [vm] : []), ...duplicates]) await vms.delete(v, signal);
      this.memory.vms.delete(plan.proxmox.owner.uid);
      this.inventories.get(plan.proxmox.clusterName)?.byOwner.delete(plan.proxmox.owner.uid.toLowerCase());
    }
  }

  /** Containers and VMs of machines the spec no longer has. */
  private async removeStrays(signal: AbortSignal): Promise<void> {
    for (const [host, w] of this.world) {
      const eng = this.in.engines.get(host)!;
      for (const m of w.machines.filter((x) => !this.in.plans.has(x.machine))) {
        await eng.machines.remove(m.id, signal);
        this.in.events.event(this.in.lab, 'Normal', KitReasons.Deleted, `machine ${m.machine} is no longer in the spec: removed its container ${m.name}`);
      }
      w.machines = w.machines.filter((x) => this.in.plans.has(x.machine));
    }
    const wanted = new Set(this.vmPlans().map((p) => p.proxmox!.owner.uid.toLowerCase()));
    for (const [name, inv] of this.inventories) {
      for (const [uid, vms] of labVms(inv, this.in.owner.uid)) {
        if (wanted.has(uid)) continue;
        for (const vm of vms) {
          await this.in.clusters.get(name)!.handle.vms.delete(vm, signal);
          this.in.events.event(this.in.lab, 'Normal', KitReasons.Deleted, `VM ${vm.vmid} on ${name} belongs to a machine no longer in the spec: removed it`);
        }
        inv.byOwner.delete(uid);
      }
    }
  }

  private async onAllReady(signal: AbortSignal): Promise<void> {
    this.memory.lastReadyTime = isoSeconds(this.in.now());
    if (this.memory.deployStartedMs !== undefined) {
      this.in.metrics.deploy('succeeded', this.memory.deployStartedMs, this.in.now());
      delete this.memory.deployStartedMs;
    }
    delete this.memory.attempt;
    delete this.memory.lastFailure;
    if (this.spec.snapshotOnReady && !this.snapshotValid()) await this.takeSnapshot(signal);
  }

  /** The snapshot's image of a machine, when it was taken of the machine as the spec is now. */
  private snapshotImage(plan: MachinePlan): SnapshotImage | undefined {
    const name = this.memory.snapshot?.name;
    if (!name || !plan.docker) return undefined;
    const images = this.world.get(plan.docker.hostName)?.images ?? [];
    return images.find((i) => i.machine === plan.name && i.snapshot === name && (i.specHash === undefined || i.specHash === plan.docker!.hash));
  }

  private vmSnapshotTaken(plan: MachinePlan): boolean {
    const { vm } = this.vmOf(plan);
    return Boolean(vm && this.memory.snapshot && this.vmSnapshots.get(vm.vmid)?.includes(this.memory.snapshot.name));
  }

  private snapshotValid(): boolean {
    if (!this.memory.snapshot) return false;
    return [...this.in.plans.values()].every((p) => (p.docker ? this.snapshotImage(p) !== undefined : p.proxmox ? this.vmSnapshotTaken(p) : false));
  }

  private async takeSnapshot(signal: AbortSignal): Promise<void> {
    const now = this.in.now();
    const name = `ready-${new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
    await Promise.all(this.dockerPlans().map(async (plan) => {
      const { container } = this.containerOf(plan);
      if (container) await this.engineOf(plan).machines.commit(container.id, { owner: this.in.owner, machine: plan.name }, name, signal);
    }));
    await Promise.all(this.vmPlans().map(async (plan) => {
      const { vm } = this.vmOf(plan);
      if (vm) await this.in.clusters.get(plan.proxmox!.clusterName)!.handle.vms.snapshot(vm, name, signal);
    }));
    const previous = this.memory.snapshot?.name;
    this.memory.snapshot = { name, time: isoSeconds(now) };
    await this.look(signal);
    // Older snapshots are of no further use once every machine has the new one.
    if (previous && previous !== name) {
      for (const [host, eng] of this.in.engines) {
        for (const i of this.world.get(host)?.images ?? []) if (i.snapshot !== name) await eng.machines.removeImage(i.id, signal);
      }
      for (const plan of this.vmPlans()) {
        const { vm } = this.vmOf(plan);
        if (vm) await this.in.clusters.get(plan.proxmox!.clusterName)!.handle.vms.deleteSnapshot(vm, previous, signal);
      }
      await this.look(signal);
    }
    this.in.events.event(this.in.lab, 'Normal', LabReasons.SnapshotTaken, `snapshot ${name} of ${this.in.plans.size} machine(s) taken: the point ${REVERT_ANNOTATION} and Rollback go back to`);
  }

  private async revertIfAsked(signal: AbortSignal): Promise<void> {
    const request = this.revertRequest();
    if (!request) return;
    if (!this.snapshotValid()) {
      if (this.memory.refusedRevert !== request) {
        this.memory.refusedRevert = request;
        this.in.events.event(this.in.lab, 'Warning', LabReasons.RevertRefused, `${REVERT_ANNOTATION}=${request}: the Lab has no snapshot of every machine to go back to (set snapshotOnReady and wait until it is Ready)`);
      }
      return;
    }
    const token = createHash('sha256').update(request).digest('hex').slice(0, 16);
    await Promise.all([...this.in.plans.values()].map((plan) => this.revertMachine(plan, token, signal)));
    this.memory.lastRevert = { request, time: isoSeconds(this.in.now()), snapshot: this.memory.snapshot!.name };
    this.in.events.event(this.in.lab, 'Normal', LabReasons.Reverted, `every machine is back at snapshot ${this.memory.snapshot!.name}, as ${REVERT_ANNOTATION}=${request} asked`);
  }

  /** Re-creates the machine's container from its snapshot image (once per token: a repeat finds it done). */
  private async revertMachine(plan: MachinePlan, token: string, signal: AbortSignal): Promise<void> {
    if (plan.proxmox) {
      // A Proxmox rollback of a snapshot without RAM leaves the VM stopped: the pass starts it.
      const { vm } = this.vmOf(plan);
      if (!vm || !this.memory.snapshot) return;
      await this.in.clusters.get(plan.proxmox.clusterName)!.handle.vms.rollback(vm, this.memory.snapshot.name, signal);
      const mem = this.vmMemory(plan);
      delete mem.address;
      const inv = this.inventories.get(plan.proxmox.clusterName);
      inv?.byOwner.set(plan.proxmox.owner.uid.toLowerCase(), [{ ...vm, status: 'stopped' }]);
      return;
    }
    const image = this.snapshotImage(plan);
    if (!image || !plan.docker) return;
    const eng = this.engineOf(plan);
    const { container } = this.containerOf(plan);
    if (container?.revert === token) return;
    if (container) {
      await eng.machines.remove(container.id, signal);
      this.memory.containers.delete(container.id);
    }
    const made = await eng.machines.create({ ...plan.docker.spec, snapshot: { image: image.id, name: image.snapshot }, labels: { [REVERT_LABEL]: token } }, signal);
    this.replaceInWorld(plan.docker.hostName, made, container ? [container.id] : []);
  }

  /** Status fields and conditions, for the reconciler's kind. */
  static status(f: LabFacts): { fields: Record<string, unknown>; conditions: ReturnType<typeof labConditions> } {
    return { fields: labStatusFields(f), conditions: labConditions(f) };
  }
}
