// Long-running child processes for test fixtures: output goes to a log file, stop is by pid,
// and a process can never outlive the test process that started it (parent-death signal plus an
// exit hook), so a crashed test run leaves no etcd or apiserver behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  running(): boolean;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of the log file, for error messages. */
  tail(lines?: number): string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: a plain SIGKILL by pid is.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

// setpriv (util-linux) sets PR_SET_PDEATHSIG before exec, so the kernel kills the child if this
// process dies without running its exit hook (SIGKILL, test runner timeout).
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: { logPath: string; env?: NodeJS.ProcessEnv; cwd?: string },
): ManagedProcess {
  installExitHook();
  const logFd = openSync(opts.logPath, 'a');
  const [file, argv] = SETPRIV
    ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]]
    : [command, args];
  let child: ChildProcess;
  try {
    child = spawn(file, argv, {
      stdio: ['ignore', logFd, logFd],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
  } finally {
    closeSync(logFd); // the child holds its own copy
  }
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      live.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      done = true;
      live.delete(child);
      resolve(`spawn error: ${err.message}`);
    });
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  live.add(child);

  const tail = (lines = 40): string => {
    try {
      return readFileSync(opts.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  };

  return {
    name,
    pid,
    logPath: opts.logPath,
    exited,
    running: () => !done,
    tail,
    async stop(graceMs = 10_000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Runs a short-lived command to completion, killing it by pid after timeoutMs. */
export function runCommand(
  command: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env ?? process.env, cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timeoutMs = opts.timeoutMs ?? 60_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n(killed after ${timeoutMs} ms)`;
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => {}); // the command may exit before reading its input
    child.stdin.end(opts.input ?? '');
  });
}
