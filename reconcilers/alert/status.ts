// Between status and memory: the alerts and the notification log are kept in the Alert's status
// (times as RFC 3339 with milliseconds), so a restarted or newly elected controller continues
// exactly where the last one stopped: nothing fired twice, no resolve forgotten, no notification
// sent twice or lost. Pure.
import type { AlertStatus } from '../../crds/index.ts';
import type { DispatchEntry } from './dispatch.ts';
import { alertLabels, fingerprintOf, type AlertIdentity, type RuleType } from './labels.ts';
import type { AlertRecord } from './series.ts';
import type { Silence } from './silences.ts';

type StatusAlert = NonNullable<AlertStatus['alerts']>[number];
type StatusEntry = NonNullable<AlertStatus['notifications']>[number];
type StatusReceiver = NonNullable<AlertStatus['receivers']>[number];
type StatusRule = NonNullable<AlertStatus['rules']>[number];

export const iso = (ms: number): string => new Date(ms).toISOString();
const ms = (t: string | undefined): number | undefined => (t === undefined ? undefined : Date.parse(t));

export function recordsFromStatus(status: AlertStatus | undefined, where: { namespace: string; alert: string }): Map<string, AlertRecord> {
  const out = new Map<string, AlertRecord>();
  for (const a of status?.alerts ?? []) {
    const identity: AlertIdentity = { ...where, rule: a.rule, type: a.type as RuleType, severity: a.severity, target: a.target };
    const labels = alertLabels(identity);
    const fingerprint = fingerprintOf(labels);
    const rec: AlertRecord = { fingerprint, identity, labels, state: a.state, activeAt: ms(a.activeAt)! };
    if (a.firingAt) rec.firingAt = ms(a.firingAt)!;
    if (a.resolvedAt) rec.resolvedAt = ms(a.resolvedAt)!;
    if (a.stage) rec.stage = a.stage;
    if (a.message) rec.message = a.message;
    out.set(fingerprint, rec);
  }
  return out;
}

export function recordsToStatus(records: Iterable<AlertRecord>): StatusAlert[] {
  return [...records]
    .sort((a, b) => a.identity.rule.localeCompare(b.identity.rule) || a.identity.target.localeCompare(b.identity.target))
    .map((r) => ({
      fingerprint: r.fingerprint,
      rule: r.identity.rule,
      type: r.identity.type,
      severity: r.identity.severity as StatusAlert['severity'],
      target: r.identity.target,
      state: r.state,
      activeAt: iso(r.activeAt),
      ...(r.firingAt !== undefined ? { firingAt: iso(r.firingAt) } : {}),
      ...(r.resolvedAt !== undefined ? { resolvedAt: iso(r.resolvedAt) } : {}),
      ...(r.stage ? { stage: r.stage } : {}),
      ...(r.inhibited ? { inhibited: true } : {}),
      ...(r.silenced ? { silenced: true } : {}),
      ...(r.message ? { message: r.message.slice(0, 1024) } : {}),
    }));
}

export function entriesFromStatus(status: AlertStatus | undefined): DispatchEntry[] {
  return (status?.notifications ?? []).map((n) => {
    const e: DispatchEntry = { receiver: n.receiver, group: n.group, firing: n.firing ?? [], resolved: n.resolved ?? [] };
    if (n.groupSince) e.groupSince = ms(n.groupSince)!;
    if (n.nextFlushAt) e.nextFlushAt = ms(n.nextFlushAt)!;
    if (n.flushedAt) e.flushedAt = ms(n.flushedAt)!;
    if (n.sentAt) e.sentAt = ms(n.sentAt)!;
    if (n.key) e.key = n.key;
    if (n.pending) e.pending = { key: n.pending.key, since: ms(n.pending.since)!, firing: n.pending.firing ?? [], resolved: n.pending.resolved ?? [], attempts: n.pending.attempts ?? 0 };
    return e;
  });
}

export function entriesToStatus(entries: readonly DispatchEntry[]): StatusEntry[] {
  return entries.map((e) => ({
    receiver: e.receiver,
    group: e.group,
    ...(e.groupSince !== undefined ? { groupSince: iso(e.groupSince) } : {}),
    ...(e.nextFlushAt !== undefined ? { nextFlushAt: iso(e.nextFlushAt) } : {}),
    ...(e.flushedAt !== undefined ? { flushedAt: iso(e.flushedAt) } : {}),
    ...(e.sentAt !== undefined ? { sentAt: iso(e.sentAt) } : {}),
    ...(e.key ? { key: e.key } : {}),
    ...(e.firing.length ? { firing: e.firing } : {}),
    ...(e.resolved.length ? { resolved: e.resolved } : {}),
    ...(e.pending
      ? { pending: { key: e.pending.key, since: iso(e.pending.since), ...(e.pending.firing.length ? { firing: e.pending.firing } : {}), ...(e.pending.resolved.length ? { resolved: e.pending.resolved } : {}), attempts: e.pending.attempts } }
      : {}),
  }));
}

export interface RuleSummary {
  name: string;
  lastEvaluationAt?: number;
  message?: string;
}

/** Per-rule state: Firing if any of its alerts fires, Pending if any waits, else Ok. */
export function rulesToStatus(rules: readonly RuleSummary[], records: Iterable<AlertRecord>, previous: readonly StatusRule[] | undefined, now: number, recordEveryMs: number): StatusRule[] {
  const all = [...records];
  return rules.map((rule) => {
    const mine = all.filter((r) => r.identity.rule === rule.name);
    const firing = mine.filter((r) => r.state === 'Firing');
    const state: StatusRule['state'] = firing.length > 0 ? 'Firing' : mine.some((r) => r.state === 'Pending') ? 'Pending' : 'Ok';
    const before = previous?.find((p) => p.name === rule.name);
    const since = before?.state === state && before.since ? before.since : iso(now);
    const out: StatusRule = { name: rule.name, state, since };
    if (firing.length > 0) out.firingTargets = firing.map((r) => r.identity.target).sort().slice(0, 32);
    if (rule.message) out.message = rule.message.slice(0, 4096);
    // lastEvaluationTime moves only with another change or when stale: a quiet Alert does not write status on every probe.
    const recorded = before?.lastEvaluationTime;
    if (rule.lastEvaluationAt !== undefined) {
      const changed = !before || before.state !== state || before.message !== out.message || JSON.stringify(before.firingTargets ?? []) !== JSON.stringify(out.firingTargets ?? []);
      const stale = !recorded || rule.lastEvaluationAt - Date.parse(recorded) >= recordEveryMs;
      out.lastEvaluationTime = changed || stale ? iso(rule.lastEvaluationAt) : recorded;
    } else if (recorded) {
      out.lastEvaluationTime = recorded;
    }
    return out;
  });
}

export function silencesToStatus(silences: readonly Silence[]): NonNullable<AlertStatus['silences']> {
  return silences.map((s) => ({ ...(s.rule !== undefined ? { rule: s.rule } : {}), until: s.until, active: s.active, ...(s.comment ? { comment: s.comment } : {}) }));
}

export type { StatusReceiver };
