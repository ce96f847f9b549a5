// Discovery documents: the legacy ones (/api, /apis, /api/v1, /apis/<g>/<v>) and the aggregated
// apidiscovery.k8s.io v2 / v2beta1 lists kubectl and client-go ask for first.
import { createHash } from 'node:crypto';
import type { Registry } from '../kinds/registry.ts';
import type { ResourceType } from '../kinds/types.ts';

const SUBRESOURCE_VERBS = ['get', 'patch', 'update'];

function gv(group: string, version: string): string {
  return group ? `${group}/${version}` : version;
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroup(g: { name: string; versions: string[]; preferredVersion: string }): Record<string, unknown> {
  return {
    name: g.name,
    versions: g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v })),
    preferredVersion: { groupVersion: `${g.name}/${g.preferredVersion}`, version: g.preferredVersion },
  };
}

export function apiGroupList(registry: Registry): Record<string, unknown> {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: registry.groups().map(apiGroup) };
}

export function apiGroupDoc(registry: Registry, group: string): Record<string, unknown> | undefined {
  const g = registry.groups().find((x) => x.name === group);
  return g ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(g) } : undefined;
}

/** kube-apiserver's storageVersionHash: base64 of the first 8 bytes of sha256("<group>/<version>/<kind>") in storage. */
export function storageVersionHash(rt: ResourceType): string {
  const storageGroup = rt.toStorage ? '' : rt.group;
  return createHash('sha256').update(`${storageGroup}/${rt.storageVersion}/${rt.kind}`).digest().subarray(0, 8).toString('base64');
}

function subresources(rt: ResourceType): string[] {
  const subs: string[] = [];
  if (rt.statusSubresource) subs.push('status');
  if (rt.storageResource === 'core/namespaces') subs.push('finalize');
  return subs;
}

export function apiResourceList(registry: Registry, group: string, version: string): Record<string, unknown> | undefined {
  const types = registry.resources(group, version);
  if (!types.length) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const rt of types) {
    resources.push({
      name: rt.plural,
      singularName: rt.singular,
      namespaced: rt.namespaced,
      kind: rt.kind,
      verbs: rt.verbs,
      ...(rt.shortNames.length ? { shortNames: rt.shortNames } : {}),
      ...(rt.categories.length ? { categories: rt.categories } : {}),
      storageVersionHash: storageVersionHash(rt),
    });
    for (const sub of subresources(rt)) {
      resources.push({
        name: `${rt.plural}/${sub}`,
        singularName: '',
        namespaced: rt.namespaced,
        kind: rt.kind,
        verbs: sub === 'finalize' ? ['update'] : SUBRESOURCE_VERBS,
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv(group, version), resources };
}

function discoveryResource(rt: ResourceType): Record<string, unknown> {
  const responseKind = { group: rt.group, version: rt.version, kind: rt.kind };
  const subs = subresources(rt);
  return {
    resource: rt.plural,
    responseKind,
    scope: rt.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: rt.singular,
    verbs: rt.verbs,
    ...(rt.shortNames.length ? { shortNames: rt.shortNames } : {}),
    ...(rt.categories.length ? { categories: rt.categories } : {}),
    ...(subs.length
      ? {
          subresources: subs.map((s) => ({
            subresource: s,
            responseKind,
            verbs: s === 'finalize' ? ['update'] : SUBRESOURCE_VERBS,
          })),
        }
      : {}),
  };
}

function discoveryGroup(registry: Registry, group: string, versions: string[]): Record<string, unknown> {
  return {
    metadata: group ? { name: group } : {},
    versions: versions.map((v) => ({
      version: v,
      resources: registry.resources(group, v).map(discoveryResource),
      freshness: 'Current',
    })),
  };
}

/** The aggregated document for /api (core group only) or /apis (every named group). */
export function aggregatedDiscovery(registry: Registry, legacy: boolean, version: 'v2' | 'v2beta1'): Record<string, unknown> {
  const items = legacy
    ? [discoveryGroup(registry, '', ['v1'])]
    : registry.groups().map((g) => discoveryGroup(registry, g.name, g.versions));
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
}

export function aggregatedContentType(version: 'v2' | 'v2beta1'): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}
