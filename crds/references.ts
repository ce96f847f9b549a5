// References between objects, declared once per kind (each kind's file lists what its spec names).
// The one list feeds the admission webhook's checks of referents, the controller's watch mappings
// (a referent's change re-queues exactly the objects that name it) and in-use protection (a
// referent the referrer's cleanup needs waits with its deletion until nothing names it).
// Pure data and small pure checks: imports nothing but types.

/** The kinds an Outrigger object can name. */
export type ReferableKind = 'Host' | 'ProxmoxCluster' | 'Workspace' | 'ProxyRoute' | 'Lab' | 'Secret';

export interface Reference {
  /** Where the reference is, e.g. spec.runtime.docker.hostRef. */
  field: string;
  kind: ReferableKind;
  /** Always in the referrer's namespace. */
  name: string;
  /** What else the reference says (a port or machine name); part of its identity. */
  detail?: string;
  /**
   * The referrer's cleanup needs the referent (a Workspace's container is removed through its
   * Host): the referent is then protected from deletion while the referrer names it.
   */
  protects?: boolean;
  /** What is wrong with an existing referent for this use, or undefined when it serves. */
  check?: (referent: { spec?: unknown }) => string | undefined;
}

type Loose = Record<string, unknown>;

const specOf = (obj: { spec?: unknown }): Loose => (obj.spec ?? {}) as Loose;

/** A reference to a Secret key (or a whole Secret), when it is set. */
export function secretRefTo(field: string, ref: { name?: string } | undefined, protects = false): Reference[] {
  return ref?.name ? [{ field, kind: 'Secret', name: ref.name, ...(protects ? { protects } : {}) }] : [];
}

export function hostWithDocker(name: string, user: string): Reference['check'] {
  return (host) =>
    specOf(host).docker === undefined
      ? `Host "${name}" has no spec.docker, so it cannot run ${user}: set spec.docker on Host "${name}" or refer to a Host that has it`
      : undefined;
}

export function hostWithNginx(name: string): Reference['check'] {
  return (host) =>
    specOf(host).nginx === undefined
      ? `Host "${name}" has no spec.nginx, so it cannot serve a ProxyRoute: set spec.nginx (and spec.ssh) on Host "${name}" or refer to a Host that runs nginx`
      : undefined;
}

/** The port names a Workspace offers to ProxyRoutes: editor, ssh and its spec.ports. */
export function workspacePortNames(workspace: { spec?: unknown }): string[] {
  const spec = specOf(workspace);
  const names: string[] = [];
  if (spec.editor !== undefined) names.push('editor');
  if (spec.ssh !== undefined) names.push('ssh');
  for (const p of (spec.ports as Array<{ name?: string }> | undefined) ?? []) if (p.name) names.push(p.name);
  return names;
}

export function workspaceWithPort(name: string, port: string): Reference['check'] {
  return (ws) => {
    const offered = workspacePortNames(ws);
    if (offered.includes(port)) return undefined;
    const hint = port === 'editor' ? ' (set spec.editor on it)' : port === 'ssh' ? ' (set spec.ssh on it)' : '';
    const choices = offered.length > 0 ? `use one of: ${offered.join(', ')}` : 'it publishes no ports yet';
    return `Workspace "${name}" has no port "${port}"${hint}: ${choices}`;
  };
}

export function labWithMachine(name: string, machine: string): Reference['check'] {
  return (lab) => {
    const machines = ((specOf(lab).machines as Array<{ name?: string }> | undefined) ?? []).map((m) => m.name ?? '');
    return machines.includes(machine) ? undefined : `Lab "${name}" has no machine "${machine}": use one of: ${machines.join(', ')}`;
  };
}

/** A stable identity for comparing reference lists (old spec vs new). */
export const referenceIdentity = (r: Reference): string => `${r.field}|${r.kind}|${r.name}|${r.detail ?? ''}`;
