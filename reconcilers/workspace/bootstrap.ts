// The one-time bootstrap of a home: a script, or a dotfiles repository cloned and installed. It
// runs once per home: a marker file in the home (~/.outrigger/bootstrapped) records success, so a
// re-created container on the same home never runs it again. Two execs: one as root that waits for
// the image's entrypoint to hand the home to the user and says whether the marker exists, then one
// as the workspace user that runs the step, keeps its whole output in ~/.outrigger/bootstrap.log
// and prints the log's last lines. Script text travels over stdin and repository, ref and install
// script as arguments, never into a shell command line.
import type { WorkspaceSpec } from '../../crds/index.ts';
import type { ExecOptions, ExecResult } from '../docker/index.ts';
import type { WorkspaceUser } from './target.ts';

export type Exec = (cmd: string[], opts: ExecOptions) => Promise<ExecResult>;

export const BOOTSTRAP_DIR = '.outrigger';
export const MARKER_FILE = `${BOOTSTRAP_DIR}/bootstrapped`;
export const LOG_FILE = `${BOOTSTRAP_DIR}/bootstrap.log`;
/** A bootstrap step may take a while (package installs); the reconcile deadline is set above this. */
export const BOOTSTRAP_TIMEOUT_MS = 5 * 60_000;
const TAIL_LINES = 20;

export type BootstrapSpec = NonNullable<WorkspaceSpec['bootstrap']>;

export interface BootstrapOutcome {
  state: 'Succeeded' | 'Failed';
  /** True when the marker showed an earlier run: nothing ran now. */
  alreadyDone: boolean;
  exitCode?: number;
  /** For status and events: what happened, secret values redacted, at most a few lines of output. */
  message: string;
}

// $1 home, $2 uid. Waits up to 10 s for the entrypoint to give the home to the user (then does it
// itself, the directory only), prepares ~/.outrigger and says whether the marker exists.
const PREPARE_SCRIPT = [
  'set -eu',
  'home=$1; uid=$2; i=0',
  'while [ "$(stat -c %u "$home" 2>/dev/null || echo none)" != "$uid" ]; do',
  '  i=$((i + 1))',
  '  if [ "$i" -gt 100 ]; then mkdir -p "$home"; chown "$uid:$uid" "$home"; break; fi',
  '  sleep 0.1',
  'done',
  `mkdir -p "$home/${BOOTSTRAP_DIR}"`,
  `chown "$uid:$uid" "$home/${BOOTSTRAP_DIR}"`,
  `if [ -e "$home/${MARKER_FILE}" ]; then echo done; else echo pending; fi`,
].join('\n');

// Shared tail of both run scripts: $home set, run() defined.
const RUN_TAIL = [
  `marker="$home/${MARKER_FILE}"; log="$home/${LOG_FILE}"`,
  'if [ -e "$marker" ]; then echo "outrigger-bootstrap: already done"; exit 0; fi',
  'cd "$home"',
  'run > "$log" 2>&1 < /dev/null',
  'rc=$?',
  `tail -n ${TAIL_LINES} "$log"`,
  'if [ "$rc" -eq 0 ]; then date -u +%Y-%m-%dT%H:%M:%SZ > "$marker"; fi',
  'exit "$rc"',
];

// $1 home; the script on stdin. Scripts starting with #! run as executables, others with sh.
const SCRIPT_RUNNER = [
  'set -u',
  'home=$1',
  `script="$home/${BOOTSTRAP_DIR}/bootstrap-script"`,
  // Read stdin first, always: the sender must never find the pipe closed.
  'cat > "$script" && chmod 0700 "$script" || exit 70',
  'run() { if [ "$(head -c 2 "$script")" = "#!" ]; then "$script"; else sh "$script"; fi; }',
  ...RUN_TAIL,
].join('\n');

// $1 home, $2 repository, $3 ref (may be empty), $4 install script (may be empty).
const DOTFILES_RUNNER = [
  'set -u',
  'home=$1; repo=$2; ref=$3; install=$4',
  'run() {',
  '  command -v git > /dev/null || { echo "outrigger-bootstrap: git is not installed in the image"; return 127; }',
  '  dest="$home/.dotfiles"',
  '  if [ ! -d "$dest/.git" ]; then git clone -- "$repo" "$dest" || return $?; fi',
  '  cd "$dest" || return 70',
  '  if [ -n "$ref" ]; then git checkout -q "$ref" || return $?; fi',
  '  script=$install',
  '  if [ -z "$script" ]; then for s in install.sh bootstrap.sh setup.sh; do if [ -f "$s" ]; then script=$s; break; fi; done; fi',
  '  if [ -z "$script" ]; then echo "outrigger-bootstrap: cloned; no install script found"; return 0; fi',
  '  if [ ! -f "$script" ]; then echo "outrigger-bootstrap: $script not found in the repository"; return 66; fi',
  '  if [ -x "$script" ]; then "./$script"; else sh "./$script"; fi',
  '}',
  ...RUN_TAIL,
].join('\n');

/** The user-side command and stdin for a bootstrap spec. */
export function bootstrapCommand(spec: BootstrapSpec, user: WorkspaceUser): { cmd: string[]; stdin?: string } {
  if (spec.script !== undefined) return { cmd: ['sh', '-c', SCRIPT_RUNNER, 'outrigger-bootstrap', user.home], stdin: spec.script };
  const d = spec.dotfiles!;
  return { cmd: ['sh', '-c', DOTFILES_RUNNER, 'outrigger-bootstrap', user.home, d.repository, d.ref ?? '', d.installScript ?? ''] };
}

/** Runs the bootstrap step in a running container (once per home). Errors are for an engine that cannot exec. */
export async function runBootstrap(exec: Exec, spec: BootstrapSpec, user: WorkspaceUser, secrets: readonly string[], signal?: AbortSignal): Promise<BootstrapOutcome> {
  const prepared = await exec(['sh', '-c', PREPARE_SCRIPT, 'outrigger-bootstrap-prepare', user.home, String(user.uid)], {
    user: '0',
    timeoutMs: 30_000,
    maxOutputBytes: 4096,
    ...(signal ? { signal } : {}),
  });
  if (prepared.exitCode !== 0) {
    return { state: 'Failed', alreadyDone: false, exitCode: prepared.exitCode, message: `could not prepare ${user.home}/${BOOTSTRAP_DIR} (exit ${prepared.exitCode}): ${tail(prepared.stderr, secrets)}` };
  }
  if (prepared.stdout.trim() === 'done') return { state: 'Succeeded', alreadyDone: true, message: 'The home was bootstrapped earlier (marker found); nothing ran' };
  const { cmd, stdin } = bootstrapCommand(spec, user);
  const result = await exec(cmd, {
    user: `${user.uid}:${user.uid}`,
    env: { HOME: user.home, USER: user.name, LOGNAME: user.name },
    workingDir: user.home,
    timeoutMs: BOOTSTRAP_TIMEOUT_MS,
    maxOutputBytes: 64 * 1024,
    ...(stdin !== undefined ? { stdin } : {}),
    ...(signal ? { signal } : {}),
  });
  const what = spec.script !== undefined ? 'the bootstrap script' : 'the dotfiles step';
  if (result.exitCode === 0) {
    const already = result.stdout.includes('outrigger-bootstrap: already done');
    return { state: 'Succeeded', alreadyDone: already, exitCode: 0, message: already ? 'The home was bootstrapped earlier (marker found); nothing ran' : `${capitalize(what)} succeeded; its output is in ~/${LOG_FILE}` };
  }
  const lines = tail(`${result.stdout}\n${result.stderr}`, secrets);
  return {
    state: 'Failed',
    alreadyDone: false,
    exitCode: result.exitCode,
    message: `${capitalize(what)} failed with exit code ${result.exitCode}${lines ? `; last lines: ${lines}` : ' and printed nothing'}; the whole output is in ~/${LOG_FILE}. Fix it and change the spec to run it again`,
  };
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The last few lines of output, one line, secrets redacted, control characters dropped. */
export function tail(output: string, secrets: readonly string[], maxLines = 5, maxChars = 600): string {
  const lines = redact(output, secrets)
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-maxLines);
  const joined = lines.map((l) => `"${l}"`).join(' | ');
  return joined.length <= maxChars ? joined : `…${joined.slice(joined.length - maxChars + 1)}`;
}

/**
 * Replaces every secret value (and every line of multi-line values, such as a key file) with
 * [redacted]. Longest first, so a value containing another is replaced whole.
 */
export function redact(text: string, secrets: readonly string[]): string {
  const needles = new Set<string>();
  for (const s of secrets) {
    if (s.length >= 4) needles.add(s);
    for (const line of s.split('\n')) if (line.trim().length >= 8) needles.add(line.trim());
  }
  let out = text;
  for (const needle of [...needles].sort((a, b) => b.length - a.length)) out = out.split(needle).join('[redacted]');
  return out;
}
