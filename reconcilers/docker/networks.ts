// Docker networks for Labs: one bridge network per Lab network, labelled with the owner's uid and
// the Lab network's name, found again by those labels (never by name alone). The engine refuses a
// second network of the same name (CheckDuplicate), so a crash mid-create never makes two.
//
// Isolation. An isolated network is `internal` (Docker gives its containers no route out when it
// manages the firewall) and its bridge gets no IPv4 address on the host (inhibit_ipv4). The
// second part is what isolates when dockerd runs with --iptables=false, as on the test machines:
// there Docker writes no isolation rules at all, the host forwards between bridges, and
// `internal` alone still hands containers a default route through the bridge's address. Without
// an address on the bridge that route leads nowhere: nothing answers for the gateway, so a
// container reaches only its own network's members (see reconcilers/lab/README.md).
import type Dockerode from 'dockerode';
import { OutriggerError, TerminalError } from '../../controller/errors.ts';
import { ErrorCodes } from '../common/reasons.ts';
import type { Engine } from './engine.ts';
import { DockerErrorCodes, isConflict, isNotFound, statusCodeOf } from './errors.ts';
import { Labels, instanceFilter, ownerFilter, ownerFromLabels, ownerLabels, type Owner } from './labels.ts';

/** Docker's option that leaves the bridge without an IPv4 address on the host. */
export const INHIBIT_IPV4 = 'com.docker.network.bridge.inhibit_ipv4';

export interface NetworkSpec {
  owner: Owner;
  /** The Lab network's name. */
  network: string;
  /** IPv4 cidr; undefined lets the engine pick a range from its pools. */
  subnet?: string;
  isolated: boolean;
}

export interface ObservedNetwork {
  id: string;
  name: string;
  network: string;
  owner: Owner;
  subnet?: string;
  internal: boolean;
  isolated: boolean;
}

const uid8 = (owner: Owner): string => owner.uid.replace(/[^a-zA-Z0-9]/g, '').slice(0, 8);

/** `outrigger-<namespace>-<lab>-<uid8>-<network>`: readable, and unique per owner. */
export function dockerNetworkName(owner: Owner, network: string): string {
  return `outrigger-${owner.namespace}-${owner.name}-${uid8(owner)}-${network}`;
}

/** The gateway Docker's IPAM reserves: the first host address of the cidr. */
export function gatewayOf(subnet: string): string {
  const [base] = subnet.split('/');
  const parts = (base ?? '').split('.').map(Number);
  parts[3] = (parts[3] ?? 0) + 1;
  return parts.join('.');
}

export function renderNetworkCreate(spec: NetworkSpec, instance: string): Dockerode.NetworkCreateOptions {
  return {
    Name: dockerNetworkName(spec.owner, spec.network),
    CheckDuplicate: true,
    Driver: 'bridge',
    Internal: spec.isolated,
    Attachable: false,
    ...(spec.subnet ? { IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet, Gateway: gatewayOf(spec.subnet) }] } } : {}),
    Options: spec.isolated ? { [INHIBIT_IPV4]: 'true' } : {},
    Labels: { ...ownerLabels(spec.owner, instance, 'lab-network'), [Labels.labNetwork]: spec.network },
  } as Dockerode.NetworkCreateOptions;
}

function observed(n: Dockerode.NetworkInspectInfo): ObservedNetwork | undefined {
  const owner = ownerFromLabels(n.Labels);
  const network = n.Labels?.[Labels.labNetwork];
  if (!owner || !network) return undefined;
  const subnet = n.IPAM?.Config?.find((c) => c.Subnet && !c.Subnet.includes(':'))?.Subnet;
  return {
    id: n.Id,
    name: n.Name,
    network,
    owner,
    ...(subnet ? { subnet } : {}),
    internal: Boolean(n.Internal),
    isolated: Boolean(n.Internal) && n.Options?.[INHIBIT_IPV4] === 'true',
  };
}

/** What makes an existing network unusable for the spec (it is then made again). */
export function networkDrift(net: ObservedNetwork, spec: NetworkSpec): string[] {
  const drift: string[] = [];
  if (spec.subnet && net.subnet !== spec.subnet) drift.push(`subnet ${net.subnet ?? 'chosen by the engine'} instead of ${spec.subnet}`);
  if (net.isolated !== spec.isolated) drift.push(spec.isolated ? 'not isolated' : 'isolated but should be bridged outside');
  return drift;
}

export class DockerNetworks {
  readonly engine: Engine;
  readonly instance: string;

  constructor(engine: Engine, instance: string) {
    this.engine = engine;
    this.instance = instance;
  }

  /** The owner's networks (one call). */
  async list(ownerUid: string, signal?: AbortSignal): Promise<ObservedNetwork[]> {
    const found = await this.engine.call(
      `list networks of owner ${ownerUid}`,
      (abortSignal) => this.engine.docker.listNetworks({ filters: { label: ownerFilter(this.instance, ownerUid, 'lab-network') }, abortSignal } as object),
      signal,
    );
    return found.map(observed).filter((n): n is ObservedNetwork => n !== undefined);
  }

  /** Makes the network, or adopts the owner's network of that name made by a create cut short. */
  async create(spec: NetworkSpec, signal?: AbortSignal): Promise<ObservedNetwork> {
    const options = renderNetworkCreate(spec, this.instance);
    const name = options.Name;
    try {
      const created = await this.engine.call(`create network ${name}`, (abortSignal) => this.engine.docker.createNetwork({ ...options, abortSignal } as Dockerode.NetworkCreateOptions), signal);
      return { id: created.id, name, network: spec.network, owner: spec.owner, ...(spec.subnet ? { subnet: spec.subnet } : {}), internal: spec.isolated, isolated: spec.isolated };
    } catch (err) {
      const cause = (err as OutriggerError).cause;
      if (isConflict(cause)) {
        const mine = (await this.list(spec.owner.uid, signal)).find((n) => n.name === name);
        if (mine) return mine;
        throw new TerminalError(ErrorCodes.Conflict, `network name ${name} on ${this.engine.description} is taken by a network that does not belong to Lab ${spec.owner.namespace}/${spec.owner.name}: remove or rename it`, { cause: err });
      }
      if (statusCodeOf(cause) === 403 && /overlap/i.test((err as Error).message)) {
        const holder = (await this.overlapping([spec.subnet ?? ''], spec.owner.uid, signal))[0]?.holder ?? 'a network already there';
        throw overlapError(spec.network, spec.subnet ?? '', holder, this.engine.description, err);
      }
      throw err;
    }
  }

  /**
   * The networks on the engine (anyone's but this owner's) whose ranges overlap one of `subnets`,
   * with who holds them: checked before anything of a Lab is made, so a clash leaves nothing behind.
   */
  async overlapping(subnets: string[], ownerUid: string, signal?: AbortSignal): Promise<Array<{ subnet: string; holder: string }>> {
    const wanted = subnets.filter(Boolean);
    if (wanted.length === 0) return [];
    const all = await this.engine.call('list networks', (abortSignal) => this.engine.docker.listNetworks({ abortSignal } as object), signal);
    const out: Array<{ subnet: string; holder: string }> = [];
    for (const n of all) {
      const owner = ownerFromLabels(n.Labels);
      if (owner?.uid === ownerUid) continue;
      const ranges = (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => Boolean(s && !s.includes(':')));
      for (const subnet of wanted) {
        if (!ranges.some((r) => overlaps(r, subnet))) continue;
        const holder = owner && n.Labels?.[Labels.labNetwork]
          ? `network "${n.Labels[Labels.labNetwork]}" of ${owner.kind} ${owner.namespace}/${owner.name} (${ranges.join(', ')})`
          : `Docker network ${n.Name} (${ranges.join(', ')})`;
        out.push({ subnet, holder });
      }
    }
    return out;
  }

  /** Removes the network; gone already is success. Its containers must be gone or disconnected first. */
  async remove(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.engine.call(`remove network ${id.slice(0, 12)}`, (abortSignal) => this.engine.docker.getNetwork(id).remove({ abortSignal } as object), signal);
    } catch (err) {
      if (err instanceof OutriggerError && isNotFound(err.cause)) return;
      throw err;
    }
  }

  /** Every Lab network of this instance on the engine (for overlap checks across Labs). */
  async listInstance(signal?: AbortSignal): Promise<ObservedNetwork[]> {
    const found = await this.engine.call(
      'list lab networks',
      (abortSignal) => this.engine.docker.listNetworks({ filters: { label: instanceFilter(this.instance, 'lab-network') }, abortSignal } as object),
      signal,
    );
    return found.map(observed).filter((n): n is ObservedNetwork => n !== undefined);
  }
}

/** A cidr clash: retried with backoff (the other network may go), nothing made meanwhile. */
export function overlapError(network: string, subnet: string, holder: string, engine: string, cause?: unknown): OutriggerError {
  return new OutriggerError(DockerErrorCodes.NetworkOverlaps, `network "${network}": ${subnet} overlaps ${holder} on the Docker engine ${engine}: choose another cidr (retried until it is free)`, { cause, field: 'spec.networks' });
}

function range(cidr: string): [number, number] | undefined {
  const [base, bits] = cidr.split('/');
  const parts = (base ?? '').split('.').map(Number);
  const prefix = Number(bits);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p)) || !Number.isInteger(prefix)) return undefined;
  const n = parts.reduce((a, p) => a * 256 + p, 0);
  const size = 2 ** (32 - prefix);
  const first = Math.floor(n / size) * size;
  return [first, first + size - 1];
}

/** Whether two IPv4 cidrs share an address. */
export function overlaps(a: string, b: string): boolean {
  const ra = range(a);
  const rb = range(b);
  return Boolean(ra && rb && ra[0] <= rb[1] && rb[0] <= ra[1]);
}
