// A bounded ring of recent changes, the embedded server's watch cache: watches resume from it,
// and paginated lists rebuild the state as of their first page from it. Anything older than
// what it holds answers 410 Expired, as etcd does after compaction.

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  type: ChangeType;
  rv: number;
  resource: string;
  key: string;
  /** The object after the change (for DELETED: the last state, with the delete's resourceVersion). */
  object: Record<string, unknown>;
  /** The object before the change, absent for ADDED. */
  prev?: Record<string, unknown>;
}

export class ChangeHistory {
  readonly capacity: number;
  #ring: (Change | undefined)[];
  #start = 0;
  #size = 0;
  /** Every change with rv > this is still held. */
  #floorRv: number;

  constructor(capacity: number, startRv: number) {
    if (capacity < 1) throw new Error('history capacity must be at least 1');
    this.capacity = capacity;
    this.#ring = new Array(capacity);
    this.#floorRv = startRv;
  }

  push(change: Change): void {
    if (this.#size === this.capacity) {
      const evicted = this.#ring[this.#start];
      if (evicted) this.#floorRv = evicted.rv;
      this.#ring[this.#start] = change;
      this.#start = (this.#start + 1) % this.capacity;
    } else {
      this.#ring[(this.#start + this.#size) % this.capacity] = change;
      this.#size++;
    }
  }

  /** The oldest resourceVersion a watch or continue token may start from. */
  get floorRv(): number {
    return this.#floorRv;
  }

  /** True when every change after `rv` is still held. */
  covers(rv: number): boolean {
    return rv >= this.#floorRv;
  }

  /** Changes with rv > `afterRv`, oldest first, optionally for one resource. */
  since(afterRv: number, resource?: string): Change[] {
    const out: Change[] = [];
    // Binary search would be faster; the ring is small and a linear scan from the end stops early.
    for (let i = this.#size - 1; i >= 0; i--) {
      const c = this.#ring[(this.#start + i) % this.capacity];
      if (!c || c.rv <= afterRv) break;
      if (!resource || c.resource === resource) out.push(c);
    }
    return out.reverse();
  }
}
