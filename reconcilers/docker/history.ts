// What the engine watchers have seen of each owner's containers, for rules about them (an Alert's
// containerDown and restartLooping): the current state comes from each watcher's cache (the events
// stream and the periodic list keep it), restarts are counted from the events as they arrive (a
// start after a die, or a restart). No call to any engine, no loop per container: the Workspace
// controller's watchers feed it (workspace/engines.ts attaches them). Counts live in memory: after
// a controller restart they start from zero.
import type { ContainerChange, ObservedContainer } from './cache.ts';
import type { EngineWatcher } from './watcher.ts';
import { realClock, type Clock } from '../../controller/clock.ts';

export interface OwnerContainers {
  /** The owner's engine is watched and its first list is in: the state below is real. */
  known: boolean;
  /** The engine's events stream is up (false: what the cache says may be stale). */
  reachable: boolean;
  containers: ObservedContainer[];
}

/** Restarts older than this are forgotten whatever the rules ask (no window is longer). */
const KEEP_MS = 24 * 3_600_000;
const MAX_PER_OWNER = 1000;

export class ContainerHistory {
  private readonly watchers = new Map<string, EngineWatcher>();
  private readonly restarts = new Map<string, number[]>();
  private readonly died = new Set<string>();
  private readonly listeners = new Set<(change: ContainerChange) => void>();
  private readonly clock: Clock;

  constructor(clock: Clock = realClock) {
    this.clock = clock;
  }

  /** A watcher for the Host with this uid (replacing an earlier one); returns the detach function. */
  attach(hostUid: string, watcher: EngineWatcher): () => void {
    this.watchers.set(hostUid, watcher);
    return () => {
      if (this.watchers.get(hostUid) === watcher) this.watchers.delete(hostUid);
    };
  }

  /** One change the watcher reported (called for every change, before anyone reconciles it). */
  record(change: ContainerChange): void {
    const now = this.clock.now();
    const uid = change.owner.uid;
    if (change.action === 'die' || change.action === 'oom') this.died.add(uid);
    const restarted = change.action === 'restart' || (change.action === 'start' && this.died.has(uid));
    if (restarted) {
      this.died.delete(uid);
      const list = (this.restarts.get(uid) ?? []).filter((t) => now - t < KEEP_MS);
      list.push(now);
      this.restarts.set(uid, list.slice(-MAX_PER_OWNER));
    }
    for (const listener of this.listeners) listener(change);
  }

  /** Hears every change (an Alert controller enqueues the Alerts that name the owner). */
  onChange(listener: (change: ContainerChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  observe(hostUid: string, ownerUid: string): OwnerContainers {
    const watcher = this.watchers.get(hostUid);
    if (!watcher) return { known: false, reachable: false, containers: [] };
    return { known: watcher.cache.synced, reachable: watcher.reachable && watcher.connected, containers: watcher.cache.byOwner(ownerUid) };
  }

  /** Restart times of the owner's containers at or after `since`, oldest first. */
  restartsSince(ownerUid: string, since: number): number[] {
    return (this.restarts.get(ownerUid) ?? []).filter((t) => t >= since);
  }

  forget(ownerUid: string): void {
    this.restarts.delete(ownerUid);
    this.died.delete(ownerUid);
  }
}
