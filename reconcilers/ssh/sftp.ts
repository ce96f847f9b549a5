// Files on a host through the connection's one SFTP session. Writes are atomic (a temporary file in
// the same directory, created with its final mode, flushed, then renamed over the target), so nginx
// or a reader never sees half a file and a key is never readable by others, not even briefly.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { SFTPWrapper, Stats } from 'ssh2';
import { OutriggerError } from '../../controller/errors.ts';
import { defineReasons } from '../../controller/reasons.ts';
import { deadline, raceDeadline, type Deadline, type OperationOptions } from './deadline.ts';
import type { SshCounters } from './counters.ts';


const NO_SUCH_FILE = 2;

export const SftpErrorCodes = defineReasons('ssh', {
  FileError: { reason: 'SshFileError', meaning: 'Reading or writing a file on the host over SFTP failed' },
  InvalidPath: { reason: 'SshInvalidPath', meaning: 'A remote path was refused: it must be absolute and normalised' },
});

export interface FileStat {
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  /** Permission bits only (e.g. 0o600). */
  mode: number;
  mtimeMs: number;
}

export interface WriteOptions extends OperationOptions {
  /** Permission bits of the written file, e.g. 0o600 for private keys. */
  mode: number;
  /** Numeric group to give the file (e.g. the group nginx workers run as, for 0640 files they read). */
  group?: number;
}

interface SftpFilesDeps {
  address: string;
  count(what: keyof SshCounters, n?: number): void;
  defaultTimeoutMs: number;
  session(d: Deadline): Promise<SFTPWrapper>;
}

/** Remote paths must be absolute and normalised: no `..`, no `//`, no control characters. */
export function assertRemotePath(path: string): void {
  const ok = path.startsWith('/') && posix.normalize(path) === path && !/[\u0000-\u001f\u007f]/.test(path) &&
    !path.split('/').includes('..') && (path === '/' || !path.endsWith('/'));
  if (!ok) throw new OutriggerError(SftpErrorCodes.InvalidPath, `refusing remote path ${JSON.stringify(path.slice(0, 200))}: it must be absolute and normalised`);
}

function toStat(s: Stats): FileStat {
  const type = s.isFile() ? 'file' : s.isDirectory() ? 'directory' : s.isSymbolicLink() ? 'symlink' : 'other';
  return { type, size: s.size, mode: s.mode & 0o7777, mtimeMs: s.mtime * 1000 };
}

function isMissing(err: unknown): boolean {
  return (err as { code?: unknown })?.code === NO_SUCH_FILE;
}

export class SftpFiles {
  private readonly deps: SftpFilesDeps;

  constructor(deps: SftpFilesDeps) {
    this.deps = deps;
  }

  /** The file's bytes, or null when it does not exist. */
  async readFile(path: string, opts: OperationOptions = {}): Promise<Buffer | null> {
    assertRemotePath(path);
    const d = this.deadline(opts);
    try {
      return await this.call<Buffer>(d, 'reading', path, (sftp, cb) => sftp.readFile(path, cb));
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.wrap(err, 'reading', path);
    }
  }

  /** Reads from byte `start` to the end (for following a log), or null when missing. */
  async readFrom(path: string, start: number, opts: OperationOptions = {}): Promise<Buffer | null> {
    assertRemotePath(path);
    const d = this.deadline(opts);
    let handle: Buffer;
    try {
      handle = await this.call<Buffer>(d, 'opening', path, (sftp, cb) => sftp.open(path, 'r', cb));
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.wrap(err, 'opening', path);
    }
    try {
      const chunks: Buffer[] = [];
      let position = start;
      for (let i = 0; i < 1024; i++) { // bounded: at most 1024 reads of 64 KiB
        const buf = Buffer.alloc(64 * 1024);
        const n = await this.call<number>(d, 'reading', path, (sftp, cb) =>
          sftp.read(handle, buf, 0, buf.length, position, (err, bytesRead) => cb(err, bytesRead)))
          .catch((err: { code?: number }) => (err?.code === 1 /* EOF */ ? 0 : Promise.reject(err)));
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
        position += n;
      }
      return Buffer.concat(chunks);
    } catch (err) {
      throw this.wrap(err, 'reading', path);
    } finally {
      await this.call(d, 'closing', path, (sftp, cb) => sftp.close(handle, cb)).catch(() => {});
    }
  }

  /** Writes a whole file atomically with the given mode. */
  async writeFileAtomic(path: string, data: string | Buffer, opts: WriteOptions): Promise<void> {
    assertRemotePath(path);
    const d = this.deadline(opts);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const temp = posix.join(posix.dirname(path), `.${posix.basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
    let handle: Buffer | undefined;
    try {
      // Created with the final mode: a key is never readable by others, not even before the chmod.
      handle = await this.call<Buffer>(d, 'creating', temp, (sftp, cb) => sftp.open(temp, 'wx', { mode: opts.mode }, cb));
      const h = handle;
      if (bytes.length > 0) await this.call(d, 'writing', temp, (sftp, cb) => sftp.write(h, bytes, 0, bytes.length, 0, cb));
      // The umask may have narrowed the mode at creation; set it exactly.
      if (opts.group !== undefined) {
        const group = opts.group;
        const st = await this.call<Stats>(d, 'inspecting', temp, (sftp, cb) => sftp.fstat(h, cb));
        await this.call(d, 'setting the group of', temp, (sftp, cb) => sftp.fchown(h, st.uid, group, cb));
      }
      await this.call(d, 'setting the mode of', temp, (sftp, cb) => sftp.fchmod(h, opts.mode, cb));
      await this.call(d, 'flushing', temp, (sftp, cb) => sftp.ext_openssh_fsync(h, (err) => cb(err)));
      await this.call(d, 'closing', temp, (sftp, cb) => sftp.close(h, cb));
      handle = undefined;
      await this.call(d, 'renaming', temp, (sftp, cb) => sftp.ext_openssh_rename(temp, path, cb));
      this.deps.count('filesWritten');
      this.deps.count('bytesWritten', bytes.length);
    } catch (err) {
      const h = handle;
      if (h) await this.call(d, 'closing', temp, (sftp, cb) => sftp.close(h, cb)).catch(() => {});
      await this.unlinkQuietly(temp);
      throw this.wrap(err, 'writing', path);
    }
  }

  /** Removes a file; a missing file is success. Returns whether something was removed. */
  async unlink(path: string, opts: OperationOptions = {}): Promise<boolean> {
    assertRemotePath(path);
    try {
      await this.call(this.deadline(opts), 'removing', path, (sftp, cb) => sftp.unlink(path, cb));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw this.wrap(err, 'removing', path);
    }
  }

  /** Removes an empty directory; a missing one is success. */
  async rmdir(path: string, opts: OperationOptions = {}): Promise<void> {
    assertRemotePath(path);
    try {
      await this.call(this.deadline(opts), 'removing directory', path, (sftp, cb) => sftp.rmdir(path, cb));
    } catch (err) {
      if (!isMissing(err)) throw this.wrap(err, 'removing directory', path);
    }
  }

  async lstat(path: string, opts: OperationOptions = {}): Promise<FileStat | null> {
    assertRemotePath(path);
    try {
      return toStat(await this.call<Stats>(this.deadline(opts), 'inspecting', path, (sftp, cb) => sftp.lstat(path, cb)));
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.wrap(err, 'inspecting', path);
    }
  }

  /** Creates the directory and its parents (like mkdir -p) with the given mode for new ones. */
  async mkdirp(path: string, opts: OperationOptions & { mode?: number } = {}): Promise<void> {
    assertRemotePath(path);
    const d = this.deadline(opts);
    const existing = await this.lstat(path, { signal: d.signal });
    if (existing?.type === 'directory') return;
    if (existing) throw new OutriggerError(SftpErrorCodes.FileError, `${path} on ${this.deps.address} exists and is not a directory`);
    const parent = posix.dirname(path);
    if (parent !== path) await this.mkdirp(parent, { ...opts, signal: d.signal });
    try {
      await this.call(d, 'creating directory', path, (sftp, cb) => sftp.mkdir(path, { mode: opts.mode ?? 0o755 }, cb));
    } catch (err) {
      // Lost a race with another creator: fine if it is a directory now.
      if ((await this.lstat(path, { signal: d.signal }))?.type !== 'directory') throw this.wrap(err, 'creating directory', path);
    }
  }

  /** Entry names in a directory, or null when it does not exist. */
  async readdir(path: string, opts: OperationOptions = {}): Promise<Array<{ name: string; stat: FileStat }> | null> {
    assertRemotePath(path);
    try {
      const entries = await this.call<Array<{ filename: string; attrs: Stats }>>(this.deadline(opts), 'listing', path, (sftp, cb) => sftp.readdir(path, cb));
      return entries.map((e) => ({ name: e.filename, stat: toStat(e.attrs) })).sort((a, b) => a.name.localeCompare(b.name));
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.wrap(err, 'listing', path);
    }
  }

  /** A symlink's target, or null when the link does not exist. */
  async readlink(path: string, opts: OperationOptions = {}): Promise<string | null> {
    assertRemotePath(path);
    try {
      return await this.call<string>(this.deadline(opts), 'reading link', path, (sftp, cb) => sftp.readlink(path, cb));
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.wrap(err, 'reading link', path);
    }
  }

  /** Points linkPath at target atomically: a new link under a temporary name renamed over the old. */
  async symlinkAtomic(target: string, linkPath: string, opts: OperationOptions = {}): Promise<void> {
    assertRemotePath(linkPath);
    if (/[\u0000-\u001f\u007f]/.test(target) || target.split('/').includes('..')) {
      throw new OutriggerError(SftpErrorCodes.InvalidPath, `refusing symlink target ${JSON.stringify(target.slice(0, 200))}`);
    }
    const d = this.deadline(opts);
    const temp = posix.join(posix.dirname(linkPath), `.${posix.basename(linkPath)}.tmp-${randomBytes(6).toString('hex')}`);
    try {
      await this.call(d, 'linking', temp, (sftp, cb) => sftp.symlink(target, temp, cb));
      await this.call(d, 'renaming', temp, (sftp, cb) => sftp.ext_openssh_rename(temp, linkPath, cb));
    } catch (err) {
      await this.unlinkQuietly(temp);
      throw this.wrap(err, 'linking', linkPath);
    }
  }

  /** Renames, replacing the destination atomically (POSIX rename semantics). */
  async rename(from: string, to: string, opts: OperationOptions = {}): Promise<void> {
    assertRemotePath(from);
    assertRemotePath(to);
    try {
      await this.call(this.deadline(opts), 'renaming', from, (sftp, cb) => sftp.ext_openssh_rename(from, to, cb));
    } catch (err) {
      throw this.wrap(err, 'renaming', from);
    }
  }

  // ---- plumbing ------------------------------------------------------------------------------------

  private deadline(opts: OperationOptions): Deadline {
    return deadline(opts, this.deps.defaultTimeoutMs);
  }

  private async call<T = void>(d: Deadline, verb: string, path: string, fn: (sftp: SFTPWrapper, cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    const sftp = await this.deps.session(d);
    this.deps.count('sftpOperations');
    const work = new Promise<T>((resolve, reject) => {
      fn(sftp, (err, value) => (err ? reject(err) : resolve(value as T)));
    });
    return raceDeadline(d, `${verb} ${path} on ${this.deps.address}`, work);
  }

  private async unlinkQuietly(path: string): Promise<void> {
    await this.call(this.deadline({ timeoutMs: 5_000 }), 'removing', path, (sftp, cb) => sftp.unlink(path, cb)).catch(() => {});
  }

  private wrap(err: unknown, verb: string, path: string): Error {
    if (err instanceof OutriggerError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new OutriggerError(SftpErrorCodes.FileError, `${verb} ${path} on ${this.deps.address} failed: ${message}`, { cause: err });
  }
}
