// What every reconciler in one controller process shares: the informers for Hosts and Secrets, the
// Secret reader, one SSH connection pool, one Docker engine registry, the reference index (who
// names which Host or Secret), and the outbound guard every connection made on a user's behalf
// goes through (net/). Built once per manager and closed with it. A Host's pooled connections
// close when the Host is gone.
import type { Controller, Informer, KubeObject, Manager } from '../controller/index.ts';
import type { Holders } from './common/in-use.ts';
import { hostKind, type Host } from '../crds/index.ts';
import { hostRef, secretRef } from './common/kinds.ts';
import { SecretReader, type SecretObject } from './common/secrets.ts';
import { ReferenceIndex } from './common/references.ts';
import { HostConnections } from './hosts.ts';
import { ContainerHistory, EngineRegistry } from './docker/index.ts';
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
  /** What the engine watchers saw of each owner's containers (state, restarts), for Alerts. */
  containerHistory: ContainerHistory;
  references: ReferenceIndex;
  /** Users of referents beyond the index (a host still serving routes being removed). */
  holders: Holders[];
  /** The in-use protection controllers, by referent kind (set once every kind is registered). */
  protection: Partial<Record<string, Controller<KubeObject>>>;
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
  const references = new ReferenceIndex();
  references.track(hostKind, hosts);
  hosts.addHandler({ onDelete: (host) => connections.release(host) });
  const outbound = createOutboundGuard(opts.outbound);
  manager.once('stopped', () => {
    engines.closeAll();
    sshPool.close();
  });
  return { manager, namespace: opts.namespace, hosts, secrets, secretReader, sshPool, engines, connections, containerHistory: new ContainerHistory(manager.clock), references, holders: [], protection: {}, outbound };
}
