// Idle auto-stop, as pure decisions. The signal is the Docker provider's activity probe (one exec
// reading /proc and /dev/pts: established connections to the published ports, open terminals and
// the last keystroke on them; see docker/activity.ts). The controller never writes spec, so an
// idle stop is recorded as the condition Idle=True; it holds until the user wakes the workspace by
// changing its spec or by setting the annotation outrigger.dev/wake to a time after the stop.

export const WAKE_ANNOTATION = 'outrigger.dev/wake';
export const IDLE_CONDITION = 'Idle';
/** Never probe one workspace more often than this, whatever its idleTimeout. */
export const MIN_PROBE_GAP_MS = 5_000;

interface ConditionView {
  type: string;
  status: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

interface IdleInputs {
  metadata: { generation?: number; annotations?: Record<string, string> | null };
  status?: { conditions?: ConditionView[] } | null;
}

/** When the workspace was stopped for idleness, or undefined if it was not (or has been woken since). */
export function idleStoppedAt(ws: IdleInputs): Date | undefined {
  const idle = ws.status?.conditions?.find((c) => c.type === IDLE_CONDITION);
  if (!idle || idle.status !== 'True' || !idle.lastTransitionTime) return undefined;
  const since = new Date(idle.lastTransitionTime);
  if (wokenSince(ws, idle, since)) return undefined;
  return since;
}

/** A spec edit after the stop, or a wake annotation holding a time at or after it. */
function wokenSince(ws: IdleInputs, idle: ConditionView, since: Date): boolean {
  const generation = ws.metadata.generation;
  if (generation !== undefined && idle.observedGeneration !== undefined && generation > idle.observedGeneration) return true;
  const wake = ws.metadata.annotations?.[WAKE_ANNOTATION];
  if (!wake) return false;
  const at = Date.parse(wake);
  // Condition times have whole seconds: compare at that precision.
  return Number.isFinite(at) && Math.floor(at / 1000) >= Math.floor(since.getTime() / 1000);
}

/** Whether a watch update should wake the reconciler: the wake annotation changed. */
export function wakeAnnotationChanged(oldObj: IdleInputs, newObj: IdleInputs): boolean {
  return (oldObj.metadata.annotations?.[WAKE_ANNOTATION] ?? '') !== (newObj.metadata.annotations?.[WAKE_ANNOTATION] ?? '');
}

/** What the controller remembers about one running container's activity. */
export interface ActivityMemory {
  containerId: string;
  /** Local clock, ms: the last moment anyone was seen active (or the container was first seen running). */
  lastActivityMs: number;
  /** Local clock, ms: the last probe (0: none yet). */
  lastProbeMs: number;
  /** What status.lastActivity shows (ms): moved only in coarse steps so activity does not write status every probe. */
  shownMs: number;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** How often a running workspace is probed: a quarter of its idleTimeout, 5 s to 10 min. */
export function probeEveryMs(idleTimeoutMs: number): number {
  return clamp(Math.floor(idleTimeoutMs / 4), MIN_PROBE_GAP_MS, 10 * 60_000);
}

/** status.lastActivity moves only when activity advanced by this much (or the workspace stops). */
export function shownGranularityMs(idleTimeoutMs: number): number {
  return clamp(Math.floor(idleTimeoutMs / 2), 60_000, 30 * 60_000);
}

/**
 * The memory for a container seen running now: kept if it is the same container, else it starts
 * now (a container just (re)started or woken is never stopped at once). After a controller restart
 * the container's status.lastActivity is the starting point, but the workspace gets at least half
 * its idleTimeout before it can stop (status.lastActivity is written in coarse steps).
 */
export function rememberRunning(
  previous: ActivityMemory | undefined,
  containerId: string,
  nowMs: number,
  restored?: { lastActivityMs: number; idleTimeoutMs: number },
): ActivityMemory {
  if (previous && previous.containerId === containerId) return previous;
  if (restored && Number.isFinite(restored.lastActivityMs)) {
    const basis = Math.min(nowMs, Math.max(restored.lastActivityMs, nowMs - Math.floor(restored.idleTimeoutMs / 2)));
    return { containerId, lastActivityMs: basis, lastProbeMs: 0, shownMs: restored.lastActivityMs };
  }
  return { containerId, lastActivityMs: nowMs, lastProbeMs: 0, shownMs: nowMs };
}

/** The moment the workspace would become idle if nobody shows up. */
export function idleDeadline(memory: ActivityMemory, idleTimeoutMs: number): number {
  return memory.lastActivityMs + idleTimeoutMs;
}

/** A probe is due every probeEveryMs, and at the idle deadline (never twice within MIN_PROBE_GAP_MS). */
export function probeDue(memory: ActivityMemory, idleTimeoutMs: number, nowMs: number): boolean {
  const sinceProbe = nowMs - memory.lastProbeMs;
  if (sinceProbe < MIN_PROBE_GAP_MS) return false;
  return sinceProbe >= probeEveryMs(idleTimeoutMs) || nowMs >= idleDeadline(memory, idleTimeoutMs);
}

/**
 * Folds a probe into the memory. `activeAgoSeconds` is how long ago the probe saw activity (from the
 * container's own clock, so clock skew between hosts does not matter), or undefined for none.
 */
export function afterProbe(memory: ActivityMemory, activeAgoSeconds: number | undefined, nowMs: number, idleTimeoutMs: number): ActivityMemory {
  const seen = activeAgoSeconds === undefined ? 0 : nowMs - Math.max(0, activeAgoSeconds) * 1000;
  const lastActivityMs = Math.max(memory.lastActivityMs, seen);
  const shownMs = lastActivityMs - memory.shownMs >= shownGranularityMs(idleTimeoutMs) ? lastActivityMs : memory.shownMs;
  return { ...memory, lastActivityMs, lastProbeMs: nowMs, shownMs };
}

/** How long ago (seconds) a probe report saw activity; undefined when it saw none. */
export function activeAgo(report: { now: number }, epoch: number): number | undefined {
  return epoch > 0 ? Math.max(0, report.now - epoch) : undefined;
}

/** Idle: the deadline has passed and a probe made after it saw nobody. */
export function isIdle(memory: ActivityMemory, idleTimeoutMs: number, nowMs: number): boolean {
  const deadline = idleDeadline(memory, idleTimeoutMs);
  return nowMs >= deadline && memory.lastProbeMs >= deadline;
}

/** When to look again: the next periodic probe or the deadline, whichever comes first. */
export function nextIdleCheckMs(memory: ActivityMemory, idleTimeoutMs: number, nowMs: number): number {
  const nextProbe = memory.lastProbeMs + probeEveryMs(idleTimeoutMs);
  const deadline = Math.max(idleDeadline(memory, idleTimeoutMs), memory.lastProbeMs + MIN_PROBE_GAP_MS);
  return Math.max(Math.min(nextProbe, deadline) - nowMs, 1_000);
}

/** RFC 3339 with whole seconds, as status timestamps are written. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
