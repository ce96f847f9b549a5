// Docker containers for Lab machines, and their snapshot images. A machine's container carries the
// owner's uid and the machine's name in labels and has a name of its own per owner and machine,
// so the engine refuses a second one and a container made just before a crash is adopted.
//
// A machine runs its image's own command with a terminal and open stdin (as `docker run -dit`
// does), so an image whose command is a shell keeps running; docker-init reaps the processes
// provisioning leaves behind. CAP_NET_RAW is dropped: with it a container could hand-craft
// frames past its routing table (see networks.ts), which matters where Docker writes no firewall
// rules. Extra networks are connected after the create (the API takes one at create time).
import type Dockerode from 'dockerode';
import { OutriggerError, TerminalError } from '../../controller/errors.ts';
import { ErrorCodes } from '../common/reasons.ts';
import type { Engine } from './engine.ts';
import { isConflict, isNotFound, isNotModified } from './errors.ts';
import { execInContainer, type ExecOptions, type ExecResult } from './exec.ts';
import { Labels, ownerFilter, ownerFromLabels, ownerLabels, type Owner } from './labels.ts';
import { specHash } from './spec-hash.ts';

export interface MachineAttachment {
  /** Docker network name. */
  dockerNetwork: string;
  /** Static IPv4 address (no prefix); undefined lets the engine choose. */
  address?: string;
}

export interface MachineContainerSpec {
  owner: Owner;
  machine: string;
  image: string;
  hostname: string;
  cpu?: number;
  memoryBytes?: number;
  /** In interface order; none means no network at all. */
  networks: MachineAttachment[];
  /** Create from this snapshot image instead of `image` (a revert); its name goes in a label. */
  snapshot?: { image: string; name: string };
  /** Further labels (not part of the spec hash), such as the revert request a container answers. */
  labels?: Record<string, string>;
}

export interface ObservedMachine {
  id: string;
  name: string;
  machine: string;
  owner: Owner;
  state: string;
  specHash?: string;
  snapshot?: string;
  /** The revert request this container was re-created for, if any. */
  revert?: string;
  exitCode?: number;
}

/** The label naming the revert request a re-created container answers. */
export const REVERT_LABEL = 'dev.outrigger.lab.revert';

export interface MachineNetworks {
  /** Docker network name -> IPv4 address. */
  attached: Record<string, string>;
}

const uid8 = (owner: Owner): string => owner.uid.replace(/[^a-zA-Z0-9]/g, '').slice(0, 8);

/** `outrigger-<namespace>-<lab>-<uid8>-<machine>`. */
export function machineContainerName(owner: Owner, machine: string): string {
  return `outrigger-${owner.namespace}-${owner.name}-${uid8(owner)}-${machine}`;
}

/** The repository snapshot images of a Lab go to: `outrigger-lab/<namespace>-<lab>-<uid8>`. */
export function snapshotRepository(owner: Owner): string {
  return `outrigger-lab/${owner.namespace}-${owner.name}-${uid8(owner)}`.toLowerCase();
}

/** What shapes the container: a change re-creates it (the snapshot it came from is not part of it). */
export function machineSpecHash(spec: MachineContainerSpec): string {
  return specHash({ image: spec.image, hostname: spec.hostname, cpu: spec.cpu, memoryBytes: spec.memoryBytes, networks: spec.networks });
}

export function renderMachineCreate(spec: MachineContainerSpec, instance: string): Dockerode.ContainerCreateOptions {
  const first = spec.networks[0];
  const hostConfig: Dockerode.HostConfig = {
    NetworkMode: first?.dockerNetwork ?? 'none',
    RestartPolicy: { Name: 'no' },
    Init: true,
    CapDrop: ['NET_RAW'],
  };
  if (spec.cpu !== undefined) hostConfig.NanoCpus = Math.round(spec.cpu * 1e9);
  if (spec.memoryBytes !== undefined) hostConfig.Memory = spec.memoryBytes;
  return {
    name: machineContainerName(spec.owner, spec.machine),
    Image: spec.snapshot?.image ?? spec.image,
    Hostname: spec.hostname,
    Tty: true,
    OpenStdin: true,
    Labels: {
      ...(spec.labels ?? {}),
      ...ownerLabels(spec.owner, instance, 'lab-machine'),
      [Labels.labMachine]: spec.machine,
      [Labels.specHash]: machineSpecHash(spec),
      ...(spec.snapshot ? { [Labels.labSnapshot]: spec.snapshot.name } : {}),
    },
    HostConfig: hostConfig,
    ...(first
      ? { NetworkingConfig: { EndpointsConfig: { [first.dockerNetwork]: { Aliases: [spec.machine], ...(first.address ? { IPAMConfig: { IPv4Address: first.address } } : {}) } } } }
      : {}),
  };
}

function fromList(c: Dockerode.ContainerInfo): ObservedMachine | undefined {
  const owner = ownerFromLabels(c.Labels);
  const machine = c.Labels?.[Labels.labMachine];
  if (!owner || !machine) return undefined;
  const exit = /^Exited \((\d+)\)/.exec(c.Status ?? '');
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? '').replace(/^\//, ''),
    machine,
    owner,
    state: c.State,
    ...(c.Labels[Labels.specHash] ? { specHash: c.Labels[Labels.specHash] } : {}),
    ...(c.Labels[Labels.labSnapshot] ? { snapshot: c.Labels[Labels.labSnapshot] } : {}),
    ...(c.Labels[REVERT_LABEL] ? { revert: c.Labels[REVERT_LABEL] } : {}),
    ...(exit ? { exitCode: Number(exit[1]) } : {}),
  };
}

export interface SnapshotImage {
  id: string;
  machine: string;
  snapshot: string;
  /** The spec hash of the container it was committed from (an image inherits its labels). */
  specHash?: string;
  tags: string[];
}

export class DockerMachines {
  readonly engine: Engine;
  readonly instance: string;
  private readonly stopTimeoutSeconds: number;

  constructor(engine: Engine, instance: string, opts: { stopTimeoutSeconds?: number } = {}) {
    this.engine = engine;
    this.instance = instance;
    this.stopTimeoutSeconds = opts.stopTimeoutSeconds ?? 10;
  }

  /** The owner's machine containers (one call). */
  async list(ownerUid: string, signal?: AbortSignal): Promise<ObservedMachine[]> {
    const listed = await this.engine.call(
      `list machines of owner ${ownerUid}`,
      (abortSignal) => this.engine.docker.listContainers({ all: true, filters: { label: ownerFilter(this.instance, ownerUid, 'lab-machine') }, abortSignal }),
      signal,
    );
    return listed.map(fromList).filter((m): m is ObservedMachine => m !== undefined);
  }

  /** The networks a container is attached to, with its addresses; undefined when it is gone. */
  async networks(id: string, signal?: AbortSignal): Promise<MachineNetworks | undefined> {
    try {
      const info = await this.engine.call(`inspect container ${id.slice(0, 12)}`, (abortSignal) => this.engine.docker.getContainer(id).inspect({ abortSignal }), signal);
      const attached: Record<string, string> = {};
      for (const [name, n] of Object.entries(info.NetworkSettings?.Networks ?? {})) attached[name] = n.IPAddress ?? '';
      return { attached };
    } catch (err) {
      if (err instanceof OutriggerError && isNotFound(err.cause)) return undefined;
      throw err;
    }
  }

  /** Creates the container (not started) and connects its further networks; adopts the owner's container of that name. */
  async create(spec: MachineContainerSpec, signal?: AbortSignal): Promise<ObservedMachine> {
    const options = renderMachineCreate(spec, this.instance);
    const name = options.name!;
    let id: string;
    try {
      id = (await this.engine.call(`create container ${name}`, (abortSignal) => this.engine.docker.createContainer({ ...options, abortSignal } as Dockerode.ContainerCreateOptions), signal)).id;
    } catch (err) {
      if (!(err instanceof OutriggerError) || !isConflict(err.cause)) throw err;
      const mine = (await this.list(spec.owner.uid, signal)).find((m) => m.name === name);
      if (!mine) {
        throw new TerminalError(ErrorCodes.Conflict, `container name ${name} on ${this.engine.description} is taken by a container that is not machine "${spec.machine}" of Lab ${spec.owner.namespace}/${spec.owner.name}: remove or rename it`, { cause: err });
      }
      id = mine.id;
    }
    await this.connectMissing(id, spec, signal);
    return { id, name, machine: spec.machine, owner: spec.owner, state: 'created', specHash: machineSpecHash(spec), ...(spec.snapshot ? { snapshot: spec.snapshot.name } : {}) };
  }

  /** Connects the networks after the first that the container lacks (after a crash between the calls). */
  async connectMissing(id: string, spec: MachineContainerSpec, signal?: AbortSignal, known?: MachineNetworks): Promise<boolean> {
    const rest = spec.networks.slice(1);
    if (rest.length === 0) return false;
    const attached = known ?? (await this.networks(id, signal));
    let changed = false;
    for (const n of rest) {
      if (attached && n.dockerNetwork in attached.attached) continue;
      try {
        await this.engine.call(
          `connect container ${id.slice(0, 12)} to ${n.dockerNetwork}`,
          (abortSignal) => this.engine.docker.getNetwork(n.dockerNetwork).connect({ Container: id, EndpointConfig: { Aliases: [spec.machine], ...(n.address ? { IPAMConfig: { IPv4Address: n.address } } : {}) }, abortSignal } as object),
          signal,
        );
        changed = true;
      } catch (err) {
        // Already connected (a connect that raced ours): fine.
        if (!(err instanceof OutriggerError && (isConflict(err.cause) || /already exists/i.test(err.message)))) throw err;
      }
    }
    return changed;
  }

  async start(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.engine.call(`start container ${id.slice(0, 12)}`, (abortSignal) => this.engine.docker.getContainer(id).start({ abortSignal } as object), signal);
    } catch (err) {
      if (err instanceof OutriggerError && isNotModified(err.cause)) return;
      throw err;
    }
  }

  async stop(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.engine.call(
        `stop container ${id.slice(0, 12)}`,
        (abortSignal) => this.engine.docker.getContainer(id).stop({ t: this.stopTimeoutSeconds, abortSignal } as object),
        signal,
        this.engine.callTimeoutMs + this.stopTimeoutSeconds * 1000,
      );
    } catch (err) {
      if (err instanceof OutriggerError && (isNotModified(err.cause) || isNotFound(err.cause))) return;
      throw err;
    }
  }

  /** Removes the container, running or not; gone already is success. */
  async remove(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.engine.call(`remove container ${id.slice(0, 12)}`, (abortSignal) => this.engine.docker.getContainer(id).remove({ force: true, v: true, abortSignal } as object), signal);
    } catch (err) {
      if (!(err instanceof OutriggerError) || !(isNotFound(err.cause) || isConflict(err.cause))) throw err;
    }
  }

  exec(id: string, cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return execInContainer(this.engine, id, cmd, opts);
  }

  /**
   * Commits the container's filesystem to a snapshot image, labelled for the owner (role
   * lab-snapshot, so a container someone runs from it is never taken for a machine).
   */
  async commit(id: string, spec: Pick<MachineContainerSpec, 'owner' | 'machine'>, snapshot: string, signal?: AbortSignal): Promise<string> {
    const repo = snapshotRepository(spec.owner);
    const tag = `${spec.machine}-${snapshot}`;
    const labels = { ...ownerLabels(spec.owner, this.instance, 'lab-snapshot'), [Labels.labMachine]: spec.machine, [Labels.labSnapshot]: snapshot };
    const changes = Object.entries(labels).map(([k, v]) => `LABEL ${k}=${v}`);
    await this.engine.call(
      `commit container ${id.slice(0, 12)}`,
      (abortSignal) => this.engine.docker.getContainer(id).commit({ repo, tag, pause: true, changes, abortSignal } as object),
      signal,
      this.engine.callTimeoutMs * 4,
    );
    return `${repo}:${tag}`;
  }

  /** The owner's snapshot images (one call). */
  async snapshots(ownerUid: string, signal?: AbortSignal): Promise<SnapshotImage[]> {
    const images = await this.engine.call(
      `list snapshot images of owner ${ownerUid}`,
      (abortSignal) => this.engine.docker.listImages({ filters: { label: ownerFilter(this.instance, ownerUid, 'lab-snapshot') }, abortSignal } as object),
      signal,
    );
    return images
      .map((i) => ({
        id: i.Id,
        machine: i.Labels?.[Labels.labMachine] ?? '',
        snapshot: i.Labels?.[Labels.labSnapshot] ?? '',
        ...(i.Labels?.[Labels.specHash] ? { specHash: i.Labels[Labels.specHash] } : {}),
        tags: i.RepoTags ?? [],
      }))
      .filter((i) => i.machine && i.snapshot);
  }

  async removeImage(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.engine.call(`remove image ${id.slice(0, 19)}`, (abortSignal) => this.engine.docker.getImage(id).remove({ force: true, abortSignal } as object), signal);
    } catch (err) {
      if (err instanceof OutriggerError && isNotFound(err.cause)) return;
      throw err;
    }
  }
}
