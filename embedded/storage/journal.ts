// The write-ahead journal: append-only segment files of one record per line, each line carrying
// a CRC-32 of its JSON so a torn or flipped byte is caught on replay. The store appends whole
// batches with one write and one fdatasync (group commit); it acknowledges nothing before that.
//
// Line format: `<crc32 as 8 hex digits> <json>\n`.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { StateCorruptedError } from './errors.ts';

export interface JournalRecord {
  /** The global resourceVersion this change was given. */
  rv: number;
  op: 'put' | 'delete';
  /** Storage resource, e.g. `outrigger.dev/workspaces` or `core/secrets`. */
  resource: string;
  /** `namespace/name` or `name` for cluster-scoped objects. */
  key: string;
  obj?: Record<string, unknown>;
}

const SEGMENT_RE = /^journal-(\d{12})\.log$/;

export function segmentName(seq: number): string {
  return `journal-${String(seq).padStart(12, '0')}.log`;
}

export function encodeRecord(record: JournalRecord): string {
  const json = JSON.stringify(record);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** Journal segments in the directory, oldest first. */
export function listSegments(dir: string): { seq: number; path: string }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((n) => SEGMENT_RE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ seq: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.seq - b.seq);
}

export interface ReplayResult {
  records: JournalRecord[];
  /** Bytes of an incomplete final batch that was cut off (never acknowledged). */
  tornTailBytes: number;
  /** The segment that had the torn tail, to truncate before appending. */
  tornSegment?: string;
  tornOffset?: number;
}

/**
 * Reads every record. A damaged region at the very end of the newest segment is a batch whose
 * write was interrupted (its writers were never answered), so it is reported and dropped.
 * Damage anywhere else means acknowledged data is unreadable: that is refused, never skipped.
 */
export function replaySegments(segments: { path: string }[]): ReplayResult {
  const records: JournalRecord[] = [];
  const result: ReplayResult = { records, tornTailBytes: 0 };
  segments.forEach((segment, index) => {
    const isLast = index === segments.length - 1;
    const buf = readFileSync(segment.path);
    let offset = 0;
    let lineNo = 0;
    while (offset < buf.length) {
      lineNo++;
      const nl = buf.indexOf(0x0a, offset);
      const end = nl === -1 ? buf.length : nl;
      const line = buf.subarray(offset, end).toString('utf8');
      const record = nl === -1 ? undefined : decodeLine(line);
      if (!record) {
        // Only acceptable if nothing valid follows in this, the last, segment.
        const rest = buf.subarray(offset);
        if (isLast && !containsValidLine(rest)) {
          result.tornTailBytes = rest.length;
          result.tornSegment = segment.path;
          result.tornOffset = offset;
          return;
        }
        throw new StateCorruptedError(
          segment.path,
          `journal record ${lineNo} (byte offset ${offset}) is damaged (bad checksum or not JSON) and later records exist`,
        );
      }
      if (records.length && record.rv <= (records.at(-1)?.rv ?? 0)) {
        throw new StateCorruptedError(
          segment.path,
          `journal record ${lineNo} has resourceVersion ${record.rv}, not after ${records.at(-1)?.rv}`,
        );
      }
      records.push(record);
      offset = end + 1;
    }
  });
  return result;
}

function decodeLine(line: string): JournalRecord | undefined {
  if (line.length < 10 || line[8] !== ' ') return undefined;
  const json = line.slice(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) return undefined;
  try {
    const parsed = JSON.parse(json) as JournalRecord;
    if (typeof parsed.rv !== 'number' || typeof parsed.resource !== 'string' || typeof parsed.key !== 'string') {
      return undefined;
    }
    return parsed;
  } catch {
    return undefined;
  }
}

function containsValidLine(buf: Buffer): boolean {
  let offset = 0;
  while (offset < buf.length) {
    const nl = buf.indexOf(0x0a, offset);
    if (nl === -1) return false;
    if (decodeLine(buf.subarray(offset, nl).toString('utf8'))) return true;
    offset = nl + 1;
  }
  return false;
}

/** fsync a directory so a created, renamed or removed entry in it survives power loss. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** One open segment being appended to. */
export class JournalSegment {
  readonly path: string;
  readonly seq: number;
  #handle: FileHandle;
  #bytes: number;

  private constructor(path: string, seq: number, handle: FileHandle, bytes: number) {
    this.path = path;
    this.seq = seq;
    this.#handle = handle;
    this.#bytes = bytes;
  }

  static async open(dir: string, seq: number, truncateAt?: number): Promise<JournalSegment> {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, segmentName(seq));
    const handle = await open(path, 'a+', 0o600); // it holds Secrets: owner only
    if (truncateAt !== undefined) {
      await handle.truncate(truncateAt);
      await handle.datasync();
    }
    const { size } = await handle.stat();
    fsyncDir(dir);
    return new JournalSegment(path, seq, handle, size);
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Appends the text and makes it durable before resolving. */
  async append(text: string): Promise<void> {
    const buf = Buffer.from(text, 'utf8');
    let written = 0;
    while (written < buf.length) {
      const { bytesWritten } = await this.#handle.write(buf, written, buf.length - written);
      written += bytesWritten;
    }
    await this.#handle.datasync();
    this.#bytes += buf.length;
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}

export function removeSegments(paths: string[], dir: string): void {
  for (const p of paths) {
    try {
      unlinkSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  if (paths.length) fsyncDir(dir);
}
