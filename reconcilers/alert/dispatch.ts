// Grouping and the notification decision, with Alertmanager's semantics, per receiver and group:
// - a group starts with its first firing alert and is first looked at after groupWait, then every
//   groupInterval ("a flush");
// - a flush notifies when an alert fires that the last notification did not tell as firing (or
//   tells at a new stage), when every alert of the group resolved and the last notification told
//   some as firing, when sendResolved and an alert resolved that was not told as resolved, or when
//   repeatInterval passed since the last notification; otherwise it sends nothing;
// - an alert that fired and resolved before the group's first flush is never told (a flap shorter
//   than groupWait sends nothing); a group with nothing left to tell is removed, so the next alert
//   starts a new one (groupWait again);
// - pending (not yet firing), inhibited and silenced alerts are not part of any group.
// A decided notification becomes the entry's `pending` outbox item (written to status before its
// first attempt, see reconciler.ts); it is retried with the same key until delivered, or replaced
// by a later flush that would tell something else. Pure: same input, same plan.
import { createHash } from 'node:crypto';
import { firingId, groupLabelsKey, type GroupByLabel } from './labels.ts';
import type { AlertRecord } from './series.ts';

export interface Outgoing {
  key: string;
  since: number;
  firing: string[];
  resolved: string[];
  attempts: number;
}

export interface DispatchEntry {
  receiver: string;
  group: string;
  groupSince?: number;
  nextFlushAt?: number;
  /** Last flush (whether or not it notified): resolved alerts seen by it are done for this entry. */
  flushedAt?: number;
  /** The notification log: what the last delivered notification told, and when. */
  sentAt?: number;
  key?: string;
  firing: string[];
  resolved: string[];
  pending?: Outgoing;
}

export interface DispatchTiming {
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  sendResolved: boolean;
  /** Flush at once when what would be told changed (receivers that group themselves: Alertmanager). */
  flushOnChange?: boolean;
}

export interface PlanInput {
  /** Alert uid: part of every key, so two Alerts never share one. */
  uid: string;
  records: ReadonlyMap<string, AlertRecord>;
  entries: readonly DispatchEntry[];
  /** The groupBy labels of a receiver's groups (receivers that group themselves: none). */
  groupByOf(receiver: string): readonly GroupByLabel[];
  /** The receivers a record goes to (its rule's, or all). */
  receiversOf(record: AlertRecord): readonly string[];
  timingOf(receiver: string): DispatchTiming;
  now: number;
}

export interface Plan {
  entries: DispatchEntry[];
  /** Resolved records every entry is done with: they can be forgotten. */
  done: string[];
  /** Entries that got a new pending notification in this plan. */
  decided: DispatchEntry[];
  /** When the next flush falls due (undefined: nothing is waiting). */
  nextFlushAt?: number;
}

export const entryId = (e: { receiver: string; group: string }): string => `${e.receiver}|${e.group}`;

interface Current { receiver: string; group: string; firing: string[]; resolved: string[] }

const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();
const subset = (xs: readonly string[], of: readonly string[]): boolean => { const s = new Set(of); return xs.every((x) => s.has(x)); };
const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** The alerts each receiver's groups hold now. */
export function currentGroups(input: Pick<PlanInput, 'records' | 'groupByOf' | 'receiversOf'>): Map<string, Current> {
  const out = new Map<string, Current>();
  for (const rec of input.records.values()) {
    if (rec.state === 'Pending' || rec.inhibited || rec.silenced) continue;
    for (const receiver of input.receiversOf(rec)) {
      const group = groupLabelsKey(input.groupByOf(receiver), rec.identity);
      const id = entryId({ receiver, group });
      let cur = out.get(id);
      if (!cur) out.set(id, (cur = { receiver, group, firing: [], resolved: [] }));
      if (rec.state === 'Firing') cur.firing.push(firingId(rec.fingerprint, rec.stage));
      else cur.resolved.push(rec.fingerprint);
    }
  }
  for (const cur of out.values()) {
    cur.firing = sorted(cur.firing);
    cur.resolved = sorted(cur.resolved);
  }
  return out;
}

/** Alertmanager's decision: does the group need a notification now? */
export function needsUpdate(entry: DispatchEntry, firing: readonly string[], resolved: readonly string[], timing: DispatchTiming, now: number): boolean {
  if (entry.sentAt === undefined) return firing.length > 0;
  if (!subset(firing, entry.firing)) return true;
  if (firing.length === 0) return entry.firing.length > 0;
  if (timing.sendResolved && !subset(resolved, entry.resolved)) return true;
  return now - entry.sentAt >= timing.repeatIntervalMs;
}

export function notificationKey(uid: string, e: { receiver: string; group: string }, now: number, firing: readonly string[], resolved: readonly string[]): string {
  return createHash('sha256').update([uid, e.receiver, e.group, String(now), firing.join(','), resolved.join(',')].join('\n')).digest('hex').slice(0, 32);
}

export function plan(input: PlanInput): Plan {
  const { now } = input;
  const current = currentGroups(input);
  const previous = new Map(input.entries.map((e) => [entryId(e), e]));
  const entries: DispatchEntry[] = [];
  const decided: DispatchEntry[] = [];
  let nextFlushAt: number | undefined;
  for (const id of sorted([...current.keys(), ...previous.keys()])) {
    const cur = current.get(id);
    const prev = previous.get(id);
    const firing = cur?.firing ?? [];
    const timing = input.timingOf((cur ?? prev)!.receiver);
    const resolved = timing.sendResolved ? (cur?.resolved ?? []) : [];
    let e: DispatchEntry;
    if (prev) {
      e = { ...prev, firing: [...prev.firing], resolved: [...prev.resolved], ...(prev.pending ? { pending: { ...prev.pending } } : {}) };
    } else {
      if (firing.length === 0) continue; // a new group with nothing firing has nothing to tell
      e = { receiver: cur!.receiver, group: cur!.group, firing: [], resolved: [] };
    }
    if (e.groupSince === undefined || e.nextFlushAt === undefined) {
      if (firing.length === 0 && !e.pending && e.firing.length === 0) continue;
      e.groupSince = now;
      e.nextFlushAt = now + timing.groupWaitMs;
    }
    const changed = !subset(firing, e.firing) || !subset(resolved, e.resolved) || (firing.length === 0 && e.firing.length > 0);
    if (now >= e.nextFlushAt || (timing.flushOnChange && changed && !e.pending)) {
      const wanted = needsUpdate(e, firing, resolved, timing, now);
      if (e.pending) {
        // Still undelivered: retried as it is, unless the group now tells something else.
        if (!(same(e.pending.firing, firing) && same(e.pending.resolved, resolved))) {
          if (wanted) {
            e.pending = { key: notificationKey(input.uid, e, now, firing, resolved), since: now, firing, resolved, attempts: 0 };
            decided.push(e);
          } else {
            delete e.pending;
          }
        }
      } else if (wanted) {
        e.pending = { key: notificationKey(input.uid, e, now, firing, resolved), since: now, firing, resolved, attempts: 0 };
        decided.push(e);
      }
      e.flushedAt = now;
      e.nextFlushAt = now + Math.max(timing.groupIntervalMs, 1);
      // Nothing firing, nothing told as firing, nothing to deliver: the group is over.
      if (firing.length === 0 && !e.pending && e.firing.length === 0) continue;
    }
    entries.push(e);
    const busy = firing.length > 0 || e.firing.length > 0 || e.pending !== undefined || resolved.length > 0;
    if (busy) nextFlushAt = Math.min(nextFlushAt ?? Infinity, e.nextFlushAt);
  }
  return { entries, decided, done: doneRecords(input, entries), ...(nextFlushAt !== undefined ? { nextFlushAt } : {}) };
}

/** Resolved records that every entry they belong to has flushed past (and holds in no outbox). */
function doneRecords(input: PlanInput, entries: DispatchEntry[]): string[] {
  const byId = new Map(entries.map((e) => [entryId(e), e]));
  const done: string[] = [];
  for (const rec of input.records.values()) {
    if (rec.state !== 'Resolved') continue;
    const muted = rec.inhibited || rec.silenced;
    const finished = input.receiversOf(rec).every((receiver) => {
      const e = byId.get(entryId({ receiver, group: groupLabelsKey(input.groupByOf(receiver), rec.identity) }));
      if (!e) return true;
      if (e.pending && (e.pending.resolved.includes(rec.fingerprint) || e.pending.firing.some((f) => f.startsWith(rec.fingerprint)))) return false;
      if (muted) return true;
      return e.flushedAt !== undefined && e.flushedAt >= (rec.resolvedAt ?? 0);
    });
    if (finished) done.push(rec.fingerprint);
  }
  return done;
}

/** Records a delivered notification in the entry's log. */
export function delivered(entry: DispatchEntry, now: number): DispatchEntry {
  const p = entry.pending;
  if (!p) return entry;
  const { pending: _p, ...rest } = entry;
  return { ...rest, sentAt: now, key: p.key, firing: p.firing, resolved: p.resolved };
}
