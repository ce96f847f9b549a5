// Commands sent over SSH: a fixed program plus arguments, each argument validated and single-quoted
// for the remote POSIX shell. No caller ever hands us a shell string, so user text can only ever be
// one argument of a program the code chose.
import { OutriggerError } from '../../controller/errors.ts';

/** A program is an absolute path or a bare name of plain characters: no shell syntax at all. */
const PROGRAM = /^\/?[A-Za-z0-9_][A-Za-z0-9_.+\/-]*$/;

export const MAX_ARGUMENT_LENGTH = 64 * 1024;

export function validateArgv(argv: readonly string[]): void {
  const bad = (why: string) => new OutriggerError('InvalidCommand', `refusing to run a remote command: ${why}`);
  if (argv.length === 0) throw bad('empty argv');
  const program = argv[0]!;
  if (!PROGRAM.test(program) || program.includes('..')) {
    throw bad(`program must be a plain name or absolute path, got ${JSON.stringify(program.slice(0, 80))}`);
  }
  argv.forEach((arg, i) => {
    if (typeof arg !== 'string') throw bad(`argument ${i} is not a string`);
    if (arg.length > MAX_ARGUMENT_LENGTH) throw bad(`argument ${i} is longer than ${MAX_ARGUMENT_LENGTH} characters`);
    // Control characters are never needed in arguments and NUL cannot be passed at all.
    if (/[\u0000-\u001f\u007f]/.test(arg)) throw bad(`argument ${i} contains a control character`);
  });
}

/** POSIX single quoting: inside '...' nothing is special except the quote itself. */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_./=:,+@%-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command line the remote login shell runs for argv. */
export function commandLine(argv: readonly string[]): string {
  validateArgv(argv);
  return argv.map(shellQuote).join(' ');
}


/** sshd hands the whole command line to `sh -c` as one argument (Linux caps one at 128 KiB). */
const MAX_COMMAND_LINE = 96 * 1024;

/** `prefix + args` split into argv lists whose command lines each stay under that cap. */
export function commandChunks(prefix: readonly string[], args: readonly string[]): string[][] {
  const base = commandLine(prefix).length;
  const out: string[][] = [];
  let current: string[] = [];
  let length = base;
  for (const arg of args) {
    const quoted = shellQuote(arg).length + 1;
    if (current.length > 0 && length + quoted > MAX_COMMAND_LINE) {
      out.push([...prefix, ...current]);
      current = [];
      length = base;
    }
    current.push(arg);
    length += quoted;
  }
  if (current.length > 0) out.push([...prefix, ...current]);
  return out;
}
