// Running a command inside a container and collecting its exit code and output (bootstrap scripts,
// activity probes), optionally feeding it stdin. Output is capped so a chatty command cannot
// exhaust memory. Stdin is how file contents reach the container: never on a command line.
import { Writable, type Duplex } from 'node:stream';
import { OutriggerError } from '../../controller/errors.ts';
import { raceAbort, type Engine } from './engine.ts';
import { DockerErrorCodes, dockerError } from './errors.ts';

export interface ExecOptions {
  user?: string;
  env?: Record<string, string>;
  workingDir?: string;
  /** Bytes written to the command's stdin, then closed. */
  stdin?: Buffer | string;
  /** Whole run, from create to exit code. Default 60 s. */
  timeoutMs?: number;
  /** Per stream; more output is dropped and `truncated` is set. Default 1 MiB. */
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

class CappedSink extends Writable {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  private readonly limit: number;

  constructor(limit: number) {
    super();
    this.limit = limit;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    const room = this.limit - this.size;
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.chunks.push(part);
      this.size += part.length;
    }
    if (chunk.length > room) this.truncated = true;
    done();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function waitForEnd(stream: Duplex | NodeJS.ReadableStream, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = stream as Duplex;
    const finish = (err?: unknown): void => {
      signal.removeEventListener('abort', onAbort);
      s.removeListener('end', onEnd);
      s.removeListener('close', onEnd);
      s.removeListener('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onEnd = (): void => finish();
    const onError = (err: Error): void => finish(err);
    const onAbort = (): void => {
      s.destroy();
      finish(signal.reason ?? new DOMException('aborted', 'AbortError'));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    s.once('end', onEnd);
    s.once('close', onEnd);
    s.once('error', onError);
  });
}

/**
 * Runs `cmd` (argv, never a shell string) in a running container. A non-zero exit code is a
 * result, not an error; errors are for an engine that cannot run it (container gone or stopped,
 * deadline passed). A command still running at the deadline keeps running: Docker cannot kill an exec.
 */
export async function execInContainer(engine: Engine, containerId: string, cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const what = `exec ${cmd[0] ?? ''} in container ${containerId.slice(0, 12)}`;
  const signal = engine.deadline(opts.signal, opts.timeoutMs ?? 60_000);
  const limit = opts.maxOutputBytes ?? 1024 * 1024;
  const withStdin = opts.stdin !== undefined;
  try {
    const exec = await raceAbort(engine.docker.getContainer(containerId).exec({
      Cmd: cmd,
      AttachStdin: withStdin,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      ...(opts.user ? { User: opts.user } : {}),
      ...(opts.workingDir ? { WorkingDir: opts.workingDir } : {}),
      ...(opts.env ? { Env: Object.entries(opts.env).map(([k, v]) => `${k}=${v}`) } : {}),
      abortSignal: signal,
    } as Parameters<ReturnType<Engine['docker']['getContainer']>['exec']>[0]), signal);
    const stream = (await raceAbort(exec.start({ hijack: withStdin, stdin: withStdin, Tty: false, abortSignal: signal } as object), signal)) as Duplex;
    const stdout = new CappedSink(limit);
    const stderr = new CappedSink(limit);
    engine.docker.modem.demuxStream(stream, stdout, stderr);
    const ended = waitForEnd(stream, signal);
    if (withStdin) {
      stream.write(opts.stdin);
      stream.end(); // half-close: the command sees end of input, its output keeps flowing
    }
    await ended;
    // The exit code is recorded as the process ends; the stream can close a moment earlier.
    for (let attempt = 0; attempt < 50; attempt++) {
      const info = await raceAbort(exec.inspect({ abortSignal: signal } as object), signal);
      if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) {
        return { exitCode: info.ExitCode, stdout: stdout.text(), stderr: stderr.text(), truncated: stdout.truncated || stderr.truncated };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new OutriggerError(DockerErrorCodes.ExternalError, `${what} on ${engine.description}: the engine reported no exit code`);
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? err;
    throw dockerError(err, engine.description, what);
  }
}
