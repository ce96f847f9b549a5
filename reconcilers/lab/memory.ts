// What the Lab reconciler keeps between reconciles for one Lab (lost on restart, rebuilt from
// status and from what the machines say): step states per container, the snapshot and revert
// records, rollback attempts, machines whose creation the engine refused (with their backoff).
import type { LabStatus } from '../../crds/index.ts';
import type { StepStatus } from './steps.ts';

export interface ContainerMemory {
  steps: Map<string, StepStatus>;
  /** When the steps were last read from the machine (ms); undefined: only known from status. */
  probedAt?: number;
  hostKey?: string;
  passwordsDigest?: string;
  /** Network name -> address, from one inspect after the container was first seen. */
  attached?: Record<string, string>;
  /** Step outcomes already announced by an event. */
  announced: Set<string>;
  readyAnnounced?: boolean;
}

export interface MachineRefusal {
  reason: string;
  message: string;
  failures: number;
  retryAt: number;
}

export interface VmMemory {
  vmid?: number;
  /** ensure() ran for this VM since the controller started (config and disk checked). */
  verified?: boolean;
  address?: string;
  addresses?: string[];
  readyAnnounced?: boolean;
}

export interface LabMemory {
  containers: Map<string, ContainerMemory>;
  /** By VM owner uid (`<lab uid>-<machine>`). */
  vms: Map<string, VmMemory>;
  refusals: Map<string, MachineRefusal>;
  snapshot?: { name: string; time: string };
  lastRevert?: { request: string; time: string; snapshot: string };
  refusedRevert?: string;
  lastReadyTime?: string;
  attempt?: number;
  nextRetryTime?: string;
  /** The generation the rollback happened at: a spec change tries again at once. */
  retryGeneration?: number;
  /** What the last rollback removed and why (shown until the next attempt succeeds). */
  lastFailure?: string;
  /** When the current deployment attempt began (for the deploy duration metric). */
  deployStartedMs?: number;
  /** The next poll the session asked for. */
  pollMs?: number;
}

/** A fresh memory, seeded from the Lab's status (what a restarted controller knows). */
export function memoryFromStatus(status: (LabStatus & Record<string, unknown>) | undefined): LabMemory {
  const m: LabMemory = { containers: new Map(), vms: new Map(), refusals: new Map() };
  if (!status) return m;
  if (status.snapshot?.name && status.snapshot.time) m.snapshot = { name: status.snapshot.name, time: status.snapshot.time };
  const r = status.lastRevert;
  if (r?.request && r.time) m.lastRevert = { request: r.request, time: r.time, snapshot: r.snapshot ?? '' };
  if (status.lastReadyTime) m.lastReadyTime = status.lastReadyTime;
  if (status.attempt) m.attempt = status.attempt;
  if (status.nextRetryTime) {
    m.nextRetryTime = status.nextRetryTime;
    if (status.observedGeneration !== undefined) m.retryGeneration = status.observedGeneration;
  }
  for (const machine of status.machines ?? []) {
    if (!machine.containerId || !machine.steps) continue;
    const steps = new Map<string, StepStatus>();
    // Only outcomes: a step that was running is read from the machine again.
    for (const s of machine.steps) if (s.state === 'Succeeded' || s.state === 'Failed') steps.set(s.name, s as StepStatus);
    m.containers.set(machine.containerId, {
      steps,
      announced: new Set([...steps.keys()]),
      readyAnnounced: machine.phase === 'Ready',
      ...(machine.hostKey ? { hostKey: machine.hostKey } : {}),
    });
  }
  return m;
}
