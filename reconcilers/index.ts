// Registers every kind's reconciler with a manager. Each reconciler lives in its own module and
// reaches external systems only through the provider folders beside it (docker/, ssh/, nginx/).
import type { Manager } from '../controller/index.ts';

export interface ReconcilerOptions {
  /** Only watch this namespace (default: all namespaces). */
  namespace?: string;
}

export type RegisterReconciler = (manager: Manager, opts: ReconcilerOptions) => void;

const registrations: Array<{ kind: string; register: RegisterReconciler }> = [];

export function registerReconcilers(manager: Manager, opts: ReconcilerOptions = {}): string[] {
  for (const { register } of registrations) register(manager, opts);
  return registrations.map((r) => r.kind);
}
