// One Docker engine connection: a dockerode client over a unix socket, TCP with mutual TLS, or a
// stream supplied by someone else (the SSH layer's channel to a remote socket). Every request is
// counted, every call gets a deadline, every failure becomes a catalogued error.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { inspect } from 'node:util';
import Dockerode from 'dockerode';
import { ApiCallCounter, countApiCalls } from './api-calls.ts';
import { dockerError } from './errors.ts';
import { StreamAgent, type ConnectStream } from './stream-agent.ts';
import { clockTimeout, realClock, type Clock } from '../../controller/clock.ts';

/** PEM strings, from a kubernetes.io/tls-style Secret (ca.crt, tls.crt, tls.key). */
export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

export type EngineConnection =
  | { type: 'unix'; socketPath: string }
  | { type: 'tcp'; host: string; port: number; tls: TlsMaterial }
  | {
      type: 'stream';
      /** Opens a fresh duplex stream to the engine's socket; called once per HTTP connection. */
      connectStream: ConnectStream;
      /** What identifies this route (such as "ssh://user@host:22/var/run/docker.sock"); part of the reuse key. */
      identity: string;
    };

/**
 * Settles with `work`, or rejects as soon as `signal` fires. dockerode passes the signal on to the
 * HTTP request, but a request still waiting for its connection (a stream hook that never answers)
 * ignores it; this makes every call honour its deadline regardless.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Changes whenever anything about the connection changes; TLS material enters only as a digest. */
export function connectionKey(connection: EngineConnection): string {
  switch (connection.type) {
    case 'unix':
      return sha256(`unix\0${connection.socketPath}`);
    case 'tcp':
      return sha256(`tcp\0${connection.host}\0${connection.port}\0${sha256(connection.tls.ca)}\0${sha256(connection.tls.cert)}\0${sha256(connection.tls.key)}`);
    case 'stream':
      return sha256(`stream\0${connection.identity}`);
  }
}

/** Where the engine is, for messages and logs: never credentials. */
export function describeConnection(connection: EngineConnection): string {
  switch (connection.type) {
    case 'unix':
      return `unix://${connection.socketPath}`;
    case 'tcp':
      return `tcp://${connection.host.includes(':') ? `[${connection.host}]` : connection.host}:${connection.port}`;
    case 'stream':
      return connection.identity;
  }
}

export interface EngineOptions {
  /** Deadline for one ordinary API call (not streams). Default 30 s. */
  callTimeoutMs?: number;
  counter?: ApiCallCounter;
  /** The clock call deadlines run on (tests drive it). */
  clock?: Clock;
}

/** Which engine answers the Docker API: Podman's differs from Docker's in a few places (see README). */
export type EngineFlavor = 'docker' | 'podman';

export class Engine {
  readonly docker: Dockerode;
  readonly calls: ApiCallCounter;
  readonly description: string;
  readonly key: string;
  readonly callTimeoutMs: number;
  private readonly agent: http.Agent;
  private closed = false;
  private flavorAnswer: Promise<EngineFlavor> | undefined;

  private readonly clock: Clock;

  constructor(connection: EngineConnection, opts: EngineOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.description = describeConnection(connection);
    this.key = connectionKey(connection);
    this.calls = opts.counter ?? new ApiCallCounter();
    this.callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    switch (connection.type) {
      case 'unix':
        this.agent = new http.Agent({ keepAlive: true });
        this.docker = new Dockerode({ socketPath: connection.socketPath, agent: this.agent } as Dockerode.DockerOptions);
        break;
      case 'tcp':
        this.agent = new https.Agent({
          keepAlive: true,
          ca: connection.tls.ca,
          cert: connection.tls.cert,
          key: connection.tls.key,
          // The engine's certificate must name the address we dial (Node checks it by default).
          ...(/^[0-9.]+$|:/.test(connection.host) ? {} : { servername: connection.host }),
        });
        this.docker = new Dockerode({ host: connection.host, port: connection.port, protocol: 'https', agent: this.agent } as Dockerode.DockerOptions);
        break;
      case 'stream':
        this.agent = new StreamAgent(connection.connectStream);
        // The host name is a placeholder: the agent supplies the connection, nothing is resolved.
        this.docker = new Dockerode({ host: 'docker.invalid', port: 80, protocol: 'http', agent: this.agent } as Dockerode.DockerOptions);
        break;
    }
    countApiCalls(this.docker, this.calls);
  }

  /** A signal that fires at the call deadline or when `signal` does. */
  deadline(signal?: AbortSignal, timeoutMs = this.callTimeoutMs): AbortSignal {
    const timeout = clockTimeout(this.clock, timeoutMs);
    return signal ? AbortSignal.any([signal, timeout]) : timeout;
  }

  /** Runs one Docker call with a deadline; failures become catalogued errors naming `what`. */
  async call<T>(what: string, fn: (abortSignal: AbortSignal) => Promise<T>, signal?: AbortSignal, timeoutMs?: number): Promise<T> {
    if (this.closed) throw dockerError(Object.assign(new Error('engine connection closed'), { code: 'ERR_SOCKET_CLOSED' }), this.description, what);
    const abortSignal = this.deadline(signal, timeoutMs);
    try {
      return await raceAbort(fn(abortSignal), abortSignal);
    } catch (err) {
      if (abortSignal.aborted && signal?.aborted) throw signal.reason ?? err;
      throw dockerError(err, this.description, what);
    }
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.call('ping', (abortSignal) => (this.docker as unknown as { ping(o: object): Promise<unknown> }).ping({ abortSignal }), signal);
  }

  /** Engine version facts for Host status. */
  async version(signal?: AbortSignal): Promise<{ version: string; apiVersion: string; os: string; arch: string }> {
    const v = await this.call('version', (abortSignal) => (this.docker as unknown as { version(o: object): Promise<Dockerode.DockerVersion> }).version({ abortSignal }), signal);
    return { version: v.Version, apiVersion: v.ApiVersion, os: v.Os, arch: v.Arch };
  }

  /**
   * Docker or Podman: Podman answers its own ping path (`/libpod/_ping`), Docker says 404. (The
   * version call would tell too, but Podman takes a second to answer it: it asks conmon and the
   * runtime for theirs.) Asked once per engine; a failed ask is asked again next time.
   */
  flavor(signal?: AbortSignal): Promise<EngineFlavor> {
    const modem = this.docker.modem as unknown as { dial(o: object, cb: (err: unknown, data: unknown) => void): void };
    const ping = (abortSignal: AbortSignal): Promise<EngineFlavor> =>
      new Promise((resolve, reject) => {
        modem.dial({ path: '/libpod/_ping', method: 'GET', statusCodes: { 200: true, 404: 'no libpod API' }, abortSignal }, (err) => {
          if (!err) resolve('podman');
          else if ((err as { statusCode?: number }).statusCode === 404) resolve('docker');
          else reject(err);
        });
      });
    this.flavorAnswer ??= this.call('ping /libpod', ping, signal).catch((err: unknown) => {
      this.flavorAnswer = undefined;
      throw err;
    });
    return this.flavorAnswer;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Drops idle connections and refuses further calls; streams in flight are destroyed. */
  close(): void {
    this.closed = true;
    this.agent.destroy();
  }
}

/**
 * docker-modem 5 formats every request's options with util.inspect(showHidden, depth: null) for a
 * debug line, whether debugging is on or not; the options carry the engine's keep-alive agent, and
 * inspecting it (every pooled socket, deeply) costs around 100 ms of CPU per Docker call once a few
 * dozen sockets are pooled. Giving the agent a one-word inspection removes that cost.
 */
export function cheapToInspect(engine: Engine): void {
  const agent = (engine.docker.modem as unknown as { agent?: object }).agent;
  if (agent && !Object.prototype.hasOwnProperty.call(agent, inspect.custom)) {
    Object.defineProperty(agent, inspect.custom, { value: () => '[docker engine agent]', enumerable: false });
  }
}
