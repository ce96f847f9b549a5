// Turning what dockerode throws into Outrigger's error catalog: a stable code, a message saying what
// to fix, the original as cause. Messages name the engine and the object, never request bodies
// (which may hold secret env values) and never TLS material.
import { OutriggerError, TerminalError } from '../../controller/errors.ts';
import { defineReasons } from '../../controller/reasons.ts';
import { ErrorCodes } from '../common/reasons.ts';

/** Docker-specific codes next to the shared catalog's. */
export const DockerReasons = defineReasons('docker', {
  ImageNotFound: 'The image is not on the engine and could not be pulled: build or load it there, or fix spec.image',
  PortInUse: 'A fixed host port is already taken on the engine: choose another hostPort',
  Timeout: 'The engine answered, but the call took longer than allowed; retried',
});

/** Docker-specific codes next to the shared catalog's. */
export const DockerErrorCodes = { ...ErrorCodes, ...DockerReasons } as const;

interface DockerodeError extends Error {
  statusCode?: number;
  reason?: string;
  json?: { message?: string } | Buffer | null;
  code?: string;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EACCES',
  'ENOTFOUND', 'EAI_AGAIN', 'ERR_SOCKET_CLOSED', 'ECONNABORTED',
]);

export function statusCodeOf(err: unknown): number | undefined {
  return (err as DockerodeError | undefined)?.statusCode;
}

export function isNotFound(err: unknown): boolean {
  return statusCodeOf(err) === 404;
}

const NAME_IN_USE = /name .* is already in use|that name is already in use/i;

/**
 * The name is taken (409). Podman's Docker API answers a duplicate container name with a 500 whose
 * message says "that name is already in use" instead.
 */
export function isConflict(err: unknown): boolean {
  const status = statusCodeOf(err);
  return status === 409 || (status === 500 && NAME_IN_USE.test(engineMessage(err)));
}

/** "Not modified": start of a running or stop of a stopped container. */
export function isNotModified(err: unknown): boolean {
  return statusCodeOf(err) === 304;
}

/** The engine's own message, without dockerode's "(HTTP code 404) no such container -" prefix. */
export function engineMessage(err: unknown): string {
  const e = err as DockerodeError | undefined;
  const json = e?.json;
  if (json && !Buffer.isBuffer(json) && typeof json.message === 'string') return json.message.trim();
  return (e?.message ?? String(err)).replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '').trim();
}

function isConnectionError(err: DockerodeError): boolean {
  if (err.code && CONNECTION_CODES.has(err.code)) return true;
  if (err.code?.startsWith('ERR_TLS') || err.code?.startsWith('ERR_SSL') || err.code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
      err.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || err.code === 'SELF_SIGNED_CERT_IN_CHAIN' || err.code === 'CERT_HAS_EXPIRED') {
    return true;
  }
  return /socket hang up|connect|certificate|handshake/i.test(err.message ?? '') && err.statusCode === undefined;
}

/**
 * Wraps any error from a Docker call. `engine` describes where (never with credentials); `what`
 * says which operation on which object ("create container outrigger-ns-ws-1234").
 */
export function dockerError(err: unknown, engine: string, what: string): OutriggerError {
  if (err instanceof OutriggerError) return err;
  const e = (err ?? {}) as DockerodeError;
  if (e.name === 'AbortError' || e.name === 'TimeoutError') {
    return new OutriggerError(DockerErrorCodes.Timeout, `${what} on ${engine}: the Docker engine did not answer in time`, { cause: err });
  }
  if (e.statusCode === undefined && isConnectionError(e)) {
    const detail = e.code ? ` (${e.code})` : '';
    return new OutriggerError(DockerErrorCodes.Unreachable, `cannot reach the Docker engine ${engine}${detail}: check that it runs and that the Host's connection settings are right`, { cause: err });
  }
  const message = engineMessage(err);
  if (e.statusCode === 404 && /no such image|manifest unknown|pull access denied|not found: manifest/i.test(message)) {
    return new OutriggerError(DockerErrorCodes.ImageNotFound, `${what} on ${engine}: ${message}`, { cause: err });
  }
  if (isConflict(e)) return new OutriggerError(DockerErrorCodes.Conflict, `${what} on ${engine}: ${message}`, { cause: err });
  if (/error setting rlimit/i.test(message)) {
    // Podman asks for 1048576 open files and processes by default; where the machine's hard limits
    // are lower, the runtime refuses to start the container.
    return new OutriggerError(
      DockerErrorCodes.ExternalError,
      `${what} on ${engine}: ${message}; set spec.docker.ulimits on the Host (nofile and nproc, both) within the machine's hard limits (ulimit -Hn, ulimit -Hu)`,
      { cause: err },
    );
  }
  if (/port is already allocated|address already in use/i.test(message)) {
    return new OutriggerError(DockerErrorCodes.PortInUse, `${what} on ${engine}: ${message}; choose another hostPort or leave it unset`, { cause: err });
  }
  const limit = resourceRefusal(message);
  if (e.statusCode !== undefined && e.statusCode < 500 && limit) {
    // The engine refuses a value only the user can change: retrying cannot help.
    return new TerminalError(DockerErrorCodes.InvalidSpec, `${limit.field}: the Docker engine ${engine} refused it (${message}); ${limit.fix}`, { cause: err, field: limit.field });
  }
  return new OutriggerError(DockerErrorCodes.ExternalError, `${what} on ${engine}: ${message}`, { cause: err });
}

/** Engine refusals of resource values (more CPUs than the machine has, too little memory). */
function resourceRefusal(message: string): { field: string; fix: string } | undefined {
  if (/range of cpus|nanocpus|cpu.*(only|available)/i.test(message)) {
    return { field: 'spec.resources.cpu', fix: 'ask for at most the CPUs that engine\'s machine has' };
  }
  if (/minimum memory limit|memory limit.*(too low|should be)/i.test(message)) return { field: 'spec.resources.memory', fix: 'ask for more memory' };
  return undefined;
}
