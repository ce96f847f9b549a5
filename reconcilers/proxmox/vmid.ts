// VMIDs from the cluster's vmidRange. /cluster/nextid reserves nothing (two callers get the same
// answer), so the provider picks an id itself: one that no guest of the cluster has and no creation
// in this process holds, at a random place in the range so that creators in other processes (a
// second replica during a leader change) rarely pick the same. PVE refuses a clone onto a taken id
// ("already exists"), which is the real guard: the creator then picks again.

export interface VmidRange { start: number; end: number }

export const DEFAULT_VMID_RANGE: VmidRange = { start: 100_000, end: 199_999 };

export function inRange(range: VmidRange, vmid: number): boolean {
  return vmid >= range.start && vmid <= range.end;
}

/** A free id in the range, or undefined when every id is taken. Scans from a random offset. */
export function pickVmid(range: VmidRange, taken: ReadonlySet<number>, random: () => number = Math.random): number | undefined {
  const size = range.end - range.start + 1;
  if (size <= 0) return undefined;
  const offset = Math.floor(random() * size) % size;
  for (let i = 0; i < size; i++) {
    const vmid = range.start + ((offset + i) % size);
    if (!taken.has(vmid)) return vmid;
  }
  return undefined;
}

/** Ids held by creations in progress in this process, so parallel creators never pick the same. */
export class VmidReservations {
  private readonly held = new Set<number>();

  /** Picks and holds an id; release it when the clone is known made or known failed. */
  reserve(range: VmidRange, taken: ReadonlySet<number>, random?: () => number): number | undefined {
    const all = new Set([...taken, ...this.held]);
    const vmid = pickVmid(range, all, random);
    if (vmid !== undefined) this.held.add(vmid);
    return vmid;
  }

  release(vmid: number): void {
    this.held.delete(vmid);
  }

  get size(): number {
    return this.held.size;
  }
}
