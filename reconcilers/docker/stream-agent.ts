// An http.Agent whose connections are duplex streams handed over by a function, so dockerode can
// talk HTTP to a Docker socket that lives at the other end of anything: an SSH channel to a remote
// /var/run/docker.sock (streamlocal forwarding), or, in tests, a local stream.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export type ConnectStream = () => Promise<Duplex>;

function noop(): void {}

/** Node's HTTP client calls a few socket-only methods; a plain Duplex gets harmless stand-ins. */
function asSocket(stream: Duplex): Socket {
  const s = stream as unknown as Record<string, unknown>;
  for (const method of ['setKeepAlive', 'setNoDelay', 'setTimeout', 'ref', 'unref']) {
    if (typeof s[method] !== 'function') s[method] = () => stream;
  }
  if (typeof s.destroySoon !== 'function') s.destroySoon = () => stream.destroy();
  return stream as unknown as Socket;
}

export class StreamAgent extends http.Agent {
  private readonly connectStream: ConnectStream;
  private readonly connectTimeoutMs: number;
  private readonly open = new Set<Duplex>();
  private readonly pending = new Set<(err: Error) => void>();
  private destroyed = false;

  constructor(connectStream: ConnectStream, opts: http.AgentOptions & { connectTimeoutMs?: number } = {}) {
    const { connectTimeoutMs, ...agentOpts } = opts;
    super({ keepAlive: true, maxFreeSockets: 4, ...agentOpts });
    this.connectStream = connectStream;
    this.connectTimeoutMs = connectTimeoutMs ?? 30_000;
  }

  // Node accepts a callback form: the stream arrives asynchronously. A request waiting here does
  // not see its abort signal, so a stream that never comes fails after connectTimeoutMs.
  override createConnection(_options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | undefined {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.pending.delete(fail);
      callback?.(err, undefined as unknown as Duplex);
    };
    const timer = setTimeout(
      () => fail(Object.assign(new Error(`no connection to the engine within ${this.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })),
      this.connectTimeoutMs,
    );
    timer.unref?.();
    this.pending.add(fail);
    if (this.destroyed) fail(Object.assign(new Error('engine connection closed'), { code: 'ERR_SOCKET_CLOSED' }));
    this.connectStream().then(
      (stream) => {
        if (settled) {
          stream.destroy(); // too late: the request gave up
          return;
        }
        settled = true;
        clearTimeout(timer);
        this.pending.delete(fail);
        this.open.add(stream);
        stream.once('close', () => this.open.delete(stream));
        stream.on('error', noop); // surfaced through the request that owns the stream
        callback?.(null, asSocket(stream));
      },
      (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
    );
    return undefined;
  }

  override destroy(): void {
    this.destroyed = true;
    super.destroy();
    for (const fail of [...this.pending]) fail(Object.assign(new Error('engine connection closed'), { code: 'ERR_SOCKET_CLOSED' }));
    for (const stream of this.open) stream.destroy();
    this.open.clear();
  }
}
