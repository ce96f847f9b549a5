// The compacted state: one lowdb JSON file holding every object and the resourceVersion it is
// current to. lowdb's stock adapter renames a temp file without fsync, so a crash can leave an
// empty file; this adapter fsyncs the temp file and the directory around the rename. A checksum
// over the objects catches damage that still parses as JSON.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { fsyncDir } from './journal.ts';
import { StateCorruptedError } from './errors.ts';

export const SNAPSHOT_FORMAT = 'outrigger.dev/embedded-state/v1';

/** resource -> key -> object */
export type ObjectTable = Record<string, Record<string, Record<string, unknown>>>;

export interface SnapshotData {
  format: string;
  /** Every change up to and including this resourceVersion is in `objects`. */
  resourceVersion: number;
  savedAt: string;
  /** `sha256:<hex>` of JSON.stringify(objects). */
  checksum: string;
  objects: ObjectTable;
}

export function checksumOf(objectsJson: string): string {
  return `sha256:${createHash('sha256').update(objectsJson).digest('hex')}`;
}

/**
 * A lowdb adapter that writes durably and refuses damaged files. It writes a pre-serialized
 * document so the (potentially large) stringify happens once, where the caller chooses.
 */
export class DurableJsonFile implements Adapter<SnapshotData> {
  readonly path: string;
  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<SnapshotData | null> {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return parseSnapshot(this.path, text);
  }

  async write(data: SnapshotData): Promise<void> {
    await writeDurably(this.path, serializeSnapshot(data));
  }
}

export function serializeSnapshot(data: SnapshotData): string {
  // Assembled by hand so the checksummed objects text is exactly what lands in the file.
  const objectsJson = JSON.stringify(data.objects);
  const head = JSON.stringify({
    format: data.format,
    resourceVersion: data.resourceVersion,
    savedAt: data.savedAt,
    checksum: checksumOf(objectsJson),
  });
  return `${head.slice(0, -1)},"objects":${objectsJson}}\n`;
}

export function parseSnapshot(path: string, text: string): SnapshotData {
  if (text.trim() === '') throw new StateCorruptedError(path, 'the file is empty');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new StateCorruptedError(path, `not valid JSON (${(err as Error).message})`);
  }
  const data = parsed as Partial<SnapshotData>;
  if (!data || typeof data !== 'object' || data.format !== SNAPSHOT_FORMAT) {
    throw new StateCorruptedError(path, `unknown format ${JSON.stringify(data?.format)} (want ${SNAPSHOT_FORMAT})`);
  }
  if (typeof data.resourceVersion !== 'number' || !data.objects || typeof data.objects !== 'object') {
    throw new StateCorruptedError(path, 'resourceVersion or objects missing');
  }
  const actual = checksumOf(JSON.stringify(data.objects));
  if (actual !== data.checksum) {
    throw new StateCorruptedError(path, `checksum mismatch (file says ${data.checksum}, content is ${actual})`);
  }
  return data as SnapshotData;
}

/** Write to a temp file, fsync it, rename over the target, fsync the directory. */
export async function writeDurably(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp`);
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  fsyncDir(dir);
}

export function openSnapshotDb(path: string): Low<SnapshotData> {
  return new Low<SnapshotData>(new DurableJsonFile(path), {
    format: SNAPSHOT_FORMAT,
    resourceVersion: 0,
    savedAt: new Date(0).toISOString(),
    checksum: checksumOf('{}'),
    objects: {},
  });
}
