// The Docker side of a workspace, as an external client: observe (never changes anything), create,
// update and delete (each idempotent; deleting what is already gone succeeds), plus the single
// operations they are made of, for the reconciler's named steps.
//
// Adoption before creation: a container is found by its owner's uid label; create looks again
// (with a fresh list, never the cache) and the engine refuses a second container of the same name,
// so no crash or race can leave two containers for one workspace.
import type Dockerode from 'dockerode';
import { OutriggerError, TerminalError } from '../../controller/errors.ts';
import { ErrorCodes } from '../common/reasons.ts';
import {
  containerDrift,
  containerName,
  containerSpecHash,
  renderCreateOptions,
  validateContainerSpec,
  type ContainerSpec,
  type PortSpec,
  type PullPolicy,
} from './container-spec.ts';
import { ContainerCache, observedFromInspect, observedFromList, portsFromInspect, type ObservedContainer, type PublishedPort } from './cache.ts';
import type { Engine } from './engine.ts';
import { DockerErrorCodes, isConflict, isNotFound, isNotModified } from './errors.ts';
import { execInContainer, type ExecOptions, type ExecResult } from './exec.ts';
import { probeActivity, type ActivityReport } from './activity.ts';
import { filesDigest, writeFiles, type ContainerFile } from './files.ts';
import { DEFAULT_INSTANCE, Labels, ownerFilter, ownerLabels } from './labels.ts';

/** Everything the Docker side of one workspace should be. */
export interface WorkspaceTarget {
  spec: ContainerSpec;
  /** Running, or stopped with the home kept. */
  running: boolean;
  /** Files placed on the tmpfs after each start (secrets, authorized keys). */
  files: ContainerFile[];
}

export interface Observation {
  exists: boolean;
  upToDate: boolean;
  /** What is out of line, in words (no secret values). */
  diff?: string;
}

export interface WorkspaceObservation extends Observation {
  container?: ObservedContainer;
  /** Ids of further containers carrying the same owner uid: update removes them. */
  duplicates: string[];
  running: boolean;
  /** The container was made from another spec (or changed by hand): update re-creates it. */
  needsRecreate: boolean;
  /** The files on the tmpfs are missing or old: update places them. */
  needsFiles: boolean;
}

export interface Endpoint extends PublishedPort {
  name: string;
}

export interface WorkspaceContainersOptions {
  instance?: string;
  /** The engine watcher's cache; without one every observe lists (one call). */
  cache?: ContainerCache;
  /** Seconds docker stop waits before SIGKILL. Default 10. */
  stopTimeoutSeconds?: number;
  /** Deadline for an image pull. Default 5 minutes. */
  pullTimeoutMs?: number;
  now?: () => number;
}

export class WorkspaceContainers {
  readonly engine: Engine;
  readonly instance: string;
  readonly cache: ContainerCache;
  private readonly stopTimeoutSeconds: number;
  private readonly pullTimeoutMs: number;
  private readonly now: () => number;

  constructor(engine: Engine, opts: WorkspaceContainersOptions = {}) {
    this.engine = engine;
    this.instance = opts.instance ?? DEFAULT_INSTANCE;
    this.cache = opts.cache ?? new ContainerCache();
    this.stopTimeoutSeconds = opts.stopTimeoutSeconds ?? 10;
    this.pullTimeoutMs = opts.pullTimeoutMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  // -------------------------------------------------------------------------------------------
  // Observe

  /** Containers of this owner: from the watcher's cache when it is synced, else one list call. */
  async find(ownerUid: string, signal?: AbortSignal, opts: { fresh?: boolean } = {}): Promise<ObservedContainer[]> {
    if (this.cache.synced && !opts.fresh) return this.cache.byOwner(ownerUid);
    const listed = await this.engine.call(
      `list containers of owner ${ownerUid}`,
      (abortSignal) => this.engine.docker.listContainers({ all: true, filters: { label: ownerFilter(this.instance, ownerUid, 'workspace') }, abortSignal }),
      signal,
    );
    const found = listed.map(observedFromList).filter((c): c is ObservedContainer => c !== undefined);
    return found;
  }

  /** Full details of one container, or undefined if it does not exist. */
  async inspect(id: string, signal?: AbortSignal): Promise<Dockerode.ContainerInspectInfo | undefined> {
    try {
      return await this.engine.call(`inspect container ${id.slice(0, 12)}`, (abortSignal) => this.engine.docker.getContainer(id).inspect({ abortSignal }), signal);
    } catch (err) {
      if (isNotFound((err as OutriggerError).cause)) return undefined;
      throw err;
    }
  }

  /**
   * Compares the engine with the target, without changing anything. Costs no Docker call in the
   * steady state (the watcher's cache answers); a container not yet checked against its spec (first
   * sight, or after a `docker update` / rename event) is inspected once.
   */
  async observe(target: WorkspaceTarget, signal?: AbortSignal): Promise<WorkspaceObservation> {
    validateContainerSpec(target.spec);
    const found = await this.find(target.spec.owner.uid, signal);
    const name = containerName(target.spec.owner);
    const primary = found.find((c) => c.name === name) ?? found[0];
    const duplicates = found.filter((c) => c !== primary).map((c) => c.id);
    if (!primary) {
      return { exists: false, upToDate: false, diff: 'no container', duplicates, running: false, needsRecreate: false, needsFiles: false };
    }
    const problems: string[] = [];
    let needsRecreate = false;
    const wantHash = containerSpecHash(target.spec);
    if (primary.specHash !== wantHash) {
      needsRecreate = true;
      problems.push('made from an older spec');
    } else if (primary.state === 'dead' || primary.state === 'removing') {
      needsRecreate = primary.state === 'dead';
      problems.push(`container is ${primary.state}`);
    } else if (!primary.verified) {
      const info = await this.inspect(primary.id, signal);
      if (!info) return { exists: false, upToDate: false, diff: 'container vanished', duplicates, running: false, needsRecreate: false, needsFiles: false };
      const drift = containerDrift(info, target.spec, this.instance);
      const fresh = observedFromInspect(info);
      if (fresh) this.cache.remember({ ...fresh, verified: drift.length === 0 }, this.now());
      if (drift.length > 0) {
        needsRecreate = true;
        problems.push(`changed by hand: ${drift.join('; ')}`);
      }
    }
    const current = this.cache.get(primary.id) ?? primary;
    const running = current.state === 'running';
    if (running !== target.running && !needsRecreate) problems.push(running ? 'running but should be stopped' : `${current.state} but should be running`);
    const needsFiles = target.running && running && target.files.length > 0 && this.cache.filesDigest(primary.id) !== filesDigest(target.files);
    if (needsFiles) problems.push('files not placed since the last start');
    if (duplicates.length > 0) problems.push(`${duplicates.length} duplicate container(s)`);
    return {
      exists: true,
      upToDate: problems.length === 0,
      ...(problems.length > 0 ? { diff: problems.join('; ') } : {}),
      container: current,
      duplicates,
      running,
      needsRecreate,
      needsFiles,
    };
  }

  // -------------------------------------------------------------------------------------------
  // The external-client verbs

  /** Makes (or adopts) the container and its home, then starts it and places files if it should run. */
  async create(target: WorkspaceTarget, signal?: AbortSignal): Promise<ObservedContainer> {
    validateContainerSpec(target.spec);
    await this.ensureImage(target.spec.image, target.spec.pullPolicy, signal);
    await this.ensureVolume(target.spec, signal);
    const container = await this.createContainer(target.spec, signal);
    if (target.running) return this.bringUp(container.id, target.files, signal);
    return container;
  }

  /** Brings an existing container in line: re-create (home kept), start or stop, place files, drop duplicates. */
  async update(target: WorkspaceTarget, observation?: WorkspaceObservation, signal?: AbortSignal): Promise<ObservedContainer | undefined> {
    const seen = observation ?? (await this.observe(target, signal));
    for (const id of seen.duplicates) await this.removeContainer(id, signal);
    if (!seen.container) return this.create(target, signal);
    if (seen.needsRecreate) {
      await this.ensureImage(target.spec.image, target.spec.pullPolicy, signal);
      await this.removeContainer(seen.container.id, signal);
      return this.create(target, signal);
    }
    if (target.running) {
      if (!seen.running || seen.needsFiles) return this.bringUp(seen.container.id, target.files, signal);
      return seen.container;
    }
    if (seen.running || seen.container.state === 'paused') await this.stop(seen.container.id, signal);
    return this.cache.get(seen.container.id) ?? seen.container;
  }

  /** Removes every container of the owner; the home volume too when removeHome is set. */
  async delete(target: Pick<WorkspaceTarget, 'spec'>, opts: { removeHome: boolean }, signal?: AbortSignal): Promise<void> {
    const found = await this.find(target.spec.owner.uid, signal, { fresh: true });
    for (const c of found) await this.removeContainer(c.id, signal);
    if (opts.removeHome) await this.removeVolume(target.spec.home.volume, target.spec.owner.uid, signal);
  }

  // -------------------------------------------------------------------------------------------
  // Single operations

  async imagePresent(image: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.engine.call(`inspect image ${image}`, (abortSignal) => this.engine.docker.getImage(image).inspect({ abortSignal } as object), signal);
      return true;
    } catch (err) {
      if (isNotFound((err as OutriggerError).cause)) return false;
      throw err;
    }
  }

  /** Makes sure the image is on the engine, pulling as the policy allows. Fails with ImageNotFound. */
  async ensureImage(image: string, policy: PullPolicy, signal?: AbortSignal): Promise<void> {
    if (policy !== 'Always' && (await this.imagePresent(image, signal))) return;
    if (policy === 'Never') {
      throw new OutriggerError(
        DockerErrorCodes.ImageNotFound,
        `image ${image} is not on the Docker engine ${this.engine.description} and pullPolicy is Never: build or load it there, or allow pulling`,
      );
    }
    try {
      await this.engine.call(
        `pull image ${image}`,
        async (abortSignal) => {
          const stream = (await this.engine.docker.pull(image, { abortSignal } as object)) as NodeJS.ReadableStream;
          await new Promise<void>((resolve, reject) => {
            this.engine.docker.modem.followProgress(stream, (err: Error | null, output: Array<{ error?: string }>) => {
              const failed = err ?? output?.find((o) => o.error);
              if (failed) reject(failed instanceof Error ? failed : Object.assign(new Error(failed.error), { statusCode: 404 }));
              else resolve();
            });
          });
        },
        signal,
        this.pullTimeoutMs,
      );
    } catch (err) {
      const reason = err instanceof OutriggerError ? err.message : String(err);
      throw new OutriggerError(DockerErrorCodes.ImageNotFound, `image ${image} is not on the Docker engine ${this.engine.description} and pulling it failed: ${reason}`, { cause: err });
    }
  }

  /** Creates the labelled home volume unless it exists; refuses one that belongs to another owner. */
  async ensureVolume(spec: ContainerSpec, signal?: AbortSignal): Promise<{ created: boolean }> {
    const name = spec.home.volume;
    try {
      const info = await this.engine.call(`inspect volume ${name}`, (abortSignal) => this.engine.docker.getVolume(name).inspect({ abortSignal } as object), signal);
      const owner = info.Labels?.[Labels.ownerUid];
      if (owner && owner !== spec.owner.uid) {
        throw new TerminalError(
          ErrorCodes.Conflict,
          `volume ${name} on ${this.engine.description} is the home of another object (uid ${owner}): choose another volume name`,
          { field: 'home.volume' },
        );
      }
      return { created: false };
    } catch (err) {
      if (!(err instanceof OutriggerError) || !isNotFound(err.cause)) throw err;
    }
    await this.engine.call(
      `create volume ${name}`,
      (abortSignal) => this.engine.docker.createVolume({ Name: name, Labels: ownerLabels(spec.owner, this.instance, 'home'), abortSignal } as Dockerode.VolumeCreateOptions),
      signal,
    );
    return { created: true };
  }

  /** Creates the container, or adopts the one that exists for this owner. */
  async createContainer(spec: ContainerSpec, signal?: AbortSignal): Promise<ObservedContainer> {
    validateContainerSpec(spec);
    const existing = await this.find(spec.owner.uid, signal, { fresh: true });
    const name = containerName(spec.owner);
    const adopt = existing.find((c) => c.name === name) ?? existing[0];
    if (adopt) return adopt;
    const options = renderCreateOptions(spec, this.instance);
    try {
      const created = await this.engine.call(`create container ${name}`, (abortSignal) => this.engine.docker.createContainer({ ...options, abortSignal } as Dockerode.ContainerCreateOptions), signal);
      const observed: ObservedContainer = {
        id: created.id,
        name,
        owner: spec.owner,
        specHash: containerSpecHash(spec),
        state: 'created',
        image: spec.image,
        verified: true,
      };
      this.cache.remember(observed, this.now());
      return observed;
    } catch (err) {
      if (!(err instanceof OutriggerError) || !isConflict(err.cause)) throw err;
      // The name is taken: by this owner's container (a create racing ours, which the engine may
      // still be registering for a moment) or by a stranger.
      for (let attempt = 0; attempt < 20; attempt++) {
        const info = await this.inspect(name, signal);
        const other = info && observedFromInspect(info);
        if (other?.owner.uid === spec.owner.uid) {
          this.cache.remember(other, this.now());
          return other;
        }
        if (info) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new TerminalError(
        ErrorCodes.Conflict,
        `container name ${name} on ${this.engine.description} is taken by a container that does not belong to ${spec.owner.namespace}/${spec.owner.name}: remove or rename it`,
        { cause: err },
      );
    }
  }

  /** Starts the container (already running is fine), then places the files. */
  async bringUp(id: string, files: ContainerFile[], signal?: AbortSignal): Promise<ObservedContainer> {
    await this.start(id, signal);
    if (files.length > 0) {
      await writeFiles(this.engine, id, files, signal);
      this.cache.markFilesPlaced(id, filesDigest(files));
    }
    const info = await this.inspect(id, signal);
    const observed = info && observedFromInspect(info);
    if (!observed) throw new OutriggerError(ErrorCodes.ExternalError, `container ${id.slice(0, 12)} vanished on ${this.engine.description} right after it started`);
    this.cache.remember({ ...observed, verified: this.cache.get(id)?.verified ?? false }, this.now());
    return observed;
  }

  async start(id: string, signal?: AbortSignal): Promise<void> {
    const container = this.engine.docker.getContainer(id);
    const current = this.cache.get(id);
    try {
      if (current?.state === 'paused') {
        await this.engine.call(`unpause container ${id.slice(0, 12)}`, (abortSignal) => container.unpause({ abortSignal } as object), signal);
        return;
      }
      await this.engine.call(`start container ${current?.name ?? id.slice(0, 12)}`, (abortSignal) => container.start({ abortSignal } as object), signal);
    } catch (err) {
      if (err instanceof OutriggerError && isNotModified(err.cause)) return;
      throw err;
    }
  }

  /** Stops the container (already stopped is fine); the home and the container stay. */
  async stop(id: string, signal?: AbortSignal): Promise<void> {
    const container = this.engine.docker.getContainer(id);
    const current = this.cache.get(id);
    try {
      if (current?.state === 'paused') {
        await this.engine.call(`unpause container ${id.slice(0, 12)}`, (abortSignal) => container.unpause({ abortSignal } as object), signal);
      }
      await this.engine.call(
        `stop container ${current?.name ?? id.slice(0, 12)}`,
        (abortSignal) => container.stop({ t: this.stopTimeoutSeconds, abortSignal } as object),
        signal,
        this.engine.callTimeoutMs + this.stopTimeoutSeconds * 1000,
      );
    } catch (err) {
      if (err instanceof OutriggerError && (isNotModified(err.cause) || isNotFound(err.cause))) return;
      throw err;
    }
  }

  /** Removes the container (forcefully, it may run); its volumes stay. Gone already is success. */
  async removeContainer(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.engine.call(`remove container ${id.slice(0, 12)}`, (abortSignal) => this.engine.docker.getContainer(id).remove({ force: true, v: false, abortSignal } as object), signal);
    } catch (err) {
      // 404: gone; 409 "removal already in progress": it will be gone.
      if (!(err instanceof OutriggerError) || !(isNotFound(err.cause) || isConflict(err.cause))) throw err;
    }
    this.cache.forget(id, this.now());
  }

  /** Removes the home volume if it belongs to this owner (or carries no owner). Gone already is success. */
  async removeVolume(name: string, ownerUid: string, signal?: AbortSignal): Promise<void> {
    let info: Dockerode.VolumeInspectInfo;
    try {
      info = await this.engine.call(`inspect volume ${name}`, (abortSignal) => this.engine.docker.getVolume(name).inspect({ abortSignal } as object), signal);
    } catch (err) {
      if (err instanceof OutriggerError && isNotFound(err.cause)) return;
      throw err;
    }
    const owner = info.Labels?.[Labels.ownerUid];
    if (owner && owner !== ownerUid) {
      throw new TerminalError(ErrorCodes.Conflict, `volume ${name} belongs to another object (uid ${owner}); it was left in place`);
    }
    try {
      await this.engine.call(`remove volume ${name}`, (abortSignal) => this.engine.docker.getVolume(name).remove({ abortSignal } as object), signal);
    } catch (err) {
      if (err instanceof OutriggerError && isNotFound(err.cause)) return;
      throw err;
    }
  }

  /** Published host ports, from the cache when known, else from an inspect. */
  async publishedPorts(id: string, signal?: AbortSignal): Promise<PublishedPort[]> {
    const cached = this.cache.get(id)?.ports;
    if (cached) return cached;
    const info = await this.inspect(id, signal);
    if (!info) throw new OutriggerError(DockerErrorCodes.ExternalError, `container ${id.slice(0, 12)} does not exist on ${this.engine.description}`);
    return portsFromInspect(info);
  }

  exec(id: string, cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return execInContainer(this.engine, id, cmd, opts);
  }

  /** Who is using the workspace right now (one exec; see activity.ts). */
  activity(id: string, opts: { uid: number; ports: number[]; signal?: AbortSignal }): Promise<ActivityReport> {
    return probeActivity((cmd, o) => this.exec(id, cmd, o), opts);
  }

  async writeFiles(id: string, files: ContainerFile[], signal?: AbortSignal): Promise<void> {
    await writeFiles(this.engine, id, files, signal);
    this.cache.markFilesPlaced(id, filesDigest(files));
  }
}

/** Names the published ports after the spec's ports (ssh, editor, ...). */
export function endpointsOf(ports: PortSpec[] | undefined, published: PublishedPort[]): Endpoint[] {
  const out: Endpoint[] = [];
  for (const p of ports ?? []) {
    const bindings = published.filter((b) => b.containerPort === p.containerPort && b.protocol === p.protocol);
    // Docker publishes on IPv4 and IPv6 separately; one endpoint per port, IPv4 first.
    const b = bindings.find((x) => !x.hostIp.includes(':')) ?? bindings[0];
    if (b) out.push({ name: p.name, ...b });
  }
  return out;
}
