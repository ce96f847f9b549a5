// Registers every kind's reconciler with a manager. Each reconciler lives in its own module and
// reaches external systems only through the provider folders beside it (docker/, ssh/, nginx/),
// sharing one Platform (informers for Hosts and Secrets, the SSH pool, the Docker engines).
import type { Manager } from '../controller/index.ts';
import { createPlatform, type Platform } from './platform.ts';
import { hostRef, secretRef } from './common/kinds.ts';
import { protectReferents } from './common/in-use.ts';
import type { OutboundConfig } from './net/index.ts';
import { hostRegistration } from './host/index.ts';
import { labRegistration } from './lab/index.ts';
import { proxyRouteRegistration } from './proxyroute/index.ts';
import { workspaceRegistration } from './workspace/index.ts';
import { alertRegistration } from './alert/index.ts';

export interface ReconcilerOptions {
  /** Only watch this namespace (default: all namespaces). */
  namespace?: string;
  /** The operator's settings for outbound connections (allowed ranges, DNS servers). */
  outbound?: OutboundConfig;
}

export type RegisterReconciler = (platform: Platform) => void;

const registrations: Array<{ kind: string; register: RegisterReconciler }> = [
  hostRegistration,
  proxyRouteRegistration,
  workspaceRegistration,
  labRegistration,
  alertRegistration,
];

export function registerReconcilers(manager: Manager, opts: ReconcilerOptions = {}): string[] {
  const platform = createPlatform(manager, opts);
  for (const { register } of registrations) register(platform);
  // After every kind is tracked: protection must know all users before it releases anything.
  protectPlatformReferents(platform);
  return registrations.map((r) => r.kind);
}

/** In-use protection of the referents other objects' cleanup needs: Hosts and their Secrets. */
export function protectPlatformReferents(platform: Platform): void {
  const { manager } = platform;
  const deps = { index: platform.references, events: manager.events, clock: manager.clock, holders: platform.holders };
  platform.protection.Host = protectReferents(manager, { kind: 'Host', informer: platform.hosts, client: manager.client(hostRef), hasStatus: true }, deps);
  platform.protection.Secret = protectReferents(manager, { kind: 'Secret', informer: platform.secrets, client: manager.client(secretRef), hasStatus: false }, deps);
}
