// Is anyone using the workspace? One exec of a small POSIX shell probe (any image with sh, awk and
// stat will do: Debian, Alpine/busybox) reads what the kernel already knows, changing nothing:
//   connections     established TCP connections to the published ports (SSH clients, a browser
//                   editor), from /proc/net/tcp{,6} of the container's own network namespace
//   terminals       open pseudo-terminals (/dev/pts/N), i.e. interactive sessions
//   lastInputEpoch  newest access time of those terminals: the kernel touches it when the user
//                   types (what `w` shows as IDLE)
//   userProcesses   processes of the workspace user, for status and debugging
// activityEpoch() turns a report into "the last moment someone was active".
import { OutriggerError } from '../../controller/errors.ts';
import { DockerErrorCodes } from './errors.ts';
import type { ExecResult, ExecOptions } from './exec.ts';

export interface ActivityReport {
  /** The container's clock, seconds since the epoch. */
  now: number;
  connections: number;
  terminals: number;
  lastInputEpoch: number;
  userProcesses: number;
}

// $1: the workspace user's uid; further arguments: published container ports (decimal).
const PROBE = String.raw`
uid=$1; shift
now=$(date +%s)
conns=0
for f in /proc/net/tcp /proc/net/tcp6; do
  [ -r "$f" ] || continue
  for p in "$@"; do
    hex=$(printf '%04X' "$p")
    n=$(awk -v h=":$hex" 'NR > 1 && $4 == "01" && substr($2, length($2) - 4) == h { c++ } END { print c + 0 }' "$f")
    conns=$((conns + n))
  done
done
ttys=0; last=0
for t in /dev/pts/[0-9]*; do
  [ -e "$t" ] || continue
  ttys=$((ttys + 1))
  a=$(stat -c %X "$t" 2>/dev/null || echo 0)
  if [ "$a" -gt "$last" ]; then last=$a; fi
done
procs=0
for d in /proc/[0-9]*; do
  if [ "$(stat -c %u "$d" 2>/dev/null)" = "$uid" ]; then procs=$((procs + 1)); fi
done
printf '{"now":%d,"connections":%d,"terminals":%d,"lastInputEpoch":%d,"userProcesses":%d}\n' "$now" "$conns" "$ttys" "$last" "$procs"
`;

export type Exec = (cmd: string[], opts: ExecOptions) => Promise<ExecResult>;

/** Runs the probe (as root, to see every process) and parses its one line of JSON. */
export async function probeActivity(exec: Exec, opts: { uid: number; ports: number[]; signal?: AbortSignal }): Promise<ActivityReport> {
  for (const p of opts.ports) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`not a port: ${p}`);
  if (!Number.isInteger(opts.uid) || opts.uid < 0) throw new RangeError(`not a uid: ${opts.uid}`);
  const result = await exec(['sh', '-c', PROBE, 'outrigger-activity', String(opts.uid), ...opts.ports.map(String)], {
    user: '0',
    timeoutMs: 15_000,
    maxOutputBytes: 4096,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const line = result.stdout.trim().split('\n').pop() ?? '';
  let report: ActivityReport | undefined;
  try {
    report = JSON.parse(line) as ActivityReport;
  } catch {
    report = undefined;
  }
  if (result.exitCode !== 0 || !report || typeof report.now !== 'number') {
    throw new OutriggerError(DockerErrorCodes.ExternalError, `the activity probe failed (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 200) || 'no report'}; the image needs sh, awk and stat`);
  }
  return report;
}

/**
 * The last moment (epoch seconds) someone was active: now while a connection without a terminal
 * is open (a browser editor, a non-interactive SSH session such as an IDE's), else the last
 * keystroke in a terminal; 0 when there is no sign of anyone.
 */
export function activityEpoch(report: ActivityReport): number {
  const nonTerminalConnections = report.connections > report.terminals;
  return Math.max(nonTerminalConnections ? report.now : 0, report.terminals > 0 ? report.lastInputEpoch : 0);
}
