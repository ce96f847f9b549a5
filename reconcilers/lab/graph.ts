// The dependsOn graph of a Lab's machines (pure): which machines may be made now, which wait and
// for whom, and the levels used to describe order. Cycles and unknown names are rejected by the
// schema (crds/lab.ts); they are checked again here because the reconciler must never hang on one.
import { TerminalError } from '../../controller/index.ts';
import { dependencyCycle, type LabSpec } from '../../crds/index.ts';
import { ErrorCodes } from '../common/reasons.ts';

export interface MachineGraph {
  /** Machine names in spec order. */
  names: string[];
  dependsOn: Map<string, string[]>;
  dependents: Map<string, string[]>;
  /** Level 0: no dependencies; level n: the longest chain below it has n machines. */
  level: Map<string, number>;
}

export function machineGraph(machines: LabSpec['machines']): MachineGraph {
  const names = machines.map((m) => m.name);
  const known = new Set(names);
  for (const m of machines) {
    for (const d of m.dependsOn ?? []) {
      if (!known.has(d) || d === m.name) throw new TerminalError(ErrorCodes.InvalidSpec, `spec.machines: machine "${m.name}" depends on "${d}", which is not another machine of this Lab`, { field: 'spec.machines' });
    }
  }
  const cycle = dependencyCycle(machines);
  if (cycle) throw new TerminalError(ErrorCodes.InvalidSpec, `spec.machines: dependsOn forms a cycle (${cycle.join(' -> ')}); remove one of these dependencies`, { field: 'spec.machines' });
  const dependsOn = new Map(machines.map((m) => [m.name, [...(m.dependsOn ?? [])]]));
  const dependents = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const [name, deps] of dependsOn) for (const d of deps) dependents.get(d)!.push(name);
  const level = new Map<string, number>();
  const levelOf = (name: string): number => {
    const known = level.get(name);
    if (known !== undefined) return known;
    const deps = dependsOn.get(name) ?? [];
    const value = deps.length === 0 ? 0 : 1 + Math.max(...deps.map(levelOf));
    level.set(name, value);
    return value;
  };
  for (const n of names) levelOf(n);
  return { names, dependsOn, dependents, level };
}

/** Every machine that depends on `name`, directly or through others. */
export function dependentsOf(graph: MachineGraph, name: string): string[] {
  const out = new Set<string>();
  const walk = (n: string) => {
    for (const d of graph.dependents.get(n) ?? []) {
      if (out.has(d)) continue;
      out.add(d);
      walk(d);
    }
  };
  walk(name);
  return graph.names.filter((n) => out.has(n));
}

/** The dependencies of `name` that are not Ready yet (empty: it may be made and started). */
export function waitingFor(graph: MachineGraph, name: string, ready: ReadonlySet<string>): string[] {
  return (graph.dependsOn.get(name) ?? []).filter((d) => !ready.has(d));
}
