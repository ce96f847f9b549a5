// What every reconciler in one controller process shares: the informers for Hosts and Secrets, the
// Secret reader, one SSH connection pool and one Docker engine registry. Built once per manager
// and closed with it.
import type { Informer, Manager } from '../controller/index.ts';
import type { Host } from '../crds/index.ts';
import { hostRef, secretRef } from './common/kinds.ts';
import { SecretReader, type SecretObject } from './common/secrets.ts';
import { HostConnections } from './hosts.ts';
import { EngineRegistry } from './docker/index.ts';
import { SshPool } from './ssh/index.ts';

export interface Platform {
  manager: Manager;
  namespace?: string;
  hosts: Informer<Host>;
  secrets: Informer<SecretObject>;
  secretReader: SecretReader;
  sshPool: SshPool;
  engines: EngineRegistry;
  connections: HostConnections;
}

export function createPlatform(manager: Manager, opts: { namespace?: string } = {}): Platform {
  const hosts = manager.informer<Host>(hostRef, { namespace: opts.namespace });
  const secrets = manager.informer<SecretObject>(secretRef, { namespace: opts.namespace });
  const secretReader = new SecretReader(secrets);
  const sshPool = new SshPool();
  const engines = new EngineRegistry();
  const connections = new HostConnections({ secrets: secretReader, sshPool, engines });
  manager.once('stopped', () => {
    engines.closeAll();
    sshPool.close();
  });
  return { manager, namespace: opts.namespace, hosts, secrets, secretReader, sshPool, engines, connections };
}
