// What one engine's Outrigger containers look like right now, kept by the watcher from the events
// stream and the periodic list, so a reconcile can observe a container without a Docker call.
// Ordering rule: an event seen after a list request was sent is newer than that list's answer.
import type Dockerode from 'dockerode';
import { Labels, ownerFromLabels, ownerKey, type Owner } from './labels.ts';

export interface PublishedPort {
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
}

export type ContainerStateName = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ObservedContainer {
  id: string;
  name: string;
  owner: Owner;
  specHash: string | undefined;
  state: ContainerStateName;
  image: string;
  /** Exit code of the last run, when it is known (from a die event or the list's status text). */
  exitCode?: number;
  health?: string;
  /** Published ports; undefined when unknown (ports can change on each start). */
  ports?: PublishedPort[];
  /** False until the container was inspected against its spec; reset by update and rename events. */
  verified: boolean;
}

export interface ContainerChange {
  owner: Owner;
  /** "namespace/name" of the owner: the key to enqueue. */
  key: string;
  containerId: string;
  /** The Docker event action (start, die, destroy, ...) or "resync" / "vanished" from the periodic list. */
  action: string;
}

const STATES = new Set<string>(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']);

export function portsFromList(ports: Dockerode.Port[] | undefined): PublishedPort[] {
  return (ports ?? [])
    .filter((p) => p.PublicPort)
    .map((p) => ({ containerPort: p.PrivatePort, protocol: p.Type === 'udp' ? 'udp' : 'tcp', hostIp: p.IP ?? '', hostPort: p.PublicPort }) as PublishedPort);
}

export function portsFromInspect(info: Dockerode.ContainerInspectInfo): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const [key, bindings] of Object.entries(info.NetworkSettings?.Ports ?? {})) {
    const [port, proto] = key.split('/');
    for (const b of (bindings as Array<{ HostIp: string; HostPort: string }> | null) ?? []) {
      out.push({ containerPort: Number(port), protocol: proto === 'udp' ? 'udp' : 'tcp', hostIp: b.HostIp, hostPort: Number(b.HostPort) });
    }
  }
  return out;
}

function exitCodeFromStatus(status: string | undefined): number | undefined {
  const m = /^Exited \((\d+)\)/.exec(status ?? '');
  return m ? Number(m[1]) : undefined;
}

export function observedFromList(c: Dockerode.ContainerInfo): ObservedContainer | undefined {
  const owner = ownerFromLabels(c.Labels);
  if (!owner) return undefined;
  const exitCode = exitCodeFromStatus(c.Status);
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? '').replace(/^\//, ''),
    owner,
    specHash: c.Labels[Labels.specHash],
    state: (STATES.has(c.State) ? c.State : 'exited') as ContainerStateName,
    image: c.Image,
    ...(exitCode !== undefined ? { exitCode } : {}),
    ports: portsFromList(c.Ports),
    verified: false,
  };
}

export function observedFromInspect(info: Dockerode.ContainerInspectInfo): ObservedContainer | undefined {
  const owner = ownerFromLabels(info.Config?.Labels);
  if (!owner) return undefined;
  const s = info.State;
  const state = (s?.Status && STATES.has(s.Status) ? s.Status : 'exited') as ContainerStateName;
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    owner,
    specHash: info.Config.Labels?.[Labels.specHash],
    state,
    image: info.Config.Image,
    ...(state === 'exited' ? { exitCode: s.ExitCode } : {}),
    ...(s?.Health?.Status ? { health: s.Health.Status } : {}),
    ports: portsFromInspect(info),
    verified: false,
  };
}

interface Entry {
  container: ObservedContainer;
  /** Local time of the last event applied to this container. */
  eventAt: number;
}

/** Docker event as the engine sends it (only the fields we read). */
export interface DockerEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  id?: string;
  time?: number;
  timeNano?: number;
}

export class ContainerCache {
  private readonly entries = new Map<string, Entry>();
  /** Destroyed container ids and when we learned it, so an older list cannot revive them. */
  private readonly tombstones = new Map<string, number>();
  /** Digest of the files placed into each running container (the tmpfs empties when it stops). */
  private readonly placedFiles = new Map<string, string>();
  private isSynced = false;

  get synced(): boolean {
    return this.isSynced;
  }

  byOwner(uid: string): ObservedContainer[] {
    return [...this.entries.values()].filter((e) => e.container.owner.uid === uid).map((e) => e.container);
  }

  get(id: string): ObservedContainer | undefined {
    return this.entries.get(id)?.container;
  }

  all(): ObservedContainer[] {
    return [...this.entries.values()].map((e) => e.container);
  }

  get size(): number {
    return this.entries.size;
  }

  filesDigest(id: string): string | undefined {
    return this.placedFiles.get(id);
  }

  markFilesPlaced(id: string, digest: string): void {
    this.placedFiles.set(id, digest);
  }

  /** After an events gap nobody knows which containers restarted: place files again everywhere. */
  forgetPlacedFiles(): void {
    this.placedFiles.clear();
  }

  /** Records what the client itself just learned (after create, start, inspect). */
  remember(container: ObservedContainer, now: number): void {
    const previous = this.entries.get(container.id);
    const verified = container.verified || (previous?.container.verified ?? false);
    this.entries.set(container.id, { container: { ...container, verified }, eventAt: now });
    this.tombstones.delete(container.id);
  }

  markVerified(id: string): void {
    const e = this.entries.get(id);
    if (e) e.container.verified = true;
  }

  forget(id: string, now: number): void {
    this.entries.delete(id);
    this.placedFiles.delete(id);
    this.tombstones.set(id, now);
  }

  /** Applies one engine event; returns the change to report, if the event concerns an owned container. */
  applyEvent(event: DockerEvent, now: number): ContainerChange | undefined {
    if ((event.Type ?? 'container') !== 'container') return undefined;
    const id = event.Actor?.ID ?? event.id;
    const attrs = event.Actor?.Attributes ?? {};
    const said = (event.Action ?? '').split(':')[0]!.trim();
    // Podman reports a removed container as "remove" where Docker says "destroy".
    const action = said === 'remove' ? 'destroy' : said;
    if (!id || !action) return undefined;
    const known = this.entries.get(id);
    const owner = ownerFromLabels(attrs) ?? known?.container.owner;
    if (!owner) return undefined;
    if (action === 'destroy') {
      this.forget(id, now);
      return { owner, key: ownerKey(owner), containerId: id, action };
    }
    if (this.tombstones.has(id)) return undefined; // a late event for a container already gone
    const c: ObservedContainer = known?.container ?? {
      id,
      name: attrs.name ?? '',
      owner,
      specHash: attrs[Labels.specHash],
      state: 'created',
      image: attrs.image ?? '',
      verified: false,
    };
    switch (action) {
      case 'create':
        c.state = 'created';
        break;
      case 'start':
      case 'restart':
      case 'unpause':
        c.state = 'running';
        delete c.exitCode;
        c.ports = undefined; // random host ports are chosen anew on each start
        break;
      case 'die': {
        c.state = 'exited';
        const code = Number(attrs.exitCode);
        if (Number.isInteger(code)) c.exitCode = code;
        c.ports = undefined;
        this.placedFiles.delete(id);
        break;
      }
      case 'stop':
        c.state = 'exited';
        this.placedFiles.delete(id);
        break;
      case 'pause':
        c.state = 'paused';
        break;
      case 'rename':
        if (attrs.name) c.name = attrs.name;
        c.verified = false;
        break;
      case 'update':
        c.verified = false;
        break;
      case 'health_status':
        c.health = (event.Action ?? '').split(':')[1]?.trim();
        break;
      case 'oom':
        break;
      default:
        return undefined; // kill (a die follows), exec_*, attach, archive: nothing we track
    }
    this.entries.set(id, { container: c, eventAt: now });
    return { owner, key: ownerKey(owner), containerId: id, action };
  }

  /**
   * Applies a full list taken by a request sent at `listSentAt`; returns the containers whose
   * state differs from what the cache believed. `report` false (the first sync) returns nothing:
   * every owner is reconciled at startup anyway.
   */
  applyList(listed: ObservedContainer[], listSentAt: number, report: boolean): ContainerChange[] {
    const changes: ContainerChange[] = [];
    const seen = new Set<string>();
    for (const c of listed) {
      seen.add(c.id);
      const tomb = this.tombstones.get(c.id);
      if (tomb !== undefined && tomb >= listSentAt) continue; // destroyed after the list was taken
      const previous = this.entries.get(c.id);
      if (previous && previous.eventAt >= listSentAt) {
        // Events are newer than this list: keep their state, but take the ports if they agree.
        if (previous.container.state === c.state && previous.container.ports === undefined) previous.container.ports = c.ports;
        continue;
      }
      const changed = !previous || previous.container.state !== c.state || previous.container.specHash !== c.specHash;
      if (previous && previous.container.state === 'running' && c.state !== 'running') this.placedFiles.delete(c.id);
      this.entries.set(c.id, { container: { ...c, verified: previous?.container.verified ?? false }, eventAt: previous?.eventAt ?? 0 });
      if (changed && report) changes.push({ owner: c.owner, key: ownerKey(c.owner), containerId: c.id, action: 'resync' });
    }
    for (const [id, entry] of [...this.entries]) {
      if (seen.has(id) || entry.eventAt >= listSentAt) continue;
      this.entries.delete(id);
      this.placedFiles.delete(id);
      if (report) changes.push({ owner: entry.container.owner, key: ownerKey(entry.container.owner), containerId: id, action: 'vanished' });
    }
    // Tombstones older than this list are no longer needed: the list no longer shows those ids.
    for (const [id, at] of this.tombstones) if (at < listSentAt) this.tombstones.delete(id);
    this.isSynced = true;
    return changes;
  }
}
