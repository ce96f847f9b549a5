// From a Host's spec.docker to an EngineConnection. The caller reads the TLS Secret and, for
// docker.ssh, supplies the stream opener from the SSH layer (a channel to the remote socket).
import type { Host } from '../../crds/host.ts';
import { TerminalError } from '../../controller/errors.ts';
import { ErrorCodes } from '../common/reasons.ts';
import type { EngineConnection, TlsMaterial } from './engine.ts';
import type { ConnectStream } from './stream-agent.ts';

export interface HostConnectionInputs {
  /** ca.crt, tls.crt and tls.key of spec.docker.tcp.tlsSecretRef. */
  tls?: TlsMaterial;
  /** Opens a stream to spec.docker.ssh.socketPath over the Host's SSH connection. */
  connectStream?: (socketPath: string) => Promise<import('node:stream').Duplex>;
}

export function hostEngineConnection(host: Pick<Host, 'spec' | 'metadata'>, inputs: HostConnectionInputs = {}): EngineConnection {
  const docker = host.spec.docker;
  const name = `${host.metadata.namespace ?? ''}/${host.metadata.name ?? ''}`;
  if (!docker) throw new TerminalError(ErrorCodes.InvalidSpec, `Host ${name} has no spec.docker: add unix, tcp or ssh`, { field: 'spec.docker' });
  if (docker.unix) return { type: 'unix', socketPath: docker.unix.path };
  if (docker.tcp) {
    if (!host.spec.address) throw new TerminalError(ErrorCodes.InvalidSpec, `Host ${name}: spec.address is required for docker.tcp`, { field: 'spec.address' });
    if (!inputs.tls) throw new TerminalError(ErrorCodes.SecretNotFound, `Host ${name}: the TLS material of docker.tcp.tlsSecretRef was not provided`, { field: 'spec.docker.tcp.tlsSecretRef' });
    return { type: 'tcp', host: host.spec.address, port: docker.tcp.port, tls: inputs.tls };
  }
  if (docker.ssh) {
    const open = inputs.connectStream;
    if (!open || !host.spec.ssh || !host.spec.address) {
      throw new TerminalError(ErrorCodes.InvalidSpec, `Host ${name}: docker.ssh needs spec.ssh, spec.address and the SSH connection`, { field: 'spec.docker.ssh' });
    }
    const socketPath = docker.ssh.socketPath;
    const connectStream: ConnectStream = () => open(socketPath);
    // The identity changes with anything that changes the route, so the registry reconnects then.
    const identity = `ssh://${host.spec.ssh.user}@${host.spec.address}:${host.spec.ssh.port}${socketPath}#${host.spec.ssh.hostKey.split(' ')[1]?.slice(-16) ?? ''}`;
    return { type: 'stream', connectStream, identity };
  }
  throw new TerminalError(ErrorCodes.InvalidSpec, `Host ${name}: set one of docker.unix, docker.tcp or docker.ssh`, { field: 'spec.docker' });
}
