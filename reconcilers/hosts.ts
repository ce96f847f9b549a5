// From a Host object to live connections: the pooled SSH connection (key from its Secret, pinned
// host key) and the Docker engine (unix socket, TCP with TLS from a Secret, or a stream through
// the SSH connection). Also resolves references to Hosts with errors that name the field.
import { TerminalError, type Informer } from '../controller/index.ts';
import { ErrorCodes } from './common/reasons.ts';
import { WaitingForReferent } from './common/waiting.ts';
import { parseDuration, type Host } from '../crds/index.ts';
import type { SecretReader } from './common/secrets.ts';
import { hostEngineConnection, type Engine, type EngineRegistry } from './docker/index.ts';
import type { SshConnection, SshPool } from './ssh/index.ts';

export class HostConnections {
  private readonly secrets: SecretReader;
  private readonly sshPool: SshPool;
  private readonly engines: EngineRegistry;

  constructor(opts: { secrets: SecretReader; sshPool: SshPool; engines: EngineRegistry }) {
    this.secrets = opts.secrets;
    this.sshPool = opts.sshPool;
    this.engines = opts.engines;
  }

  /** The shared SSH connection to the Host. */
  ssh(host: Host): SshConnection {
    const ssh = host.spec.ssh;
    const where = hostName(host);
    if (!ssh) throw new TerminalError(ErrorCodes.InvalidSpec, `Host ${where} has no spec.ssh: add it to reach the host over SSH`, { field: 'spec.ssh' });
    if (!host.spec.address) throw new TerminalError(ErrorCodes.InvalidSpec, `Host ${where}: spec.address is required for SSH`, { field: 'spec.address' });
    const namespace = host.metadata.namespace ?? 'default';
    const privateKey = this.secrets.value(namespace, ssh.privateKeySecretRef, `Host ${where} spec.ssh.privateKeySecretRef`);
    const passphrase = ssh.passphraseSecretRef ? this.secrets.text(namespace, ssh.passphraseSecretRef, `Host ${where} spec.ssh.passphraseSecretRef`) : undefined;
    return this.sshPool.connection({ host: host.spec.address, port: ssh.port ?? 22, username: ssh.user, privateKey, passphrase, hostKey: ssh.hostKey, owner: host.metadata.uid ?? where });
  }

  /** The Docker engine of the Host, one per Host and reused while its settings are unchanged. */
  engine(host: Host): Engine {
    const docker = host.spec.docker;
    const namespace = host.metadata.namespace ?? 'default';
    const where = hostName(host);
    const tls = docker?.tcp
      ? (() => {
          const secret = this.secrets.secret(namespace, docker.tcp.tlsSecretRef.name, `Host ${where} spec.docker.tcp.tlsSecretRef`);
          const field = `Host ${where} spec.docker.tcp.tlsSecretRef`;
          const key = (k: string) => this.secrets.text(namespace, { name: secret.metadata.name ?? '', key: k }, field);
          return { ca: key('ca.crt'), cert: key('tls.crt'), key: key('tls.key') };
        })()
      : undefined;
    const connectStream = docker?.ssh ? (socketPath: string) => this.ssh(host).openUnixStream(socketPath) : undefined;
    return this.engines.get(host.metadata.uid ?? where, hostEngineConnection(host, { tls, connectStream }));
  }

  /** Drops cached connections of a Host that was deleted. */
  release(host: Host): void {
    if (host.metadata.uid) this.engines.release(host.metadata.uid);
    if (host.spec.ssh && host.spec.address) this.sshPool.release({ username: host.spec.ssh.user, host: host.spec.address, port: host.spec.ssh.port ?? 22, owner: host.metadata.uid ?? hostName(host) });
  }
}

/** The Host a resource refers to, from the informer cache; `field` names the reference for the message. */
export function resolveHost(hosts: Informer<Host>, namespace: string, name: string, field: string): Host {
  const host = hosts.get(`${namespace}/${name}`);
  if (!host) {
    throw new WaitingForReferent(ErrorCodes.ReferenceNotFound, { kind: 'Host', namespace, name }, `${field}: Host "${name}" not found in namespace "${namespace}"; create it or fix the reference`, { field });
  }
  return host;
}

export function hostName(host: Host): string {
  return `${host.metadata.namespace ?? ''}/${host.metadata.name ?? ''}`;
}

export function sshConnectTimeoutMs(host: Host): number {
  return host.spec.ssh?.connectTimeout ? parseDuration(host.spec.ssh.connectTimeout) : 10_000;
}
