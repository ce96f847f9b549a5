// What a Lab's status says, as pure functions of what the reconcile found: per-machine state, the
// READY count (3/5), the phase, the schedule's next action and why the Lab runs or not, and the
// Ready / Reconciling / Stalled conditions with the Lab's own reasons.
import type { ConditionInput } from '../../controller/index.ts';
import { LabReasons } from './reasons.ts';
import type { ScheduleState } from './schedule.ts';
import type { StepStatus } from './steps.ts';

export type MachinePhase = 'Pending' | 'Creating' | 'Booting' | 'Provisioning' | 'Ready' | 'Stopped' | 'Failed' | 'Deleting';
export type LabPhase = 'Pending' | 'Provisioning' | 'Ready' | 'Degraded' | 'Stopped' | 'Failed' | 'Expired' | 'Deleting';
/** run: machines should be up; stop: stopped, kept; expired: past expiry, done as expiryAction says. */
export type LabMode = 'run' | 'stop' | 'expired';

export interface MachineView {
  name: string;
  phase: MachinePhase;
  reason?: string;
  message?: string;
  address?: string;
  addresses?: string[];
  containerId?: string;
  vmid?: number;
  node?: string;
  steps?: StepStatus[];
  provisionedVia?: 'exec' | 'ssh';
  hostKey?: string;
}

export interface NetworkView {
  name: string;
  id?: string;
  cidr?: string;
  isolated: boolean;
}

export interface LabFacts {
  mode: LabMode;
  schedule: ScheduleState;
  machines: MachineView[];
  networks: NetworkView[];
  failurePolicy: 'Keep' | 'Rollback';
  /** Expired and nothing of the Lab runs (Delete: nothing is left; Stop: everything stopped). */
  expiryDone?: boolean;
  snapshot?: { name: string; time: string };
  lastRevert?: { request: string; time: string; snapshot: string };
  /** A revert asked for that cannot be carried out, and why. */
  revertRefused?: string;
  lastReadyTime?: string;
  attempt?: number;
  nextRetryTime?: string;
  /** Why the last attempt was rolled back. */
  lastFailure?: string;
}

const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function readyCount(f: LabFacts): number {
  return f.machines.filter((m) => m.phase === 'Ready').length;
}

export function labPhase(f: LabFacts): LabPhase {
  if (f.mode === 'expired') return 'Expired';
  const total = f.machines.length;
  const ready = readyCount(f);
  if (f.mode === 'stop') return f.machines.every((m) => m.phase === 'Stopped' || m.phase === 'Pending') ? 'Stopped' : 'Provisioning';
  if (ready === total) return 'Ready';
  if (f.machines.some((m) => m.phase === 'Failed') || f.nextRetryTime) return f.lastReadyTime ? 'Degraded' : 'Failed';
  if (f.lastReadyTime && ready > 0) return 'Degraded';
  return f.machines.every((m) => m.phase === 'Pending') ? 'Pending' : 'Provisioning';
}

function machineStatus(m: MachineView): Record<string, unknown> {
  const completed = (m.steps ?? []).filter((s) => s.state === 'Succeeded' && s.name !== 'first-boot').map((s) => s.name);
  return {
    name: m.name,
    phase: m.phase,
    ...(m.address ? { address: m.address } : {}),
    ...(m.addresses && m.addresses.length > 0 ? { addresses: m.addresses } : {}),
    ...(m.vmid !== undefined ? { vmid: m.vmid } : {}),
    ...(m.node ? { node: m.node } : {}),
    ...(m.containerId ? { containerId: m.containerId } : {}),
    ...(completed.length > 0 ? { completedSteps: completed } : {}),
    ...(m.steps && m.steps.length > 0 ? { steps: m.steps } : {}),
    ...(m.provisionedVia ? { provisionedVia: m.provisionedVia } : {}),
    ...(m.hostKey ? { hostKey: m.hostKey } : {}),
    ...(m.reason ? { reason: m.reason } : {}),
    ...(m.message ? { message: m.message } : {}),
  };
}

/** The status fields besides conditions and observedGeneration (stable for unchanged facts). */
export function labStatusFields(f: LabFacts): Record<string, unknown> {
  const s = f.schedule;
  return {
    phase: labPhase(f),
    machines: f.machines.map(machineStatus),
    readyMachines: `${readyCount(f)}/${f.machines.length}`,
    readyCount: readyCount(f),
    machineCount: f.machines.length,
    ...(f.networks.length > 0 ? { networks: f.networks.map((n) => ({ name: n.name, ...(n.id ? { id: n.id } : {}), ...(n.cidr ? { cidr: n.cidr } : {}), isolated: n.isolated })) } : {}),
    ...(s.expiresAt ? { expiresAt: isoSeconds(s.expiresAt) } : {}),
    ...(s.nextStop ? { nextStopTime: isoSeconds(s.nextStop) } : {}),
    ...(s.nextStart ? { nextStartTime: isoSeconds(s.nextStart) } : {}),
    ...(s.nextAction ? { nextAction: s.nextAction.action, nextActionTime: isoSeconds(s.nextAction.time) } : {}),
    stateReason: s.reason,
    ...(f.snapshot ? { snapshot: f.snapshot } : {}),
    ...(f.lastRevert ? { lastRevert: f.lastRevert } : {}),
    ...(f.lastReadyTime ? { lastReadyTime: f.lastReadyTime } : {}),
    ...(f.attempt ? { attempt: f.attempt } : {}),
    ...(f.nextRetryTime ? { nextRetryTime: f.nextRetryTime } : {}),
  };
}

function describeMachines(f: LabFacts): string {
  const notReady = f.machines.filter((m) => m.phase !== 'Ready');
  const parts = notReady.slice(0, 5).map((m) => `machine ${m.name}: ${m.message ?? m.phase}`);
  if (notReady.length > 5) parts.push(`and ${notReady.length - 5} more`);
  return parts.join('; ');
}

const synced: ConditionInput = { type: 'Synced', status: 'True', reason: 'ReconcileSuccess', message: 'The last reconcile succeeded' };

function settled(reason: string, message: string): ConditionInput[] {
  return [
    { type: 'Ready', status: 'True', reason, message },
    synced,
    { type: 'Reconciling', status: 'False', reason, message: 'Nothing left to do' },
    { type: 'Stalled', status: 'False', reason, message: 'Nothing is blocking progress' },
  ];
}

function progressing(reason: string, message: string): ConditionInput[] {
  return [
    { type: 'Ready', status: 'False', reason, message },
    synced,
    { type: 'Reconciling', status: 'True', reason, message },
    { type: 'Stalled', status: 'False', reason, message: 'Nothing is blocking progress' },
  ];
}

function stalled(reason: string, message: string): ConditionInput[] {
  return [
    { type: 'Ready', status: 'False', reason, message },
    synced,
    { type: 'Reconciling', status: 'False', reason, message: 'Waiting for the Lab to change' },
    { type: 'Stalled', status: 'True', reason, message },
  ];
}

export function labConditions(f: LabFacts): ConditionInput[] {
  const total = f.machines.length;
  const ready = readyCount(f);
  if (f.mode === 'expired') {
    return f.expiryDone ? settled(LabReasons.Expired, f.schedule.reason) : progressing(LabReasons.LabStopping, `${f.schedule.reason}: in progress`);
  }
  if (f.mode === 'stop') {
    const up = f.machines.filter((m) => m.phase !== 'Stopped' && m.phase !== 'Pending');
    return up.length === 0
      ? settled(LabReasons.LabStopped, f.schedule.reason)
      : progressing(LabReasons.LabStopping, `${f.schedule.reason}; still running: ${up.map((m) => m.name).join(', ')}`);
  }
  const revertNote = f.revertRefused ? `; ${f.revertRefused}` : '';
  if (ready === total) return settled(LabReasons.LabReady, `${ready}/${total} machines Ready${revertNote}`);
  if (f.nextRetryTime) return progressing(LabReasons.RolledBack, `attempt ${f.attempt ?? 1} failed${f.lastFailure ? ` (${f.lastFailure})` : ''} and was rolled back (failurePolicy Rollback); the next attempt starts at ${f.nextRetryTime}`);
  const failed = f.machines.filter((m) => m.phase === 'Failed');
  if (failed.length > 0) {
    const message = `${ready}/${total} machines Ready; ${failed.map((m) => `machine ${m.name} failed: ${m.message ?? 'see its status'}`).join('; ')}`;
    // Keep: left as it is for inspection until the spec changes. A failure a retry may fix
    // (an image missing for now) stays Reconciling.
    const retrying = failed.every((m) => m.reason !== LabReasons.StepFailed && m.reason !== LabReasons.MachineNotSupported);
    return retrying ? progressing(LabReasons.MachineFailed, message) : stalled(LabReasons.MachineFailed, `${message} (failurePolicy ${f.failurePolicy})`);
  }
  const waiting = f.machines.filter((m) => m.reason === LabReasons.WaitingForDependencies);
  const reason = waiting.length > 0 && waiting.length === total - ready ? LabReasons.WaitingForDependencies : LabReasons.Provisioning;
  return progressing(reason, `${ready}/${total} machines Ready; ${describeMachines(f)}${revertNote}`);
}
