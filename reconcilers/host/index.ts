// The Host controller: one reconcile per Host, re-run when the Secrets it reads change.
import type { Controller, ObjectKey } from '../../controller/index.ts';
import type { Host } from '../../crds/index.ts';
import { hostRef } from '../common/kinds.ts';
import type { SecretObject } from '../common/secrets.ts';
import type { Platform } from '../platform.ts';
import { HostReconciler, type HostReconcilerOptions } from './reconciler.ts';

export { HostReasons } from './reasons.ts';
export { HostReconciler, type HostReconcilerOptions } from './reconciler.ts';
export { probeHost, type ProbeResult, type HostFacts } from './probe.ts';

export interface HostControllerOptions extends HostReconcilerOptions {
  workers?: number;
}

/** Names of the Secrets a Host reads (SSH key and passphrase, Docker TLS material). */
export function secretsOfHost(host: Host): string[] {
  const names = [host.spec.ssh?.privateKeySecretRef?.name, host.spec.ssh?.passphraseSecretRef?.name, host.spec.docker?.tcp?.tlsSecretRef?.name];
  return names.filter((n): n is string => typeof n === 'string');
}

export function addHostController(platform: Platform, opts: HostControllerOptions = {}): Controller<Host> {
  const { manager } = platform;
  const reconciler = new HostReconciler({ client: manager.client<Host>(hostRef), connections: platform.connections, events: manager.events }, opts);
  return manager.addController<Host>({
    name: 'host',
    informer: platform.hosts,
    reconciler,
    workers: opts.workers ?? 2,
    watches: [
      {
        informer: platform.secrets,
        map: (secret: SecretObject): ObjectKey[] => platform.hosts.list()
          .filter((h) => h.metadata.namespace === secret.metadata.namespace && secretsOfHost(h).includes(secret.metadata.name ?? ''))
          .map((h) => ({ namespace: h.metadata.namespace, name: h.metadata.name ?? '' })),
      },
    ],
  });
}

export const hostRegistration = { kind: 'Host', register: (platform: Platform): void => { addHostController(platform); } };
