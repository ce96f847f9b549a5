// The Lab's own metrics, on the manager's registry next to controller-runtime's: how long a
// deployment takes to reach Ready, how many succeed and fail, machines per phase, step outcomes.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { MachineView } from './status.ts';

const DEPLOY_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600];
const PHASES = ['Pending', 'Creating', 'Booting', 'Provisioning', 'Ready', 'Stopped', 'Failed', 'Deleting'] as const;

export class LabMetrics {
  private readonly deployTime: Histogram<'outcome'>;
  private readonly deploys: Counter<'outcome'>;
  private readonly machines: Gauge<'phase'>;
  private readonly steps: Counter<'kind' | 'outcome'>;
  /** Machines per phase, by Lab uid: the gauge is their sum. */
  private readonly byLab = new Map<string, MachineView['phase'][]>();

  constructor(registry: Registry) {
    const registers = [registry];
    const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
    this.deployTime = existing<Histogram<'outcome'>>('outrigger_lab_deploy_duration_seconds')
      ?? new Histogram({ name: 'outrigger_lab_deploy_duration_seconds', help: 'Time from the start of a Lab deployment attempt to every machine Ready (succeeded) or to its rollback (failed)', labelNames: ['outcome'], buckets: DEPLOY_BUCKETS, registers });
    this.deploys = existing<Counter<'outcome'>>('outrigger_lab_deploys_total')
      ?? new Counter({ name: 'outrigger_lab_deploys_total', help: 'Lab deployment attempts by outcome (succeeded, failed)', labelNames: ['outcome'], registers });
    this.machines = existing<Gauge<'phase'>>('outrigger_lab_machines')
      ?? new Gauge({ name: 'outrigger_lab_machines', help: 'Lab machines per phase', labelNames: ['phase'], registers });
    this.steps = existing<Counter<'kind' | 'outcome'>>('outrigger_lab_steps_total')
      ?? new Counter({ name: 'outrigger_lab_steps_total', help: 'First-boot and provisioning steps that ended, by outcome', labelNames: ['kind', 'outcome'], registers });
    for (const phase of PHASES) this.machines.set({ phase }, 0);
  }

  deploy(outcome: 'succeeded' | 'failed', startedMs: number | undefined, nowMs: number): void {
    this.deploys.inc({ outcome });
    if (startedMs !== undefined) this.deployTime.observe({ outcome }, Math.max(0, nowMs - startedMs) / 1000);
  }

  step(kind: 'first-boot' | 'provision', outcome: 'succeeded' | 'failed'): void {
    this.steps.inc({ kind, outcome });
  }

  /** The Lab's machines as last seen (an empty list when it is gone). */
  observe(labUid: string, machines: MachineView[]): void {
    if (machines.length === 0) this.byLab.delete(labUid);
    else this.byLab.set(labUid, machines.map((m) => m.phase));
    const counts = new Map<string, number>(PHASES.map((p) => [p, 0]));
    for (const phases of this.byLab.values()) for (const p of phases) counts.set(p, (counts.get(p) ?? 0) + 1);
    for (const [phase, n] of counts) this.machines.set({ phase }, n);
  }
}
