// References between Outrigger objects: where each kind names another object, and what the named
// object must offer. The schema already guarantees a reference's shape (a name, no namespace
// field, so always the same namespace); this module checks the referent itself.
//
// Policy, as Kubernetes does for Pods and their ConfigMaps: a referent that does not exist yet is
// allowed with a warning (GitOps tools apply in any order; the controller reports Ready=False until
// it appears). A referent that exists but cannot serve (a Host without Docker for a container) is
// rejected, because it is wrong now and the user can fix it now.
import type { KubeObject } from '../controller/kube/resource.ts';
import type { AlertSpec, LabSpec, ProxyRouteSpec, WorkspaceSpec } from '../crds/index.ts';
import type { ObjectLookup, ReferableKind } from './lookup.ts';
import type { FieldError } from '../crds/validate.ts';

export interface Reference {
  /** Where the reference is, e.g. spec.runtime.docker.hostRef. */
  field: string;
  kind: ReferableKind;
  name: string;
  /** What else the reference says (a port or machine name); part of its identity. */
  detail?: string;
  /** What is wrong with an existing referent, or undefined when it serves. */
  check?: (referent: KubeObject) => string | undefined;
}

type Spec = Record<string, unknown>;

const specOf = (obj: KubeObject): Spec => ((obj as { spec?: Spec }).spec ?? {}) as Spec;

function hostWithDocker(name: string, user: string): (host: KubeObject) => string | undefined {
  return (host) =>
    specOf(host).docker === undefined
      ? `Host "${name}" has no spec.docker, so it cannot run ${user}: set spec.docker on Host "${name}" or refer to a Host that has it`
      : undefined;
}

function hostWithNginx(name: string): (host: KubeObject) => string | undefined {
  return (host) =>
    specOf(host).nginx === undefined
      ? `Host "${name}" has no spec.nginx, so it cannot serve a ProxyRoute: set spec.nginx (and spec.ssh) on Host "${name}" or refer to a Host that runs nginx`
      : undefined;
}

/** The port names a Workspace offers to ProxyRoutes: editor, ssh and its spec.ports. */
export function workspacePortNames(workspace: KubeObject): string[] {
  const spec = specOf(workspace);
  const names: string[] = [];
  if (spec.editor !== undefined) names.push('editor');
  if (spec.ssh !== undefined) names.push('ssh');
  for (const p of (spec.ports as Array<{ name?: string }> | undefined) ?? []) if (p.name) names.push(p.name);
  return names;
}

function workspaceWithPort(name: string, port: string): (ws: KubeObject) => string | undefined {
  return (ws) => {
    const offered = workspacePortNames(ws);
    if (offered.includes(port)) return undefined;
    const hint = port === 'editor' ? ' (set spec.editor on it)' : port === 'ssh' ? ' (set spec.ssh on it)' : '';
    const choices = offered.length > 0 ? `use one of: ${offered.join(', ')}` : 'it publishes no ports yet';
    return `Workspace "${name}" has no port "${port}"${hint}: ${choices}`;
  };
}

function labWithMachine(name: string, machine: string): (lab: KubeObject) => string | undefined {
  return (lab) => {
    const machines = ((specOf(lab).machines as Array<{ name?: string }> | undefined) ?? []).map((m) => m.name ?? '');
    return machines.includes(machine) ? undefined : `Lab "${name}" has no machine "${machine}": use one of: ${machines.join(', ')}`;
  };
}

function workspaceReferences(spec: WorkspaceSpec): Reference[] {
  const refs: Reference[] = [];
  const docker = spec.runtime.docker;
  if (docker) {
    refs.push({ field: 'spec.runtime.docker.hostRef', kind: 'Host', name: docker.hostRef.name, check: hostWithDocker(docker.hostRef.name, 'a Workspace container') });
  }
  const proxmox = spec.runtime.proxmox;
  if (proxmox) refs.push({ field: 'spec.runtime.proxmox.clusterRef', kind: 'ProxmoxCluster', name: proxmox.clusterRef.name });
  return refs;
}

function proxyRouteReferences(spec: ProxyRouteSpec): Reference[] {
  const refs: Reference[] = [{ field: 'spec.hostRef', kind: 'Host', name: spec.hostRef.name, check: hostWithNginx(spec.hostRef.name) }];
  spec.routes.forEach((route, i) => {
    const ws = route.upstream.workspaceRef;
    if (ws) {
      refs.push({ field: `spec.routes[${i}].upstream.workspaceRef`, kind: 'Workspace', name: ws.name, detail: ws.port, check: workspaceWithPort(ws.name, ws.port) });
    }
  });
  return refs;
}

function labReferences(spec: LabSpec): Reference[] {
  const refs: Reference[] = [];
  spec.machines.forEach((m, i) => {
    if (m.docker) {
      refs.push({ field: `spec.machines[${i}].docker.hostRef`, kind: 'Host', name: m.docker.hostRef.name, check: hostWithDocker(m.docker.hostRef.name, `machine "${m.name}" as a container`) });
    }
    if (m.proxmox) refs.push({ field: `spec.machines[${i}].proxmox.clusterRef`, kind: 'ProxmoxCluster', name: m.proxmox.clusterRef.name });
  });
  return refs;
}

const ALERT_RULE_TYPES = ['containerDown', 'restartLooping', 'certificateExpiring', 'errorRate'] as const;

function alertReferences(spec: AlertSpec): Reference[] {
  const refs: Reference[] = [];
  spec.rules.forEach((rule, i) => {
    for (const type of ALERT_RULE_TYPES) {
      const targets = (rule[type] as { targets?: Array<{ kind: string; name: string; machine?: string }> } | undefined)?.targets ?? [];
      targets.forEach((t, j) => {
        // Secrets are never read by the webhook: the controller reports a missing one.
        if (t.kind === 'Secret') return;
        const field = `spec.rules[${i}].${type}.targets[${j}]`;
        const check = t.kind === 'Lab' && t.machine ? labWithMachine(t.name, t.machine) : undefined;
        refs.push({ field, kind: t.kind as ReferableKind, name: t.name, detail: t.machine, ...(check ? { check } : {}) });
      });
    }
  });
  return refs;
}

/** Every reference in a parsed (defaulted) spec of the kind. */
export function referencesOf(kind: string, spec: unknown): Reference[] {
  switch (kind) {
    case 'Workspace':
      return workspaceReferences(spec as WorkspaceSpec);
    case 'ProxyRoute':
      return proxyRouteReferences(spec as ProxyRouteSpec);
    case 'Lab':
      return labReferences(spec as LabSpec);
    case 'Alert':
      return alertReferences(spec as AlertSpec);
    default:
      return []; // Host and ProxmoxCluster refer only to Secrets.
  }
}

const identity = (r: Reference): string => `${r.field}|${r.kind}|${r.name}|${r.detail ?? ''}`;

export interface ReferenceVerdict {
  errors: FieldError[];
  warnings: string[];
}

/**
 * Looks up the referents of `refs` that are new (absent from `previous`): an unchanged reference
 * was checked when it was written, and must not block unrelated edits if its referent changed
 * since. Lookup errors propagate (the caller answers "try again").
 */
export async function checkReferences(
  owner: { kind: string; namespace: string },
  refs: Reference[],
  previous: Reference[],
  lookup: ObjectLookup,
  signal: AbortSignal,
): Promise<ReferenceVerdict> {
  const known = new Set(previous.map(identity));
  const fresh = refs.filter((r) => !known.has(identity(r)));
  const cache = new Map<string, Promise<KubeObject | undefined>>();
  const fetch = (r: Reference) => {
    const key = `${r.kind}/${r.name}`;
    let found = cache.get(key);
    if (!found) cache.set(key, (found = lookup.get(r.kind, owner.namespace, r.name, signal)));
    return found;
  };
  const results = await Promise.all(fresh.map(async (r) => ({ r, referent: await fetch(r) })));
  const verdict: ReferenceVerdict = { errors: [], warnings: [] };
  for (const { r, referent } of results) {
    if (!referent) {
      verdict.warnings.push(`${r.field}: ${r.kind} "${r.name}" does not exist in namespace "${owner.namespace}" yet; this ${owner.kind} stays not Ready until it does`);
      continue;
    }
    const problem = r.check?.(referent);
    if (problem) verdict.errors.push({ path: r.field, message: problem });
  }
  return verdict;
}
