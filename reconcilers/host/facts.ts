// Pure parsers for what a Host probe reads on the machine. Each returns undefined for output it does
// not recognise rather than guessing, and caps lengths to what the status schema allows.

const clip = (value: string, max: number): string => (value.length <= max ? value : value.slice(0, max));

/** PRETTY_NAME from /etc/os-release (or NAME VERSION when PRETTY_NAME is missing). */
export function parseOsRelease(text: string): string | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    // Values may be quoted with " or '; os-release allows shell-style escapes, which we drop.
    fields.set(m[1]!, m[2]!.replace(/^(["'])(.*)\1$/, '$2').replace(/\\(.)/g, '$1'));
  }
  const pretty = fields.get('PRETTY_NAME') ?? [fields.get('NAME'), fields.get('VERSION')].filter(Boolean).join(' ');
  const printable = pretty.replace(/[^\x20-\x7e]/g, '').trim();
  return printable ? clip(printable, 256) : undefined;
}

/** `uname -r -m` prints "<kernel release> <machine>". */
export function parseUname(text: string): { kernel?: string; architecture?: string } {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 2 || !parts.every((p) => /^[\x21-\x7e]+$/.test(p))) return {};
  return { kernel: clip(parts[0]!, 256), architecture: clip(parts[1]!, 64) };
}

/** MemTotal from /proc/meminfo, in bytes. */
export function parseMemTotal(text: string): number | undefined {
  const m = /^MemTotal:\s+(\d+)\s*kB$/m.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** `nproc` prints the number of CPUs available. */
export function parseCpus(text: string): number | undefined {
  const n = Number(text.trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** `nginx -v` prints "nginx version: nginx/1.22.1" (to stderr); other builds add a name after the slash. */
export function parseNginxVersion(text: string): string | undefined {
  const m = /nginx version: [A-Za-z-]+\/([0-9][0-9A-Za-z.+-]*)/.exec(text);
  return m ? clip(m[1]!, 64) : undefined;
}
