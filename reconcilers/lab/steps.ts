// First boot and provisioning steps on one machine, through whatever runs a command there (the
// engine's exec for containers): probe what ran, launch the next step, read the end of its output,
// and decide from a probe where a machine's steps stand (pure). The once-only guards live in the
// machine (scripts.ts), so nothing here can run a step twice, whatever the controller forgets.
import { createHash } from 'node:crypto';
import { OutriggerError } from '../../controller/index.ts';
import type { ExecResult } from '../docker/index.ts';
import { ErrorCodes } from '../common/reasons.ts';
import { redactSecrets } from '../common/secrets.ts';
import { OUTPUT_TAIL, PREPARE, PROBE, RUNNER, SET_PASSWORDS, START, STATE_DIR, TIMED_OUT_EXIT, parseProbe, stepDir, type Probe, type ProbedStep } from './scripts.ts';

export interface ExecOptions {
  user?: string;
  stdin?: Buffer | string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Runs argv on the machine (never through a shell of ours: the scripts are arguments). */
export type MachineExec = (cmd: string[], opts: ExecOptions) => Promise<ExecResult>;

/** One step as planned: first boot (as root) or a provisioning step (as spec.ssh.user). */
export interface PlannedStep {
  name: string;
  script: string;
  user: string;
  timeoutSeconds: number;
}

export type StepState = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export interface StepStatus {
  name: string;
  state: StepState;
  exitCode?: number;
  startTime?: string;
  completionTime?: string;
  output?: string;
}

/** How many lines of a finished step's output status and the event keep. */
export const OUTPUT_LINES = 10;
const MAX_OUTPUT_CHARS = 2000;
/** A step seen `starting` for longer than this has lost its process. */
const START_GRACE_SECONDS = 30;

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

function checked(result: ExecResult, what: string): string {
  if (result.exitCode !== 0) {
    throw new OutriggerError(ErrorCodes.ExternalError, `${what} failed in the machine (exit ${result.exitCode}): ${redactSecrets(result.stderr.trim().split('\n').slice(-3).join(' ')).slice(0, 300)}`);
  }
  return result.stdout;
}

export async function probeMachine(exec: MachineExec, signal?: AbortSignal): Promise<Probe> {
  const out = checked(await exec(['sh', '-c', PROBE, 'outrigger-probe', STATE_DIR], { user: '0', timeoutMs: 30_000, ...(signal ? { signal } : {}) }), 'reading the state of its steps');
  return parseProbe(out);
}

/** Writes the step's script (once) and starts it detached (once); returns at once. */
export async function launchStep(exec: MachineExec, step: PlannedStep, signal?: AbortSignal): Promise<void> {
  const dir = stepDir(step.name);
  const opts = { timeoutMs: 30_000, ...(signal ? { signal } : {}) };
  checked(await exec(['sh', '-c', PREPARE, 'outrigger-prepare', dir, step.user], { ...opts, user: '0', stdin: step.script }), `writing step ${step.name}`);
  checked(await exec(['sh', '-c', START, 'outrigger-start', dir, String(step.timeoutSeconds), RUNNER], { ...opts, user: step.user === 'root' ? '0' : step.user }), `starting step ${step.name}`);
}

/** The last lines of a step's output, secret values replaced. */
export async function stepOutput(exec: MachineExec, name: string, signal?: AbortSignal): Promise<string> {
  const result = await exec(['sh', '-c', OUTPUT_TAIL, 'outrigger-tail', stepDir(name), String(OUTPUT_LINES)], { user: '0', timeoutMs: 30_000, ...(signal ? { signal } : {}) });
  const text = redactSecrets(result.stdout).trimEnd();
  return text.length > MAX_OUTPUT_CHARS ? `…${text.slice(-MAX_OUTPUT_CHARS)}` : text;
}

/** Sets the generated passwords (over stdin) and remembers their digest in the machine. */
export async function setPasswords(exec: MachineExec, lines: Array<{ user: string; password: string }>, signal?: AbortSignal): Promise<void> {
  const text = lines.map((l) => `${l.user}:${l.password}\n`).join('');
  checked(await exec(['sh', '-c', SET_PASSWORDS, 'outrigger-passwords', passwordsDigest(lines)], { user: '0', stdin: text, timeoutMs: 30_000, ...(signal ? { signal } : {}) }), 'setting passwords');
}

/** A digest of the passwords a machine should have (what it remembers, never the passwords). */
export function passwordsDigest(lines: Array<{ user: string; password: string }>): string {
  const h = createHash('sha256');
  for (const l of [...lines].sort((a, b) => a.user.localeCompare(b.user))) h.update(`${l.user}\0${l.password}\0`);
  return h.digest('hex').slice(0, 32);
}

/** A probed step as status shows it. */
export function stepStatusOf(name: string, probed: ProbedStep | undefined, nowSeconds: number): StepStatus {
  if (!probed || probed.state === 'prepared') return { name, state: 'Pending' };
  const times = {
    ...(probed.startSeconds !== undefined ? { startTime: iso(probed.startSeconds) } : {}),
    ...(probed.endSeconds !== undefined ? { completionTime: iso(probed.endSeconds) } : {}),
  };
  if (probed.state === 'exited') return { name, state: probed.exitCode === 0 ? 'Succeeded' : 'Failed', exitCode: probed.exitCode ?? -1, ...times };
  if (probed.state === 'running') return { name, state: 'Running', ...times };
  if (probed.state === 'starting' && (probed.startSeconds === undefined || nowSeconds - probed.startSeconds < START_GRACE_SECONDS)) return { name, state: 'Running', ...times };
  return { name, state: 'Failed', ...times, output: 'cut off: the machine stopped while the step ran; it is not run again on this machine' };
}

export interface StepsProgress {
  steps: StepStatus[];
  /** The next step to launch, when every one before it succeeded and it has not started. */
  next?: PlannedStep;
  running?: string;
  failed?: StepStatus;
  done: boolean;
}

/** Where a machine's steps stand: strictly in order, each after the one before succeeded. */
export function stepsProgress(planned: PlannedStep[], known: Map<string, StepStatus>): StepsProgress {
  const steps: StepStatus[] = [];
  let next: PlannedStep | undefined;
  let running: string | undefined;
  let failed: StepStatus | undefined;
  let blocked = false;
  for (const p of planned) {
    const s = known.get(p.name) ?? { name: p.name, state: 'Pending' as const };
    steps.push(s);
    if (blocked) continue;
    if (s.state === 'Succeeded') continue;
    blocked = true;
    if (s.state === 'Failed') failed = s;
    else if (s.state === 'Running') running = p.name;
    else next = p;
  }
  return { steps, ...(next ? { next } : {}), ...(running ? { running } : {}), ...(failed ? { failed } : {}), done: !blocked };
}

/** The one-line account of a failed step, for the machine's message and the event. */
export function describeFailure(step: StepStatus, timeoutSeconds: number | undefined): string {
  const why = step.exitCode === TIMED_OUT_EXIT
    ? `ran out of time (${timeoutSeconds ?? '?'} s) and was stopped`
    : step.exitCode !== undefined ? `exited with code ${step.exitCode}` : 'did not finish';
  const tail = step.output ? `; last lines: ${step.output.split('\n').slice(-5).join(' | ')}` : '';
  return `step ${step.name} ${why}${tail}`;
}
