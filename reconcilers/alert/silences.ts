// Silences from annotations, so `kubectl annotate` mutes an Alert without editing its spec:
//   outrigger.dev/silence-until: 2030-01-31T18:00:00Z [comment]     every rule of the Alert
//   silence.outrigger.dev/<rule>: 2030-01-31T18:00:00Z [comment]   one rule
// A silence holds until the time given; after it, the annotation is ignored (and shown as
// inactive in status until someone removes it). A value that is not an RFC 3339 time silences
// nothing and is reported. Pure.
import { TIMESTAMP } from '../../crds/common.ts';

export const SILENCE_ALL_ANNOTATION = 'outrigger.dev/silence-until';
export const SILENCE_RULE_PREFIX = 'silence.outrigger.dev/';

export interface Silence {
  /** The rule silenced; undefined: every rule. */
  rule?: string;
  until: string;
  untilMs: number;
  active: boolean;
  comment?: string;
  /** The annotation whose value is not a time. */
  invalid?: string;
}

export function silencesOf(annotations: Record<string, string> | undefined, now: number): Silence[] {
  const out: Silence[] = [];
  for (const [key, raw] of Object.entries(annotations ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    let rule: string | undefined;
    if (key === SILENCE_ALL_ANNOTATION) rule = undefined;
    else if (key.startsWith(SILENCE_RULE_PREFIX)) rule = key.slice(SILENCE_RULE_PREFIX.length);
    else continue;
    const value = raw.trim();
    const space = value.search(/\s/);
    const time = space < 0 ? value : value.slice(0, space);
    const comment = space < 0 ? undefined : value.slice(space).trim().slice(0, 256) || undefined;
    const untilMs = TIMESTAMP.test(time) ? Date.parse(time) : NaN;
    const silence: Silence = { ...(rule !== undefined ? { rule } : {}), until: time.slice(0, 64), untilMs, active: Number.isFinite(untilMs) && untilMs > now, ...(comment ? { comment } : {}) };
    if (!Number.isFinite(untilMs)) silence.invalid = key;
    out.push(silence);
  }
  return out;
}

export function isSilenced(silences: readonly Silence[], rule: string): boolean {
  return silences.some((s) => s.active && (s.rule === undefined || s.rule === rule));
}

/** When the next active silence ends (the Alert is looked at again then). */
export function nextSilenceEnd(silences: readonly Silence[]): number | undefined {
  const ends = silences.filter((s) => s.active).map((s) => s.untilMs);
  return ends.length > 0 ? Math.min(...ends) : undefined;
}
