// PVE worker tasks: reading a UPID, and waiting for a task to end. A task is asked about on the node
// named in its UPID (the node that runs the worker, not necessarily the one the request named). Just
// after a worker starts, its node may not know it yet and answer 400/500 ("unable to parse worker
// upid", "no such task"); that is retried for a short grace period.
import type { Clock } from '../../controller/clock.ts';
import type { ProxmoxClient } from './client.ts';
import { ProxmoxApiError, ProxmoxBadResponseError, ProxmoxTaskError, ProxmoxTaskTimeoutError } from './errors.ts';
import { taskLog, taskStatus } from './schemas.ts';

export interface Upid {
  node: string;
  pid: number;
  pstart: number;
  /** Seconds since the epoch. */
  startTime: number;
  type: string;
  id: string;
  user: string;
}

/** UPID:node:pid:pstart:starttime:type:id:user: (pid, pstart and starttime in hex). */
export function parseUpid(text: string): Upid {
  const m = /^UPID:([a-zA-Z0-9][a-zA-Z0-9.-]*):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/.exec(text);
  if (!m) throw new ProxmoxBadResponseError('GET', 'task', `not a UPID: ${text.slice(0, 120)}`);
  return {
    node: m[1]!, pid: parseInt(m[2]!, 16), pstart: parseInt(m[3]!, 16), startTime: parseInt(m[4]!, 16),
    type: m[5]!, id: m[6]!, user: m[7]!,
  };
}

/** Exit statuses that mean success ("OK", or "WARNINGS: 2" when the task logged warnings). */
export function taskSucceeded(exitStatus: string): boolean {
  return exitStatus === 'OK' || /^WARNINGS: \d+$/.test(exitStatus);
}

export interface WaitOptions {
  clock: Clock;
  timeoutMs: number;
  /** First poll interval; later ones grow to maxPollMs. */
  pollMs?: number;
  maxPollMs?: number;
  /** Errors about an unknown task are retried this long after the wait began. */
  unknownTaskGraceMs?: number;
  signal?: AbortSignal;
}

const UNKNOWN_TASK = /unable to parse worker upid|no such task|task .* not found|does not exist/i;

export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => { timer.cancel(); reject(signal?.reason); };
    const timer = clock.setTimer(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits until the task stops; throws ProxmoxTaskError (with the log's tail) unless it ended OK. */
export async function waitForTask(client: ProxmoxClient, upidText: string, what: string, opts: WaitOptions): Promise<void> {
  const upid = parseUpid(upidText);
  const began = opts.clock.now();
  const grace = opts.unknownTaskGraceMs ?? 10_000;
  let interval = opts.pollMs ?? 200;
  for (;;) {
    try {
      const status = await client.get('/nodes/{node}/tasks/{upid}/status', { path: { node: upid.node, upid: upidText }, signal: opts.signal }, taskStatus);
      if (status.status === 'stopped') {
        const exit = status.exitstatus ?? 'unknown';
        if (taskSucceeded(exit)) return;
        throw new ProxmoxTaskError(upidText, what, exit, await logTail(client, upid.node, upidText, opts.signal));
      }
    } catch (err) {
      const unknown = err instanceof ProxmoxApiError && (err.status === 400 || err.status === 404 || err.status === 500) &&
        UNKNOWN_TASK.test(err.pveMessage);
      if (!unknown || opts.clock.now() - began > grace) throw err;
    }
    const waited = opts.clock.now() - began;
    if (waited >= opts.timeoutMs) throw new ProxmoxTaskTimeoutError(upidText, what, waited);
    await sleep(opts.clock, Math.min(interval, opts.timeoutMs - waited), opts.signal);
    interval = Math.min(interval * 2, opts.maxPollMs ?? 2_000);
  }
}

async function logTail(client: ProxmoxClient, node: string, upid: string, signal?: AbortSignal): Promise<string[]> {
  try {
    const lines = await client.get('/nodes/{node}/tasks/{upid}/log', { path: { node, upid }, params: { limit: 500 }, signal }, taskLog);
    return lines.slice(-20).map((l) => l.t);
  } catch {
    return [];
  }
}
