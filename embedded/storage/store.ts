// The object store: every object in memory, every change journaled before it is acknowledged.
//
// - One global resourceVersion counter, incremented per change (like an etcd revision).
// - Group commit: changes made while a journal write is in flight are written together by the
//   next one, so a write costs one append + one fdatasync shared by everyone waiting, however
//   large the state is.
// - Watchers and the change history see a change only once it is durable.
// - The journal is compacted into the lowdb snapshot (state.json) in the background once it grows
//   past a threshold; replay on start = snapshot + journal records after its resourceVersion.
// Stored objects are deep-frozen: callers copy before changing anything.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Low } from 'lowdb';
import { ChangeHistory, type Change } from './history.ts';
import {
  JournalSegment,
  encodeRecord,
  listSegments,
  removeSegments,
  replaySegments,
  type JournalRecord,
} from './journal.ts';
import { lockDir, type DirLock } from './lock.ts';
import { SNAPSHOT_FORMAT, checksumOf, openSnapshotDb, type ObjectTable, type SnapshotData } from './snapshot.ts';
import { StorageFailedError } from './errors.ts';
import { expired } from '../api/errors.ts';

export type KubeObject = Record<string, unknown> & {
  metadata?: Record<string, unknown>;
};

export interface StoreOptions {
  /** Directory for state.json, the journal segments and the lock. Created if missing. */
  dir: string;
  /** How many recent changes watches can resume from (default 10,000). */
  historyCapacity?: number;
  /** Compact the journal into state.json once the current segment exceeds this (default 16 MiB). */
  compactAfterBytes?: number;
  /** Called once if the journal cannot be written; the store refuses all writes after that. */
  onFatal?: (err: Error) => void;
  /** Warnings worth telling the operator (e.g. a torn journal tail was dropped). */
  warn?: (message: string) => void;
  /** Fold the journal into state.json on close (default true; tests simulating crashes turn it off). */
  compactOnClose?: boolean;
}

export interface Committed {
  object: KubeObject;
  rv: number;
  /** Resolves once the change is durable (and has been shown to watchers). */
  durable: Promise<void>;
}

interface Pending {
  line: string;
  change: Change;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface SettleWaiter {
  rv: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

export type ChangeListener = (changes: Change[]) => void;

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

export class ObjectStore {
  readonly dir: string;
  #objects = new Map<string, Map<string, KubeObject>>();
  #rv = 0;
  #durableRv = 0;
  #pending: Pending[] = [];
  #flushing = false;
  #flushRun: Promise<void> = Promise.resolve();
  #settleWaiters: SettleWaiter[] = [];
  #segment!: JournalSegment;
  #db!: Low<SnapshotData>;
  #history!: ChangeHistory;
  #listeners = new Set<ChangeListener>();
  #failed: StorageFailedError | undefined;
  #compacting: Promise<void> | undefined;
  #lock!: DirLock;
  #opts: Required<Omit<StoreOptions, 'onFatal' | 'warn'>> & Pick<StoreOptions, 'onFatal' | 'warn'>;
  #journaledSinceSnapshot = false;
  #closed = false;
  /** Counters for benchmarks and diagnostics. */
  readonly stats = { flushes: 0, records: 0, compactions: 0, lastCompactionMs: 0 };

  private constructor(opts: StoreOptions) {
    this.dir = opts.dir;
    this.#opts = {
      dir: opts.dir,
      historyCapacity: opts.historyCapacity ?? 10_000,
      compactAfterBytes: opts.compactAfterBytes ?? 16 * 1024 * 1024,
      compactOnClose: opts.compactOnClose ?? true,
      onFatal: opts.onFatal,
      warn: opts.warn,
    };
  }

  static async open(opts: StoreOptions): Promise<ObjectStore> {
    const store = new ObjectStore(opts);
    await store.#load();
    return store;
  }

  async #load(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.#lock = lockDir(this.dir);
    try {
      this.#db = openSnapshotDb(join(this.dir, 'state.json'));
      await this.#db.read();
      const snap = this.#db.data;
      for (const [resource, byKey] of Object.entries(snap.objects)) {
        const m = new Map<string, KubeObject>();
        for (const [key, obj] of Object.entries(byKey)) m.set(key, deepFreeze(obj as KubeObject));
        this.#objects.set(resource, m);
      }
      this.#rv = snap.resourceVersion;

      const segments = listSegments(this.dir);
      const replay = replaySegments(segments);
      let applied = 0;
      for (const rec of replay.records) {
        if (rec.rv <= snap.resourceVersion) continue;
        this.#applyRecord(rec);
        this.#rv = rec.rv;
        applied++;
      }
      if (replay.tornTailBytes > 0) {
        this.#opts.warn?.(
          `dropped ${replay.tornTailBytes} bytes of an interrupted journal write at the end of ${replay.tornSegment} ` +
            '(a batch that was never acknowledged)',
        );
      }
      this.#durableRv = this.#rv;
      this.#history = new ChangeHistory(this.#opts.historyCapacity, this.#rv);
      const nextSeq = (segments.at(-1)?.seq ?? 0) + 1;
      this.#segment = await JournalSegment.open(this.dir, nextSeq);
      if (applied > 0 || replay.tornTailBytes > 0 || segments.length > 0) {
        // Fold the replayed journal into the snapshot now so the next start is quick.
        await this.#writeSnapshot(segments.map((s) => s.path));
      }
    } catch (err) {
      this.#lock.release();
      throw err;
    }
  }

  #applyRecord(rec: JournalRecord): void {
    let m = this.#objects.get(rec.resource);
    if (rec.op === 'put') {
      if (!m) this.#objects.set(rec.resource, (m = new Map()));
      m.set(rec.key, deepFreeze(rec.obj as KubeObject));
    } else {
      m?.delete(rec.key);
    }
  }

  /** The last resourceVersion handed out. */
  get resourceVersion(): number {
    return this.#rv;
  }

  get durableResourceVersion(): number {
    return this.#durableRv;
  }

  get history(): ChangeHistory {
    return this.#history;
  }

  get failed(): Error | undefined {
    return this.#failed;
  }

  get(resource: string, key: string): KubeObject | undefined {
    return this.#objects.get(resource)?.get(key);
  }

  /** Objects of a resource, unordered. */
  values(resource: string): IterableIterator<KubeObject> {
    return (this.#objects.get(resource) ?? new Map<string, KubeObject>()).values();
  }

  entries(resource: string): IterableIterator<[string, KubeObject]> {
    return (this.#objects.get(resource) ?? new Map<string, KubeObject>()).entries();
  }

  count(resource: string): number {
    return this.#objects.get(resource)?.size ?? 0;
  }

  resources(): string[] {
    return [...this.#objects.keys()];
  }

  /**
   * The resource's objects as they were at `rv` (for continuing a paginated list consistently).
   * Throws 410 Expired when the history no longer reaches back that far.
   */
  stateAt(resource: string, rv: number): Map<string, KubeObject> {
    const state = new Map(this.#objects.get(resource) ?? []);
    if (rv >= this.#rv) return state;
    if (!this.#history.covers(rv)) {
      throw expired(`too old resource version: ${rv} (${this.#history.floorRv})`);
    }
    // Pending (not yet durable) changes are applied in memory but not in history: undo them too.
    const undo = [...this.#history.since(rv, resource), ...this.#pending.map((p) => p.change).filter((c) => c.resource === resource)];
    for (let i = undo.length - 1; i >= 0; i--) {
      const c = undo[i]!;
      if (c.rv <= rv) continue;
      if (c.prev) state.set(c.key, c.prev);
      else state.delete(c.key);
    }
    return state;
  }

  /**
   * Records a new state for `key` (or its deletion when `obj` is null) in memory at once, and
   * journals it. The returned object carries its new metadata.resourceVersion and is frozen.
   */
  commit(resource: string, key: string, obj: KubeObject | null): Committed {
    if (this.#failed) throw this.#failed;
    if (this.#closed) throw new StorageFailedError(new Error('store is closed'));
    const prev = this.get(resource, key);
    if (obj === null && !prev) throw new Error(`commit: delete of missing ${resource} ${key}`);
    const rv = ++this.#rv;
    let stored: KubeObject;
    let change: Change;
    let record: JournalRecord;
    if (obj === null) {
      const last = prev!;
      stored = deepFreeze({ ...last, metadata: { ...(last.metadata ?? {}), resourceVersion: String(rv) } });
      this.#objects.get(resource)?.delete(key);
      change = { type: 'DELETED', rv, resource, key, object: stored, prev: last };
      record = { rv, op: 'delete', resource, key };
    } else {
      stored = deepFreeze({ ...obj, metadata: { ...(obj.metadata ?? {}), resourceVersion: String(rv) } });
      let m = this.#objects.get(resource);
      if (!m) this.#objects.set(resource, (m = new Map()));
      m.set(key, stored);
      change = prev
        ? { type: 'MODIFIED', rv, resource, key, object: stored, prev }
        : { type: 'ADDED', rv, resource, key, object: stored };
      record = { rv, op: 'put', resource, key, obj: stored };
    }
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const durable = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#pending.push({ line: encodeRecord(record), change, resolve, reject });
    this.#kick();
    return { object: stored, rv, durable };
  }

  #kick(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    // Start on the next microtask so every change made in this synchronous turn joins the batch.
    this.#flushRun = new Promise((resolve) => queueMicrotask(() => void this.#flushLoop().finally(resolve)));
  }

  async #flushLoop(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending;
        this.#pending = [];
        try {
          await this.#segment.append(batch.map((p) => p.line).join(''));
        } catch (err) {
          this.#fail(err, batch);
          return;
        }
        this.stats.flushes++;
        this.stats.records += batch.length;
        this.#journaledSinceSnapshot = true;
        const changes = batch.map((p) => p.change);
        for (const c of changes) this.#history.push(c);
        this.#durableRv = changes.at(-1)!.rv;
        for (const l of this.#listeners) {
          try {
            l(changes);
          } catch (err) {
            this.#opts.warn?.(`change listener failed: ${(err as Error).message}`);
          }
        }
        for (const p of batch) p.resolve();
        this.#wakeSettled();
        if (this.#segment.bytes > this.#opts.compactAfterBytes && !this.#compacting) {
          await this.#startCompaction();
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #fail(err: unknown, batch: Pending[]): void {
    const failure = new StorageFailedError(err);
    this.#failed = failure;
    for (const p of [...batch, ...this.#pending]) p.reject(failure);
    this.#pending = [];
    for (const w of this.#settleWaiters) w.reject(failure);
    this.#settleWaiters = [];
    this.#opts.onFatal?.(failure);
  }

  #wakeSettled(): void {
    if (!this.#settleWaiters.length) return;
    const still: SettleWaiter[] = [];
    for (const w of this.#settleWaiters) (w.rv <= this.#durableRv ? w.resolve() : still.push(w));
    this.#settleWaiters = still;
  }

  /** Resolves once everything committed so far is durable; reads wait on this before answering. */
  settled(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#durableRv >= this.#rv) return Promise.resolve();
    const rv = this.#rv;
    return new Promise((resolve, reject) => this.#settleWaiters.push({ rv, resolve, reject }));
  }

  /** Listeners receive durable changes in resourceVersion order, in batches. */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Rotates to a new segment now and writes the snapshot in the background. */
  async #startCompaction(): Promise<void> {
    const oldSegments = listSegments(this.dir)
      .filter((s) => s.seq <= this.#segment.seq)
      .map((s) => s.path);
    const old = this.#segment;
    this.#segment = await JournalSegment.open(this.dir, old.seq + 1);
    await old.close();
    this.#compacting = this.#writeSnapshot(oldSegments)
      .catch((err: unknown) => {
        // The journal still holds everything: a failed compaction loses nothing, so keep serving.
        this.#opts.warn?.(`compaction failed (will retry later): ${(err as Error).message}`);
      })
      .finally(() => {
        this.#compacting = undefined;
      });
  }

  /** Writes every object as of now into state.json, then removes the journal segments it covers. */
  async #writeSnapshot(coveredSegments: string[]): Promise<void> {
    const started = performance.now();
    const objects: ObjectTable = {};
    for (const [resource, m] of this.#objects) {
      if (m.size === 0) continue;
      const t: Record<string, Record<string, unknown>> = {};
      for (const [k, v] of m) t[k] = v;
      objects[resource] = t;
    }
    this.#db.data = {
      format: SNAPSHOT_FORMAT,
      resourceVersion: this.#rv,
      savedAt: new Date().toISOString(),
      checksum: checksumOf(''), // computed by the adapter from the serialized objects
      objects,
    };
    await this.#db.write();
    removeSegments(coveredSegments, this.dir);
    this.#journaledSinceSnapshot = false;
    this.stats.compactions++;
    this.stats.lastCompactionMs = performance.now() - started;
  }

  /** Forces a compaction now (tests and benchmarks). */
  async compact(): Promise<void> {
    await this.settled();
    if (this.#compacting) await this.#compacting;
    // Take the writer's seat so no append touches the segment being rotated.
    while (this.#flushing) await this.#flushRun;
    this.#flushing = true;
    try {
      await this.#startCompaction();
    } finally {
      this.#flushing = false;
      if (this.#pending.length) this.#kick();
    }
    await this.#compacting;
  }

  /** Waits for in-flight writes, then releases the files. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.settled();
    } catch {
      // failed store: nothing more can be written anyway
    }
    this.#closed = true;
    while (this.#flushing) await this.#flushRun;
    if (this.#compacting) await this.#compacting;
    await this.#segment.close();
    if (this.#opts.compactOnClose && !this.#failed && this.#journaledSinceSnapshot) {
      // A clean shutdown leaves everything in state.json, so the next start reads one file.
      try {
        await this.#writeSnapshot(listSegments(this.dir).map((seg) => seg.path));
      } catch (err) {
        this.#opts.warn?.(`could not fold the journal into state.json on close (it is kept): ${(err as Error).message}`);
      }
    }
    this.#listeners.clear();
    this.#lock.release();
  }
}
