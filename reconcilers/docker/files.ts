// Files from Secrets inside a running container. Their content lives only on Outrigger's tmpfs
// (RUNTIME_DIR): a file asked for elsewhere becomes a symbolic link to its tmpfs copy, so a secret
// never lands in the image layer or the home volume. Content travels over the exec's stdin, never
// on a command line, and never into a log or an error message. The tmpfs empties whenever the
// container stops, so files are placed again after every start.
import { createHash } from 'node:crypto';
import { OutriggerError, TerminalError } from '../../controller/errors.ts';
import { ErrorCodes } from '../common/reasons.ts';
import { RUNTIME_DIR } from './container-spec.ts';
import type { Engine } from './engine.ts';
import { execInContainer } from './exec.ts';

export interface ContainerFile {
  /** Absolute path inside the container. */
  path: string;
  content: Buffer | string;
  mode: number;
  uid: number;
  gid: number;
}

export const FILES_DIR = `${RUNTIME_DIR}/files`;

const SEGMENT = /^[A-Za-z0-9._@+-]+$/;
const FORBIDDEN_ROOTS = ['/proc', '/sys', '/dev'];

/** Throws InvalidSpec (naming the field) for a path that must not be written. */
export function validateFilePath(path: string, field = 'path'): void {
  const segments = path.split('/');
  const ok = path.startsWith('/') && path.length <= 1024 && segments.slice(1).every((s) => SEGMENT.test(s) && s !== '.' && s !== '..');
  if (!ok || path === '/') {
    throw new TerminalError(ErrorCodes.InvalidSpec, `${field} must be an absolute path of plain characters (A-Z a-z 0-9 . _ @ + -) without "." or ".." segments`, { field });
  }
  if (FORBIDDEN_ROOTS.some((root) => path === root || path.startsWith(`${root}/`)) || path === RUNTIME_DIR || path === FILES_DIR) {
    throw new TerminalError(ErrorCodes.InvalidSpec, `${field} may not be under /proc, /sys or /dev, nor be ${RUNTIME_DIR} itself`, { field });
  }
}

/** Where the content of a file is kept: on the tmpfs, named by a digest of the requested path. */
export function tmpfsPathOf(path: string): string {
  if (path.startsWith(`${RUNTIME_DIR}/`)) return path;
  return `${FILES_DIR}/${createHash('sha256').update(path).digest('hex').slice(0, 20)}`;
}

/** Changes when any file's path, owner, mode or content changes. Kept in memory only. */
export function filesDigest(files: ContainerFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    h.update(`${f.path}\0${f.mode}\0${f.uid}\0${f.gid}\0`);
    h.update(createHash('sha256').update(f.content).digest());
  }
  return h.digest('hex');
}

// $1 tmpfs path, $2 link path (empty: none), $3 uid:gid, $4 octal mode. Content on stdin.
const WRITE_SCRIPT = [
  'set -eu',
  'umask 022',
  'mkdir -p "$(dirname "$1")"',
  'umask 077',
  'cat > "$1.new"',
  'chown "$3" "$1.new"',
  'chmod "$4" "$1.new"',
  'mv -f "$1.new" "$1"',
  'if [ -n "$2" ]; then',
  '  dir=$(dirname "$2")',
  '  if [ ! -d "$dir" ]; then umask 022; mkdir -p "$dir"; chown "$3" "$dir"; fi',
  '  ln -sfn "$1" "$2"',
  'fi',
].join('\n');

// $@: tmpfs paths to keep. Removes the content of files no longer asked for.
const PRUNE_SCRIPT = [
  'set -eu',
  `[ -d ${FILES_DIR} ] || exit 0`,
  `for f in ${FILES_DIR}/*; do`,
  '  [ -e "$f" ] || continue',
  '  keep=no',
  '  for k in "$@"; do [ "$f" = "$k" ] && keep=yes; done',
  '  [ "$keep" = yes ] || rm -f "$f"',
  'done',
].join('\n');

/** Writes every file (one exec each) and removes tmpfs copies of files no longer listed. */
export async function writeFiles(engine: Engine, containerId: string, files: ContainerFile[], signal?: AbortSignal): Promise<void> {
  for (const [i, f] of files.entries()) validateFilePath(f.path, `files[${i}].path`);
  for (const f of files) {
    const target = tmpfsPathOf(f.path);
    const link = target === f.path ? '' : f.path;
    const mode = (f.mode & 0o7777).toString(8).padStart(4, '0');
    const result = await execInContainer(engine, containerId, ['sh', '-c', WRITE_SCRIPT, 'outrigger-write', target, link, `${f.uid}:${f.gid}`, mode], {
      stdin: typeof f.content === 'string' ? Buffer.from(f.content) : f.content,
      user: '0',
      timeoutMs: 30_000,
      maxOutputBytes: 4096,
      ...(signal ? { signal } : {}),
    });
    if (result.exitCode !== 0) {
      // stderr comes from mkdir/chown/ln about paths, never from the content (it went to cat).
      throw new OutriggerError(ErrorCodes.ExternalError, `could not place file ${f.path} in container ${containerId.slice(0, 12)} (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 300)}`);
    }
  }
  const keep = files.map((f) => tmpfsPathOf(f.path)).filter((p) => p.startsWith(`${FILES_DIR}/`));
  const pruned = await execInContainer(engine, containerId, ['sh', '-c', PRUNE_SCRIPT, 'outrigger-prune', ...keep], {
    user: '0',
    timeoutMs: 30_000,
    maxOutputBytes: 4096,
    ...(signal ? { signal } : {}),
  });
  if (pruned.exitCode !== 0) {
    throw new OutriggerError(ErrorCodes.ExternalError, `could not remove old files in container ${containerId.slice(0, 12)} (exit ${pruned.exitCode}): ${pruned.stderr.trim().slice(0, 300)}`);
  }
}
