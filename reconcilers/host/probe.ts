// One probe of one Host, through the same shared connections everything else uses: SSH (pinned host
// key verified before anything else), then facts read over it, `nginx -v` when spec.nginx is set,
// and the Docker engine's version when spec.docker is set. Failures of the machine are results, not
// exceptions: the caller turns them into conditions. Only a broken reference (a missing key Secret)
// throws, with a message naming the field.
import { errorCode, errorMessage, OutriggerError } from '../../controller/index.ts';
import { ErrorCodes } from '../common/reasons.ts';
import type { Host } from '../../crds/index.ts';
import type { HostConnections } from '../hosts.ts';
import { parseHostKey, type SshConnection } from '../ssh/index.ts';
import { parseCpus, parseMemTotal, parseNginxVersion, parseOsRelease, parseUname } from './facts.ts';
import { catalogedReason } from '../common/failure.ts';
import { redactSecrets } from '../common/secrets.ts';
import { NginxReasons } from '../nginx/reasons.ts';
import { HostReasons } from './reasons.ts';

export interface HostFacts {
  os?: string;
  kernel?: string;
  architecture?: string;
  cpus?: number;
  memoryBytes?: number;
  dockerVersion?: string;
  dockerApiVersion?: string;
  nginxVersion?: string;
}

export interface ProbeProblem {
  /** Stable code: Unreachable, HostKeyMismatch, SshAuthenticationFailed, NginxNotFound, DockerUnreachable, ... */
  code: string;
  message: string;
}

export interface ProbeResult {
  /** SSH answered (or, without SSH, the Docker engine did). */
  reachable: boolean;
  hostKeyFingerprint?: string;
  facts: HostFacts;
  /** Everything that keeps the Host from being Ready, most fundamental first. */
  problems: ProbeProblem[];
}

/** Codes that are about our settings or the reference, not about the machine: retrying cannot help. */
const REFERENCE_CODES = new Set<string>([ErrorCodes.SecretNotFound, ErrorCodes.SecretKeyMissing, ErrorCodes.InvalidSpec]);


function nginxBinary(host: Host): string {
  const first = host.spec.nginx?.testCommand[0];
  return first && /(^|\/)nginx$/.test(first) ? first : 'nginx';
}

async function sshFacts(conn: SshConnection, host: Host, signal: AbortSignal): Promise<{ facts: HostFacts; problems: ProbeProblem[] }> {
  const op = { timeoutMs: 15_000, signal };
  const text = async (p: Promise<Buffer | null>) => (await p)?.toString('utf8') ?? '';
  const out = async (argv: string[]) => {
    const r = await conn.exec(argv, op);
    return r.code === 0 ? r.stdout : '';
  };
  const [osRelease, uname, nproc, meminfo] = await Promise.all([
    text(conn.files.readFile('/etc/os-release', op)),
    out(['uname', '-r', '-m']),
    out(['nproc']),
    text(conn.files.readFile('/proc/meminfo', op)),
  ]);
  const facts: HostFacts = {
    ...(parseOsRelease(osRelease) ? { os: parseOsRelease(osRelease) } : {}),
    ...parseUname(uname),
    ...(parseCpus(nproc) ? { cpus: parseCpus(nproc) } : {}),
    ...(parseMemTotal(meminfo) ? { memoryBytes: parseMemTotal(meminfo) } : {}),
  };
  const problems: ProbeProblem[] = [];
  if (host.spec.nginx) {
    const binary = nginxBinary(host);
    const r = await conn.exec([binary, '-v'], op);
    const version = parseNginxVersion(`${r.stderr}\n${r.stdout}`);
    if (r.code === 0 && version) facts.nginxVersion = version;
    else {
      const said = `${r.stderr}${r.stdout}`.trim().split('\n')[0]?.slice(0, 200) || `exit code ${r.code}`;
      problems.push({ code: NginxReasons.NginxNotFound, message: `spec.nginx is set but "${binary} -v" failed on the host (${said}); install nginx or fix spec.nginx.testCommand` });
    }
  }
  return { facts, problems };
}

export async function probeHost(connections: HostConnections, host: Host, signal: AbortSignal): Promise<ProbeResult> {
  const result: ProbeResult = { reachable: false, facts: {}, problems: [] };
  if (host.spec.ssh) {
    // A malformed pinned key is the user's to fix; parseHostKey names the field.
    result.hostKeyFingerprint = parseHostKey(host.spec.ssh.hostKey, 'spec.ssh.hostKey').fingerprint;
    const conn = connections.ssh(host); // throws for a missing key Secret: a reference problem
    try {
      await conn.connect({ timeoutMs: 30_000, signal });
      result.reachable = true;
    } catch (err) {
      if (signal.aborted) throw err;
      result.problems.push({ code: catalogedReason(err), message: redactSecrets(errorMessage(err)) });
    }
    if (result.reachable) {
      try {
        const { facts, problems } = await sshFacts(conn, host, signal);
        Object.assign(result.facts, facts);
        result.problems.push(...problems);
      } catch (err) {
        if (signal.aborted) throw err;
        result.problems.push({ code: catalogedReason(err), message: `reading facts over SSH failed: ${redactSecrets(errorMessage(err))}` });
      }
    }
  }
  // Docker through SSH cannot answer when SSH did not.
  if (host.spec.docker && !(host.spec.docker.ssh && !result.reachable)) {
    try {
      const v = await connections.engine(host).version(signal);
      result.facts.dockerVersion = v.version.slice(0, 64);
      result.facts.dockerApiVersion = v.apiVersion.slice(0, 64);
      if (!host.spec.ssh) {
        result.reachable = true;
        if (v.arch) result.facts.architecture ??= v.arch.slice(0, 64);
      }
    } catch (err) {
      if (signal.aborted) throw err;
      if (REFERENCE_CODES.has(String(errorCode(err)))) throw err;
      const code = catalogedReason(err);
      result.problems.push({ code: code === ErrorCodes.Internal || code === ErrorCodes.ExternalError ? HostReasons.DockerUnreachable : code, message: `Docker engine: ${redactSecrets(errorMessage(err))}` });
    }
  }
  return result;
}

/** Reference problems (missing Secret, bad settings) are thrown; this tells them apart for callers. */
export function isReferenceProblem(err: unknown): boolean {
  return err instanceof OutriggerError && REFERENCE_CODES.has(String(err.code));
}
