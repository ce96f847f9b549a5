// errorRate: the share of 5xx responses over a window, from the access log nginx writes for each
// route (`$msec $status` lines, reconcilers/nginx/render.ts), read over the Host's pooled SSH
// connection incrementally: one stat and one read from the last offset per evaluation, never the
// whole file. The first read of a file takes only its last MAX_FIRST_READ bytes (enough for a
// window, not the file's whole history). A file shorter than the offset was truncated or rotated:
// it is read again from the start. Counts are kept per second for the window, in memory.

export interface LogFiles {
  lstat(path: string, opts?: { signal?: AbortSignal }): Promise<{ size: number } | null>;
  readFrom(path: string, start: number, opts?: { signal?: AbortSignal }): Promise<Buffer | null>;
}

export const MAX_FIRST_READ = 1024 * 1024;
/** At most this much is read per evaluation; a log growing faster is caught up over several. */
export const MAX_READ = 8 * 1024 * 1024;

export interface RateWindow {
  total: number;
  errors: number;
}

export class AccessLogFollower {
  offset: number | undefined;
  /** unix second -> [total, 5xx] */
  private readonly buckets = new Map<number, [number, number]>();
  private partial = '';
  bytesRead = 0;

  /** Reads what was appended since the last poll. Returns false when the file does not exist. */
  async poll(files: LogFiles, path: string, signal?: AbortSignal): Promise<boolean> {
    const stat = await files.lstat(path, { signal });
    if (!stat) {
      this.offset = 0;
      this.partial = '';
      return false;
    }
    let start: number;
    let skipFirstLine = false;
    if (this.offset === undefined) {
      start = Math.max(0, stat.size - MAX_FIRST_READ);
      skipFirstLine = start > 0;
    } else if (stat.size < this.offset) {
      start = 0; // truncated or rotated
      this.partial = '';
    } else {
      start = this.offset;
    }
    if (stat.size - start > MAX_READ) {
      start = stat.size - MAX_READ;
      skipFirstLine = true;
      this.partial = '';
    }
    if (stat.size === start) {
      this.offset = start;
      return true;
    }
    const data = await files.readFrom(path, start, { signal });
    if (!data) return false;
    this.bytesRead += data.length;
    this.offset = start + data.length;
    let text = this.partial + data.toString('latin1');
    if (skipFirstLine) text = text.slice(text.indexOf('\n') + 1);
    const last = text.lastIndexOf('\n');
    this.partial = last < 0 ? text : text.slice(last + 1);
    this.ingest(last < 0 ? '' : text.slice(0, last));
    return true;
  }

  ingest(lines: string): void {
    for (const line of lines.split('\n')) {
      const space = line.indexOf(' ');
      if (space < 0) continue;
      const second = Math.floor(Number(line.slice(0, space)));
      const status = Number(line.slice(space + 1, space + 4));
      if (!Number.isFinite(second) || !Number.isInteger(status)) continue;
      const b = this.buckets.get(second) ?? [0, 0];
      b[0] += 1;
      if (status >= 500 && status <= 599) b[1] += 1;
      this.buckets.set(second, b);
    }
  }

  /** Responses in (now - window, now]; older buckets are dropped. */
  rate(now: number, windowMs: number): RateWindow {
    const from = Math.floor((now - windowMs) / 1000);
    let total = 0;
    let errors = 0;
    for (const [second, [t, e]] of this.buckets) {
      if (second <= from) {
        this.buckets.delete(second);
        continue;
      }
      total += t;
      errors += e;
    }
    return { total, errors };
  }
}
