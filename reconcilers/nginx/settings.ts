// How Outrigger drives the nginx on one host: where its own directory is, which commands test and
// reload, where the error log is. Built from a Host's spec.nginx; every value is re-checked here
// because it ends up in paths, in the rendered configuration and in commands.
import { OutriggerError } from '../../controller/errors.ts';
import { ErrorCodes } from '../common/reasons.ts';

export interface NginxHostSettings {
  /** Directory Outrigger owns entirely; nginx.conf includes `<configDir>/current/*.conf` in http {}. */
  configDir: string;
  mainConfigFile: string;
  errorLogFile: string;
  /** Program and arguments (never a shell string); `-c <mainConfigFile>` is added when absent. */
  testCommand: string[];
  reloadCommand: string[];
  /** Run test and reload through `sudo -n`. */
  sudo: boolean;
  /** Loopback port of the status server that reports the live generation. */
  statusPort: number;
  /** Group the nginx workers run as (e.g. www-data): htpasswd files become 0640 with this group. */
  workerGroup?: string;
  listenIPv6?: boolean;
  /** Where the host lists its DNS servers. */
  resolvConf: string;
}

export const DEFAULT_STATUS_PORT = 10080;

const PLAIN_PATH = /^(\/[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*)+$/;
const ARGUMENT = /^[A-Za-z0-9_./=:,+@%-]+$/;

export function checkSettings(s: NginxHostSettings): NginxHostSettings {
  const bad = (field: string, why: string) => new OutriggerError(ErrorCodes.InvalidSpec, `spec.nginx.${field}: ${why}`, { field: `spec.nginx.${field}` });
  for (const f of ['configDir', 'mainConfigFile', 'errorLogFile', 'resolvConf'] as const) {
    if (!PLAIN_PATH.test(s[f]) || s[f].split('/').some((seg) => seg === '.' || seg === '..')) {
      throw bad(f, 'must be an absolute path of plain characters (A-Z a-z 0-9 . _ @ + -) without "." or ".." segments');
    }
  }
  if (s.configDir === '/' || s.configDir.split('/').length < 3) throw bad('configDir', 'must be a directory of its own, at least two levels deep (such as /etc/nginx/outrigger)');
  for (const f of ['testCommand', 'reloadCommand'] as const) {
    if (s[f].length === 0 || s[f].length > 16 || !s[f].every((a) => ARGUMENT.test(a))) {
      throw bad(f, 'must be a program and up to 15 arguments of A-Z a-z 0-9 and _ . / = : , + @ % -');
    }
  }
  if (!Number.isInteger(s.statusPort) || s.statusPort < 1 || s.statusPort > 65535) throw bad('statusPort', 'must be a port from 1 to 65535');
  if (s.workerGroup !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(s.workerGroup)) throw bad('workerGroup', 'must be a POSIX group name');
  return s;
}

/** The argv to run on the host for test or reload: sudo prefix and the main config file. */
export function commandFor(s: NginxHostSettings, which: 'test' | 'reload'): string[] {
  const base = which === 'test' ? s.testCommand : s.reloadCommand;
  // -c matters only to an nginx binary; a wrapper command (systemctl reload nginx) gets it as given.
  const isNginx = /(^|\/)nginx$/.test(base[0]!);
  const argv = isNginx && !base.includes('-c') ? [...base, '-c', s.mainConfigFile] : [...base];
  return s.sudo ? ['sudo', '-n', ...argv] : argv;
}

/** Settings from a Host's spec.nginx (defaults already applied by the schema). */
export function settingsFromHostSpec(nginx: {
  configDir: string; mainConfigFile: string; errorLogFile: string; testCommand: string[]; reloadCommand: string[]; sudo: boolean;
  statusPort?: number; workerGroup?: string; listenIPv6?: boolean;
}): NginxHostSettings {
  return checkSettings({
    configDir: nginx.configDir,
    mainConfigFile: nginx.mainConfigFile,
    errorLogFile: nginx.errorLogFile,
    testCommand: [...nginx.testCommand],
    reloadCommand: [...nginx.reloadCommand],
    sudo: nginx.sudo,
    statusPort: nginx.statusPort ?? DEFAULT_STATUS_PORT,
    ...(nginx.workerGroup ? { workerGroup: nginx.workerGroup } : {}),
    ...(nginx.listenIPv6 ? { listenIPv6: true } : {}),
    resolvConf: '/etc/resolv.conf',
  });
}
