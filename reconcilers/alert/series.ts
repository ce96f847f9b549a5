// The state of one alert (a rule and one of its targets), advanced by each evaluation:
//   (none) -> Pending (condition holds; waits for the rule's `for`) -> Firing -> Resolved -> (dropped)
// A Pending alert whose condition stops holding is dropped: it never fired, so nobody hears of it.
// A Resolved alert stays until every receiver's group has seen it (dispatch.ts drops it). An
// evaluation that could not see (engine or host unreachable, no data yet) holds the state: a
// controller that cannot look never resolves what it cannot see, nor fires.
import type { AlertIdentity } from './labels.ts';

export type AlertState = 'Pending' | 'Firing' | 'Resolved';

export interface AlertRecord {
  fingerprint: string;
  identity: AlertIdentity;
  labels: Record<string, string>;
  state: AlertState;
  activeAt: number;
  firingAt?: number;
  resolvedAt?: number;
  /** A step of a firing alert that is notified again (certificateExpiring's renotifyAtDays). */
  stage?: string;
  inhibited?: boolean;
  silenced?: boolean;
  message?: string;
}

export interface Evaluation {
  /** true: the condition holds; false: it does not; undefined: unknown (the state is held). */
  active: boolean | undefined;
  message: string;
  stage?: string;
}

/** The next record for one alert, or undefined when it is gone (Ok). */
export function advance(previous: AlertRecord | undefined, base: Omit<AlertRecord, 'state' | 'activeAt'>, ev: Evaluation, now: number, forMs: number): AlertRecord | undefined {
  if (ev.active === undefined) return previous ? { ...previous, message: ev.message } : undefined;
  if (ev.active) {
    if (!previous || previous.state === 'Resolved') {
      const fresh: AlertRecord = { ...base, state: 'Pending', activeAt: now, message: ev.message, ...(ev.stage ? { stage: ev.stage } : {}) };
      delete fresh.firingAt;
      delete fresh.resolvedAt;
      return forMs <= 0 ? { ...fresh, state: 'Firing', firingAt: now } : fresh;
    }
    const next: AlertRecord = { ...previous, message: ev.message };
    if (ev.stage) next.stage = ev.stage;
    else delete next.stage;
    if (previous.state === 'Pending' && now - previous.activeAt >= forMs) {
      next.state = 'Firing';
      next.firingAt = now;
    }
    return next;
  }
  if (!previous || previous.state === 'Pending') return undefined;
  if (previous.state === 'Firing') return { ...previous, state: 'Resolved', resolvedAt: now, message: ev.message };
  return previous;
}

/** An alert whose rule or target left the spec: a firing one resolves (so its resolve is sent), a pending one goes. */
export function retire(previous: AlertRecord, now: number): AlertRecord | undefined {
  if (previous.state === 'Firing') return { ...previous, state: 'Resolved', resolvedAt: now, message: 'the rule or target was removed from the Alert' };
  if (previous.state === 'Pending') return undefined;
  return previous;
}

/** When a Pending alert fires if its condition keeps holding. */
export function firesAt(record: AlertRecord, forMs: number): number | undefined {
  return record.state === 'Pending' ? record.activeAt + forMs : undefined;
}
