// Telling nginx to load the configuration `nginx -t` just passed. `nginx -s reload` is a whole nginx
// process that parses the entire configuration (every route's server block) only to learn where
// the pid file is and send the master a HUP; the master then parses it again. So where it is safe,
// the HUP is sent directly over the open SSH connection: the master's pid is read from the pid file
// the main configuration's `pid` directive names, and the process is checked to be nginx's master
// (/proc/<pid>/cmdline) before `kill -s HUP` runs. In every other case (a wrapper command such as
// `systemctl reload nginx`, sudo, no absolute `pid` directive, no /proc, a kill that is refused) the
// host's own reload command runs, as before. Either way the caller confirms the reload the same
// way: the status server must report the new generation.
import type { OperationOptions, SshConnection } from '../ssh/index.ts';
import { commandFor, type NginxHostSettings } from './settings.ts';

export interface ReloadResult {
  ok: boolean;
  /** How nginx was told: a HUP to the master, or the host's reload command. */
  via: 'signal' | 'command';
  /** Output of a reload command that failed. */
  output?: string;
}

/** Connections on which a direct HUP was refused: their hosts get the reload command from then on. */
const signalRefused = new WeakSet<SshConnection>();

/**
 * Whether the reload command is nginx's own `-s reload` (with at most -p and -c), which a HUP to
 * the master equals. Not through sudo: a refused `sudo kill` would alarm the host's auth log.
 */
export function isPlainNginxReload(s: NginxHostSettings): boolean {
  const [program, ...args] = s.reloadCommand;
  if (s.sudo || !/(^|\/)nginx$/.test(program ?? '')) return false;
  let reload = false;
  for (let i = 0; i < args.length; i += 2) {
    if (args[i] === '-s' && args[i + 1] === 'reload') reload = true;
    else if (!(args[i] === '-p' || args[i] === '-c') || args[i + 1] === undefined) return false;
  }
  return reload;
}

/** The absolute path of the main configuration's `pid` directive, if it has one. */
export function pidFileFromConfig(text: string): string | undefined {
  // Main-context directives only: the first `pid` outside any block.
  let depth = 0;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '');
    if (depth === 0) {
      const m = /^\s*pid\s+(\/[^\s;'"]+)\s*;/.exec(line);
      if (m) return m[1];
    }
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
  }
  return undefined;
}

/** The pid of nginx's running master, or undefined when it cannot be known for certain. */
async function masterPid(conn: SshConnection, s: NginxHostSettings, op: OperationOptions): Promise<number | undefined> {
  // The file the reload command would read: its own -c, else the main configuration file.
  const c = s.reloadCommand.indexOf('-c');
  const configFile = c > 0 ? s.reloadCommand[c + 1]! : s.mainConfigFile;
  const main = (await conn.files.readFile(configFile, op))?.toString('utf8');
  const pidFile = main === undefined ? undefined : pidFileFromConfig(main);
  if (!pidFile) return undefined;
  const pid = Number((await conn.files.readFile(pidFile, op))?.toString('utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  // A stale pid file could name another process by now: only nginx's master gets the signal.
  const cmdline = await conn.files.readFile(`/proc/${pid}/cmdline`, op).catch(() => null);
  return cmdline?.toString('utf8').startsWith('nginx: master process') ? pid : undefined;
}

export async function reloadNginx(conn: SshConnection, s: NginxHostSettings, op: OperationOptions = {}): Promise<ReloadResult> {
  if (isPlainNginxReload(s) && !signalRefused.has(conn)) {
    const pid = await masterPid(conn, s, op);
    if (pid !== undefined) {
      const r = await conn.exec(['kill', '-s', 'HUP', String(pid)], { timeoutMs: 10_000, ...op });
      if (r.code === 0) return { ok: true, via: 'signal' };
      // Not this user's process to signal: the reload command may be allowed to, from now on.
      if (/not permitted/i.test(r.stderr)) signalRefused.add(conn);
    }
  }
  const r = await conn.exec(commandFor(s, 'reload'), { timeoutMs: 60_000, ...op });
  return r.code === 0 ? { ok: true, via: 'command' } : { ok: false, via: 'command', output: `${r.stderr}\n${r.stdout}` };
}
