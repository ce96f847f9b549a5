// When a Lab's machines should run (pure, time passed in): spec.state, the daily stop and start in
// the schedule's time zone (cron-parser computes the occurrences, daylight saving time included),
// and expiry from expiresAt or creation + ttl. The answer also says why, and what happens next.
import { CronExpressionParser } from 'cron-parser';
import { TerminalError } from '../../controller/index.ts';
import { parseDuration, type LabSpec } from '../../crds/index.ts';
import { ErrorCodes } from '../common/reasons.ts';

/** With dailyStop but no dailyStart: set to a time after the last stop to start the machines again. */
export const START_ANNOTATION = 'outrigger.dev/start';

export type ScheduledAction = 'Stop' | 'Start' | 'Expire';

export interface ScheduleState {
  expiresAt?: Date;
  expired: boolean;
  /** Whether the machines should run now. */
  running: boolean;
  /** Why they run or not, in words. */
  reason: string;
  nextStop?: Date;
  nextStart?: Date;
  nextAction?: { action: ScheduledAction; time: Date };
}

export interface ScheduledLab {
  spec: Pick<LabSpec, 'state' | 'schedule'>;
  metadata: { creationTimestamp?: Date | string; annotations?: Record<string, string> };
}

/** Whether the runtime knows the time zone (the schema only checks its spelling). */
export function knownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function cronOf(time: string): string {
  const [h, m] = time.split(':');
  return `${Number(m)} ${Number(h)} * * *`;
}

/** The last occurrence at or before `now`, and the first after it, of HH:MM in the zone. */
function occurrences(time: string, zone: string, now: number): { last: Date; next: Date } {
  // Both from just after now: an occurrence exactly now counts as having happened.
  const from = new Date(now + 1);
  const last = CronExpressionParser.parse(cronOf(time), { currentDate: from, tz: zone }).prev().toDate();
  const next = CronExpressionParser.parse(cronOf(time), { currentDate: from, tz: zone }).next().toDate();
  return { last, next };
}

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function expiryOf(lab: ScheduledLab): Date | undefined {
  const s = lab.spec.schedule;
  if (s?.expiresAt) return new Date(s.expiresAt);
  if (s?.ttl) {
    const created = lab.metadata.creationTimestamp ? new Date(lab.metadata.creationTimestamp).getTime() : undefined;
    if (created !== undefined && Number.isFinite(created)) return new Date(created + parseDuration(s.ttl));
  }
  return undefined;
}

export function scheduleState(lab: ScheduledLab, now: number): ScheduleState {
  const s = lab.spec.schedule;
  const expiresAt = expiryOf(lab);
  const expiry = expiresAt ? { expiresAt } : {};
  if (expiresAt && expiresAt.getTime() <= now) {
    const what = s?.expiryAction === 'Stop' ? 'its machines are stopped (expiryAction Stop)' : 'its machines were removed (expiryAction Delete)';
    return { ...expiry, expired: true, running: false, reason: `Expired at ${iso(expiresAt)}: ${what}` };
  }
  const expireAction = expiresAt ? { action: 'Expire' as const, time: expiresAt } : undefined;
  const sooner = (a?: { action: ScheduledAction; time: Date }, b?: { action: ScheduledAction; time: Date }) =>
    !a ? b : !b ? a : a.time.getTime() <= b.time.getTime() ? a : b;

  if (lab.spec.state === 'Stopped') {
    return { ...expiry, expired: false, running: false, reason: 'Stopped: spec.state is Stopped', ...(expireAction ? { nextAction: expireAction } : {}) };
  }
  if (!s?.dailyStop && !s?.dailyStart) {
    return { ...expiry, expired: false, running: true, reason: 'Running: spec.state is Running and no daily schedule is set', ...(expireAction ? { nextAction: expireAction } : {}) };
  }
  const zone = s.timeZone ?? 'UTC';
  if (!knownTimeZone(zone)) throw new TerminalError(ErrorCodes.InvalidSpec, `spec.schedule.timeZone: "${zone}" is not a time zone this controller knows: use an IANA name such as Europe/Berlin`, { field: 'spec.schedule.timeZone' });
  const stop = s.dailyStop ? occurrences(s.dailyStop, zone, now) : undefined;
  const start = s.dailyStart ? occurrences(s.dailyStart, zone, now) : undefined;
  const times = { ...(stop ? { nextStop: stop.next } : {}), ...(start ? { nextStart: start.next } : {}) };
  let running: boolean;
  let reason: string;
  if (stop && start) {
    running = start.last.getTime() > stop.last.getTime();
    reason = running
      ? `Running: inside the daily hours (${s.dailyStart} to ${s.dailyStop} ${zone}); stops at ${iso(stop.next)}`
      : `Stopped by the daily schedule at ${s.dailyStop} ${zone}; starts again at ${iso(start.next)}`;
  } else if (stop) {
    const startAsked = Date.parse(lab.metadata.annotations?.[START_ANNOTATION] ?? '');
    const created = lab.metadata.creationTimestamp ? new Date(lab.metadata.creationTimestamp).getTime() : -Infinity;
    running = stop.last.getTime() < created || (Number.isFinite(startAsked) && startAsked >= stop.last.getTime());
    reason = running
      ? `Running: stops at ${iso(stop.next)} (daily ${s.dailyStop} ${zone})`
      : `Stopped by the daily schedule at ${s.dailyStop} ${zone}; no dailyStart is set: set the annotation ${START_ANNOTATION} to the current time to start it`;
  } else {
    running = true;
    reason = `Running: dailyStart ${s.dailyStart} ${zone} has nothing to start without a dailyStop`;
  }
  const daily = running
    ? stop ? { action: 'Stop' as const, time: stop.next } : undefined
    : start ? { action: 'Start' as const, time: start.next } : undefined;
  const nextAction = sooner(daily, expireAction);
  return { ...expiry, expired: false, running, reason, ...times, ...(nextAction ? { nextAction } : {}) };
}
