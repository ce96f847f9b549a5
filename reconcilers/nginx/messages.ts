// Reading what nginx says: which routes a `nginx -t` failure names (by their directory under
// <configDir>/routes/<key>/), warnings that concern a route's server names, and whether new error
// log lines after a reload report a failure.
import { posix } from 'node:path';

/** The message lines worth showing a user: nginx's [emerg]/[error]/[warn] lines, without the prefix. */
export function nginxMessage(output: string, max = 2000): string {
  const lines = output.split('\n')
    // "nginx: [emerg] ..." on the terminal, "2030/01/01 10:00:00 [emerg] 12#12: ..." via error_log.
    .map((l) => l.replace(/^nginx: /, '').replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '').replace(/^(\[\w+\]) \d+#\d+: /, '$1 ').trim())
    .filter((l) => /\[(emerg|alert|crit|error|warn)\]/.test(l));
  const text = (lines.length > 0 ? lines : output.split('\n').map((l) => l.trim()).filter(Boolean)).join('\n');
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/** Route keys whose files a failing test output names. */
export function routesNamed(output: string, configDir: string): string[] {
  const prefix = posix.join(configDir, 'routes') + '/';
  const keys = new Set<string>();
  for (const line of output.split('\n')) {
    if (!/\[(emerg|alert|crit|error)\]/.test(line)) continue;
    let at = line.indexOf(prefix);
    while (at >= 0) {
      const rest = line.slice(at + prefix.length);
      const key = rest.slice(0, rest.indexOf('/') >= 0 ? rest.indexOf('/') : rest.length);
      if (/^[a-z0-9.-]+_[a-z0-9.-]+$/.test(key)) keys.add(key);
      at = line.indexOf(prefix, at + prefix.length);
    }
  }
  return [...keys].sort();
}

/** Warnings from a passing test that mention one of these server names (e.g. conflicting server name). */
export function warningsFor(output: string, serverNames: readonly string[]): string[] {
  return output.split('\n')
    .filter((l) => l.includes('[warn]'))
    .map((l) => l.replace(/^nginx: /, '').trim())
    .filter((l) => serverNames.some((n) => l.includes(`"${n}"`)));
}

/** Error-log lines at emerg, alert or crit level: a reload that logged any of these did not take cleanly. */
export function severeLogLines(log: string): string[] {
  return log.split('\n').filter((l) => /\[(emerg|alert|crit)\]/.test(l)).map((l) => l.trim());
}
