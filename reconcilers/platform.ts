// What every reconciler in one controller process shares: the informers for Hosts and Secrets, the
// Secret reader, one SSH connection pool, one Docker engine registry, and the outbound guard every
// connection made on a user's behalf goes through (net/). Built once per manager and closed with it.
import type { Informer, Manager } from '../controller/index.ts';
import type { Host } from '../crds/index.ts';
import { hostRef, secretRef } from './common/kinds.ts';
import { SecretReader, type SecretObject } from './common/secrets.ts';
import { HostConnections } from './hosts.ts';
import { EngineRegistry } from './docker/index.ts';
import { SshPool } from './ssh/index.ts';
import { createOutboundGuard, type OutboundConfig, type OutboundGuard } from './net/index.ts';

export interface Platform {
  manager: Manager;
  namespace?: string;
  hosts: Informer<Host>;
  secrets: Informer<SecretObject>;
  secretReader: SecretReader;
  sshPool: SshPool;
  engines: EngineRegistry;
  connections: HostConnections;
  /** The guarded lookup (operator's allowed ranges and DNS servers): `outbound.lookupFor(field)`. */
  outbound: OutboundGuard;
}

export function createPlatform(manager: Manager, opts: { namespace?: string; outbound?: OutboundConfig } = {}): Platform {
  const hosts = manager.informer<Host>(hostRef, { namespace: opts.namespace });
  const secrets = manager.informer<SecretObject>(secretRef, { namespace: opts.namespace });
  const secretReader = new SecretReader(secrets);
  const sshPool = new SshPool();
  const engines = new EngineRegistry();
  const connections = new HostConnections({ secrets: secretReader, sshPool, engines });
  const outbound = createOutboundGuard(opts.outbound);
  manager.once('stopped', () => {
    engines.closeAll();
    sshPool.close();
  });
  return { manager, namespace: opts.namespace, hosts, secrets, secretReader, sshPool, engines, connections, outbound };
}
