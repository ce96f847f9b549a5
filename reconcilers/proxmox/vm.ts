// The VM lifecycle on one ProxmoxCluster, shared by Workspaces and Labs: find by owner, create by
// cloning a template, converge the config, power, address, snapshots, delete. It knows no
// Kubernetes object, only an owner uid. Rules it keeps:
// - a VM is found by its owner tag (or, for a clone cut short before tagging, the description
//   marker) before anything new is made, and found again after a clone whose answer was lost;
// - it only ever changes VMs that carry Outrigger's tag (or its marker) and lie in vmidRange;
// - two VMs for one owner (two creators racing) converge to one: the lowest VMID stays;
// - every failure leaves nothing half made: a failed clone's VM is removed.
import { realClock, type Clock } from '../../controller/clock.ts';
import { OutriggerError, TerminalError } from '../../controller/errors.ts';
import type { ProxmoxClient } from './client.ts';
import { needsSnippet, renderUserData, snippetName } from './cloudinit.ts';
import {
  ProxmoxErrorCodes,
  ProxmoxOutcomeUnknownError,
  ProxmoxTaskError,
  isAgentNotRunning,
  isAlreadyRunning,
  isNoQuorum,
  isNotRunning,
  isVmGone,
  isVmidTaken,
  lockedBy,
  ProxmoxApiError,
  ProxmoxForbiddenError,
} from './errors.ts';
import { missingFrom, ProxmoxMissingPrivilegesError, readPermissions } from './privileges.ts';
import { agentInterfaces, maybeUpid, snapshotList, vmConfig, vmPending, vmStatus } from './schemas.ts';
import type { SnippetStore } from './snippets.ts';
import { sleep, waitForTask } from './tasks.ts';
import { addressesFrom, type VmAddress } from './vm-address.ts';
import { desiredConfig, diffConfig, hasDrift, type ConfigDrift, type VmConfigValues } from './vm-config.ts';
import { buildInventory, readInventory, toManaged, type Inventory, type ManagedVm } from './vm-inventory.ts';
import { checkPlacement, resolveTemplate } from './vm-preflight.ts';
import { MANAGED_TAG, markerOwner, ownerMarker, ownerTag, parseVmSpec, splitTags, type VmOwner, type VmSpec, type VmSpecInput } from './vm-spec.ts';
import { inRange, VmidReservations, type VmidRange } from './vmid.ts';

export interface VmTimeouts {
  /** A clone task (full clones of big disks take minutes). */
  cloneMs: number;
  /** Other tasks: config, resize, start, stop, snapshot, delete. */
  taskMs: number;
  /** Waiting for a VM's `lock: clone` to clear before touching it. */
  cloneLockMs: number;
  /** First interval between task status polls (it grows to 2 s). */
  pollMs: number;
}

export const DEFAULT_TIMEOUTS: VmTimeouts = { cloneMs: 15 * 60_000, taskMs: 2 * 60_000, cloneLockMs: 15 * 60_000, pollMs: 200 };

export interface ProxmoxVmsOptions {
  client: ProxmoxClient;
  vmidRange: VmidRange;
  clock?: Clock;
  random?: () => number;
  /** Needed only for cloud-init packages and commands. */
  snippets?: SnippetStore;
  /** Shared by every provider of one cluster in this process. */
  reservations?: VmidReservations;
  timeouts?: Partial<VmTimeouts>;
}

export interface EnsureResult {
  vm: ManagedVm;
  created: boolean;
  /** Extra VMs of the same owner that were deleted (a race of two creators). */
  removedDuplicates: number[];
  drift: ConfigDrift;
}

export interface VmObservation {
  exists: boolean;
  vm?: ManagedVm;
  /** Other VMs of the same owner (to be removed by ensure). */
  duplicates: ManagedVm[];
  upToDate: boolean;
  drift?: ConfigDrift;
}

/** How many times one create picks a new VMID after "already exists". */
const MAX_PICKS = 8;

export class ProxmoxVms {
  private readonly client: ProxmoxClient;
  private readonly range: VmidRange;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly snippets?: SnippetStore;
  private readonly reservations: VmidReservations;
  private readonly timeouts: VmTimeouts;

  constructor(opts: ProxmoxVmsOptions) {
    if (opts.vmidRange.start > opts.vmidRange.end) throw new RangeError('vmidRange.start must not be greater than vmidRange.end');
    this.client = opts.client;
    this.range = opts.vmidRange;
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.snippets = opts.snippets;
    this.reservations = opts.reservations ?? new VmidReservations();
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  }

  inventory(signal?: AbortSignal): Promise<Inventory> {
    return readInventory(this.client, this.range, signal);
  }

  /** The owner's VMs, lowest VMID first; reads configs only of untagged VMs in the range. */
  async find(owner: VmOwner, opts: { inventory?: Inventory; signal?: AbortSignal } = {}): Promise<ManagedVm[]> {
    const inv = opts.inventory ?? (await this.inventory(opts.signal));
    const uid = owner.uid.toLowerCase();
    const tagged = inv.byOwner.get(uid) ?? [];
    const marked: ManagedVm[] = [];
    for (const r of inv.untaggedInRange) {
      const config = await this.config(r.node, r.vmid, opts.signal).catch((err: unknown) => {
        if (isVmGone(err)) return undefined;
        throw err;
      });
      if (config && markerOwner(config.description) === uid) marked.push(toManaged(r, uid));
    }
    return [...tagged, ...marked].sort((a, b) => a.vmid - b.vmid);
  }

  /** Reads without changing anything: does the owner's VM exist, and what differs from the spec. */
  async observe(owner: VmOwner, specInput: VmSpecInput, opts: { inventory?: Inventory; signal?: AbortSignal } = {}): Promise<VmObservation> {
    const spec = parseVmSpec(specInput);
    const [vm, ...duplicates] = await this.find(owner, opts);
    if (!vm) return { exists: false, duplicates, upToDate: false };
    const drift = await this.drift(vm, owner, spec, opts.signal);
    return { exists: true, vm, duplicates, drift, upToDate: duplicates.length === 0 && !hasDrift(drift) };
  }

  /** Finds or creates the owner's VM and puts its config right. Does not start it. */
  async ensure(owner: VmOwner, specInput: VmSpecInput, signal?: AbortSignal): Promise<EnsureResult> {
    checkOwner(owner);
    const spec = parseVmSpec(specInput);
    const inventory = await this.inventory(signal);
    let [vm, ...duplicates] = await this.find(owner, { inventory, signal });
    const removed: number[] = [];
    for (const extra of duplicates) {
      await this.delete(extra, signal);
      removed.push(extra.vmid);
    }
    let created = false;
    if (!vm) {
      vm = await this.create(owner, spec, inventory, signal);
      created = true;
    }
    const drift = await this.converge(vm, owner, spec, signal);
    return { vm, created, removedDuplicates: removed, drift };
  }

  // ---- create -------------------------------------------------------------------------------

  private async create(owner: VmOwner, spec: VmSpec, inventory: Inventory, signal?: AbortSignal): Promise<ManagedVm> {
    const template = resolveTemplate(spec.template, inventory);
    const node = spec.node ?? template.node;
    if (!spec.full && spec.storage) {
      throw new TerminalError(ProxmoxErrorCodes.InvalidSpec, 'storage: a linked clone stays on the template\'s storage; remove storage or make a full clone', { field: 'storage' });
    }
    await checkPlacement(this.client, node, spec, signal);
    if (needsSnippet(spec) && !this.snippets) {
      throw new TerminalError(ProxmoxErrorCodes.InvalidSpec,
        'cloudInit: packages and commands need a snippet storage for cloud-init user-data, and none is configured for this cluster', { field: 'cloudInit' });
    }
    const taken = new Set(inventory.taken);
    for (let pick = 0; pick < MAX_PICKS; pick++) {
      const vmid = this.reservations.reserve(this.range, taken, this.random);
      if (vmid === undefined) {
        throw new OutriggerError(ProxmoxErrorCodes.VmidRangeExhausted,
          `vmidRange ${this.range.start}-${this.range.end}: every VMID is taken; widen the ProxmoxCluster's vmidRange or delete VMs`, { field: 'vmidRange' });
      }
      try {
        const made = await this.cloneInto(vmid, owner, spec, template, node, signal);
        if (made) return made;
        taken.add(vmid);
      } finally {
        this.reservations.release(vmid);
      }
    }
    throw new OutriggerError(ProxmoxErrorCodes.Conflict, `${MAX_PICKS} VMIDs in a row were taken by someone else while cloning; trying again later`);
  }

  /** One clone attempt onto vmid; undefined when the id turned out taken. */
  private async cloneInto(vmid: number, owner: VmOwner, spec: VmSpec, template: { vmid: number; node: string }, node: string, signal?: AbortSignal): Promise<ManagedVm | undefined> {
    const description = [ownerMarker(owner.uid), owner.displayName ? `Made by Outrigger for ${owner.displayName}.` : 'Made by Outrigger.'].join('\n');
    let upid: string | undefined;
    try {
      upid = await this.client.post('/nodes/{node}/qemu/{vmid}/clone', {
        path: { node: template.node, vmid: template.vmid },
        params: {
          newid: vmid, name: spec.name, full: spec.full, description,
          ...(spec.storage ? { storage: spec.storage } : {}),
          ...(node !== template.node ? { target: node } : {}),
          ...(spec.pool ? { pool: spec.pool } : {}),
        },
        signal,
      }, maybeUpid);
    } catch (err) {
      if (isVmidTaken(err)) return undefined;
      if (err instanceof ProxmoxOutcomeUnknownError) {
        // The clone may be under way or done: look for it by its marker before anything else.
        const found = await this.lookFor(vmid, owner, signal);
        if (found) return found;
        throw err;
      }
      if (err instanceof ProxmoxForbiddenError && !err.privilege) {
        // PVE named no privilege (one of several alternatives was missing): find out which.
        const needs = [{ path: `/vms/${template.vmid}`, privilege: 'VM.Clone' }, { path: `/vms/${vmid}`, privilege: 'VM.Allocate' },
          ...(spec.storage ? [{ path: `/storage/${spec.storage}`, privilege: 'Datastore.AllocateSpace' }] : [])];
        const missing = missingFrom(await readPermissions(this.client, signal), needs);
        if (missing.length > 0) throw new ProxmoxMissingPrivilegesError(`cloning template ${template.vmid}`, missing, err);
      }
      throw this.explain(err, `clone of template ${template.vmid}`);
    }
    try {
      if (upid) await waitForTask(this.client, upid, `clone of template ${template.vmid} into VM ${vmid}`, { clock: this.clock, timeoutMs: this.timeouts.cloneMs, pollMs: this.timeouts.pollMs, signal });
    } catch (err) {
      if (err instanceof ProxmoxTaskError) {
        await this.removeFailedClone(vmid, owner, signal);
        throw new OutriggerError(ProxmoxErrorCodes.CloneFailed,
          `cloning template ${template.vmid} into VM ${vmid} failed: ${err.exitStatus}; nothing was left behind, it is tried again`, { cause: err });
      }
      throw err;
    }
    const found = await this.lookFor(vmid, owner, signal);
    if (!found) throw new OutriggerError(ProxmoxErrorCodes.CloneFailed, `the clone into VM ${vmid} ended but the VM is not there`);
    return found;
  }

  /** The VM at vmid if it carries this owner's marker or tag. */
  private async lookFor(vmid: number, owner: VmOwner, signal?: AbortSignal): Promise<ManagedVm | undefined> {
    const inv = await this.inventory(signal);
    const r = inv.resources.find((x) => x.vmid === vmid && x.type === 'qemu');
    if (!r) return undefined;
    const config = await this.config(r.node, vmid, signal).catch((err: unknown) => (isVmGone(err) ? undefined : Promise.reject(err)));
    if (!config) return undefined;
    const uid = owner.uid.toLowerCase();
    if (markerOwner(config.description) !== uid && !splitTags(config.tags).includes(ownerTag(uid))) return undefined;
    return toManaged(r, uid);
  }

  private async removeFailedClone(vmid: number, owner: VmOwner, signal?: AbortSignal): Promise<void> {
    const left = await this.lookFor(vmid, owner, signal);
    if (left) await this.delete(left, signal);
  }

  // ---- config -------------------------------------------------------------------------------

  private snippetVolume(owner: VmOwner, spec: VmSpec): string | undefined {
    if (!needsSnippet(spec) || !this.snippets) return undefined;
    return this.snippets.volumeFor(snippetName(owner.uid));
  }

  private async drift(vm: ManagedVm, owner: VmOwner, spec: VmSpec, signal?: AbortSignal): Promise<ConfigDrift> {
    const [config, pending] = await Promise.all([
      this.config(vm.node, vm.vmid, signal),
      this.client.get('/nodes/{node}/qemu/{vmid}/pending', { path: { node: vm.node, vmid: vm.vmid }, signal }, vmPending),
    ]);
    const want = desiredConfig(spec, owner.uid, config, { userVolume: this.snippetVolume(owner, spec) });
    return diffConfig(spec, want, config, pending);
  }

  /** Puts the config right: sets what differs, grows the disk. Returns what it found. */
  private async converge(vm: ManagedVm, owner: VmOwner, spec: VmSpec, signal?: AbortSignal): Promise<ConfigDrift> {
    await this.waitForCloneLock(vm, signal);
    if (needsSnippet(spec) && this.snippets) await this.snippets.put(snippetName(owner.uid), renderUserData(spec));
    const drift = await this.drift(vm, owner, spec, signal);
    if (Object.keys(drift.set).length > 0) {
      const config = await this.config(vm.node, vm.vmid, signal);
      const params: VmConfigValues = { ...drift.set };
      if (!markerOwner(config.description)) params.description = [ownerMarker(owner.uid), config.description ?? ''].join('\n').trim();
      await this.task(vm, 'config update', () => this.client.post('/nodes/{node}/qemu/{vmid}/config', {
        path: { node: vm.node, vmid: vm.vmid }, params: { ...params, digest: config.digest }, signal,
      }, maybeUpid), signal);
    }
    if (drift.grow) {
      const grow = drift.grow;
      await this.task(vm, `resize of ${grow.disk}`, () => this.client.put('/nodes/{node}/qemu/{vmid}/resize', {
        path: { node: vm.node, vmid: vm.vmid }, params: { disk: grow.disk as 'scsi0', size: `${Math.ceil(grow.bytes / 1024 ** 3)}G` }, signal,
      }, maybeUpid), signal);
    }
    return drift;
  }

  private async waitForCloneLock(vm: ManagedVm, signal?: AbortSignal): Promise<void> {
    const began = this.clock.now();
    let interval = this.timeouts.pollMs;
    for (;;) {
      const status = await this.status(vm, signal);
      if (status.lock !== 'clone' && status.lock !== 'create') return;
      if (this.clock.now() - began > this.timeouts.cloneLockMs) {
        throw new OutriggerError(ProxmoxErrorCodes.VmLocked, `VM ${vm.vmid} is still locked (${status.lock}) after ${Math.round(this.timeouts.cloneLockMs / 1000)} s`);
      }
      await sleep(this.clock, interval, signal);
      interval = Math.min(interval * 2, 5_000);
    }
  }

  // ---- power and address --------------------------------------------------------------------

  async status(vm: ManagedVm, signal?: AbortSignal) {
    return this.client.get('/nodes/{node}/qemu/{vmid}/status/current', { path: { node: vm.node, vmid: vm.vmid }, signal }, vmStatus);
  }

  /** Starts the VM; one already running is success. */
  async start(vm: ManagedVm, signal?: AbortSignal): Promise<void> {
    await this.waitForCloneLock(vm, signal);
    try {
      await this.task(vm, 'start', () => this.client.post('/nodes/{node}/qemu/{vmid}/status/start', { path: { node: vm.node, vmid: vm.vmid }, signal }, maybeUpid), signal);
    } catch (err) {
      if (isAlreadyRunning(err)) return;
      if (err instanceof ProxmoxOutcomeUnknownError && (await this.status(vm, signal)).status === 'running') return;
      throw err;
    }
  }

  /** Asks the guest to shut down, and stops it hard if it has not within graceMs. */
  async stop(vm: ManagedVm, opts: { graceMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = opts;
    if ((await this.status(vm, signal)).status === 'stopped') return;
    const graceMs = opts.graceMs ?? 60_000;
    if (graceMs > 0) {
      try {
        await this.task(vm, 'shutdown', () => this.client.post('/nodes/{node}/qemu/{vmid}/status/shutdown', {
          path: { node: vm.node, vmid: vm.vmid }, params: { timeout: Math.max(1, Math.ceil(graceMs / 1000)), forceStop: false }, signal,
        }, maybeUpid), signal, graceMs + this.timeouts.taskMs);
      } catch (err) {
        if (isNotRunning(err)) return;
        // A guest that ignores ACPI ends the task with "got timeout": stop it.
        if (!(err instanceof ProxmoxTaskError) && !(err instanceof ProxmoxOutcomeUnknownError)) throw err;
      }
      if ((await this.status(vm, signal)).status === 'stopped') return;
    }
    await this.hardStop(vm, signal);
  }

  private async hardStop(vm: ManagedVm, signal?: AbortSignal): Promise<void> {
    try {
      await this.task(vm, 'stop', () => this.client.post('/nodes/{node}/qemu/{vmid}/status/stop', { path: { node: vm.node, vmid: vm.vmid }, signal }, maybeUpid), signal);
    } catch (err) {
      if (isNotRunning(err) || isVmGone(err)) return;
      if (err instanceof ProxmoxOutcomeUnknownError && (await this.status(vm, signal)).status === 'stopped') return;
      throw err;
    }
  }

  /** The VM's address from its guest agent, or `waiting` while the agent is not up. */
  async address(vm: ManagedVm, signal?: AbortSignal): Promise<VmAddress> {
    try {
      const answer = await this.client.get('/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces', { path: { node: vm.node, vmid: vm.vmid }, signal }, agentInterfaces);
      return addressesFrom(answer);
    } catch (err) {
      if (isAgentNotRunning(err)) return { state: 'waiting', reason: 'the QEMU guest agent is not running yet (the guest is booting, or the agent is not installed)' };
      if (isNotRunning(err)) return { state: 'waiting', reason: 'the VM is not running' };
      throw this.explain(err, 'reading the guest agent');
    }
  }

  /** Polls address() until ready or timeoutMs passes (then a retryable error). */
  async waitForAddress(vm: ManagedVm, timeoutMs: number, signal?: AbortSignal): Promise<Extract<VmAddress, { state: 'ready' }>> {
    const began = this.clock.now();
    let interval = this.timeouts.pollMs;
    for (;;) {
      const addr = await this.address(vm, signal);
      if (addr.state === 'ready') return addr;
      if (this.clock.now() - began >= timeoutMs) {
        throw new OutriggerError(ProxmoxErrorCodes.NoAddress, `VM ${vm.vmid} has no address after ${Math.round(timeoutMs / 1000)} s: ${addr.reason}`);
      }
      await sleep(this.clock, interval, signal);
      interval = Math.min(interval * 2, 5_000);
    }
  }

  // ---- snapshots ----------------------------------------------------------------------------

  async snapshots(vm: ManagedVm, signal?: AbortSignal): Promise<string[]> {
    const list = await this.client.get('/nodes/{node}/qemu/{vmid}/snapshot', { path: { node: vm.node, vmid: vm.vmid }, signal }, snapshotList);
    return list.map((s) => s.name).filter((n) => n !== 'current');
  }

  /** Takes snapshot `name`; one that exists already is success. */
  async snapshot(vm: ManagedVm, name: string, signal?: AbortSignal): Promise<void> {
    if ((await this.snapshots(vm, signal)).includes(name)) return;
    try {
      await this.task(vm, `snapshot ${name}`, () => this.client.post('/nodes/{node}/qemu/{vmid}/snapshot', { path: { node: vm.node, vmid: vm.vmid }, params: { snapname: name }, signal }, maybeUpid), signal);
    } catch (err) {
      if (err instanceof ProxmoxOutcomeUnknownError && (await this.snapshots(vm, signal)).includes(name)) return;
      throw err;
    }
  }

  async rollback(vm: ManagedVm, name: string, signal?: AbortSignal): Promise<void> {
    await this.task(vm, `rollback to ${name}`, () => this.client.post('/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback', {
      path: { node: vm.node, vmid: vm.vmid, snapname: name }, signal,
    }, maybeUpid), signal);
  }

  async deleteSnapshot(vm: ManagedVm, name: string, signal?: AbortSignal): Promise<void> {
    if (!(await this.snapshots(vm, signal)).includes(name)) return;
    await this.task(vm, `deleting snapshot ${name}`, () => this.client.delete('/nodes/{node}/qemu/{vmid}/snapshot/{snapname}', {
      path: { node: vm.node, vmid: vm.vmid, snapname: name }, signal,
    }, maybeUpid), signal);
  }

  // ---- delete -------------------------------------------------------------------------------

  /** Stops and destroys the VM with its disks; a VM already gone is success. Only Outrigger's VMs. */
  async delete(vm: ManagedVm, signal?: AbortSignal): Promise<void> {
    const config = await this.config(vm.node, vm.vmid, signal).catch((err: unknown) => (isVmGone(err) ? undefined : Promise.reject(err)));
    if (!config) return;
    this.assertManaged(vm.vmid, config);
    await this.hardStop(vm, signal);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.task(vm, 'destroy', () => this.client.delete('/nodes/{node}/qemu/{vmid}', {
          path: { node: vm.node, vmid: vm.vmid }, params: { purge: true, 'destroy-unreferenced-disks': true }, signal,
        }, maybeUpid), signal);
        break;
      } catch (err) {
        if (isVmGone(err)) break;
        if (err instanceof ProxmoxOutcomeUnknownError) {
          const still = await this.config(vm.node, vm.vmid, signal).catch((e: unknown) => (isVmGone(e) ? undefined : Promise.reject(e)));
          if (!still) break;
          throw err;
        }
        // Started again in between (HA, a person): stop once more.
        if (attempt === 0 && err instanceof ProxmoxApiError && /is running - destroy failed/.test(err.pveMessage)) {
          await this.hardStop(vm, signal);
          continue;
        }
        throw err;
      }
    }
    const uid = markerOwner(config.description) ?? vm.ownerUid;
    if (uid && this.snippets) await this.snippets.remove(snippetName(uid));
  }

  private assertManaged(vmid: number, config: VmConfigValues): void {
    const tagged = splitTags(config.tags).includes(MANAGED_TAG) || markerOwner(config.description) !== undefined;
    if (!inRange(this.range, vmid) || !tagged) {
      throw new TerminalError(ProxmoxErrorCodes.NotManaged,
        `VM ${vmid} is not Outrigger's (${!inRange(this.range, vmid) ? `outside vmidRange ${this.range.start}-${this.range.end}` : `no ${MANAGED_TAG} tag`}); it is left alone`);
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  private config(node: string, vmid: number, signal?: AbortSignal): Promise<VmConfigValues> {
    return this.client.get('/nodes/{node}/qemu/{vmid}/config', { path: { node, vmid }, signal }, vmConfig);
  }

  /** Runs a call that starts a task and waits for it; PVE refusals become errors that say what to do. */
  private async task(vm: ManagedVm, what: string, call: () => Promise<string | undefined>, signal?: AbortSignal, timeoutMs = this.timeouts.taskMs): Promise<void> {
    let upid: string | undefined;
    try {
      upid = await call();
    } catch (err) {
      throw this.explain(err, `${what} of VM ${vm.vmid}`);
    }
    if (!upid) return;
    try {
      await waitForTask(this.client, upid, `${what} of VM ${vm.vmid}`, { clock: this.clock, timeoutMs, pollMs: this.timeouts.pollMs, signal });
    } catch (err) {
      throw this.explain(err, `${what} of VM ${vm.vmid}`);
    }
  }

  /** Errors whose cure is waiting get codes of their own; the rest pass unchanged. */
  private explain(err: unknown, what: string): unknown {
    const lock = lockedBy(err);
    if (lock && lock !== 'clone') {
      return new OutriggerError(ProxmoxErrorCodes.VmLocked, `${what}: the VM is locked (${lock}); Outrigger waits until the ${lock} ends`, { cause: err });
    }
    if (isNoQuorum(err)) {
      return new OutriggerError(ProxmoxErrorCodes.NoQuorum, `${what}: the Proxmox cluster has lost quorum, so it takes no changes until it regains it`, { cause: err });
    }
    return err;
  }
}

function checkOwner(owner: VmOwner): void {
  if (!/^[a-z0-9]([-a-z0-9]{0,62}[a-z0-9])?$/.test(owner.uid.toLowerCase())) {
    throw new TerminalError(ProxmoxErrorCodes.InvalidSpec, `owner uid ${JSON.stringify(owner.uid)} cannot be a Proxmox tag`);
  }
}

export { buildInventory };
