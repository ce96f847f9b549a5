// What a workspace container should be, in Docker's terms, and the pure functions around it:
// validation (the last line of defence behind the CRD schema and the webhook), the names of the
// container and its home volume, the create request, the spec hash and the drift check.
import type Dockerode from 'dockerode';
import { TerminalError } from '../../controller/errors.ts';
import { ErrorCodes } from '../common/reasons.ts';
import { Labels, ownerLabels, type Owner } from './labels.ts';
import { specHash } from './spec-hash.ts';

/** Where Outrigger's tmpfs is mounted in every container: secret files and authorized keys live here. */
export const RUNTIME_DIR = '/run/outrigger';
export const DEFAULT_RUNTIME_DIR_BYTES = 8 * 1024 * 1024;
/** Docker refuses memory limits below 6 MiB. */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';
export type Protocol = 'tcp' | 'udp';

export interface PortSpec {
  /** Endpoint name (ssh, editor, or a user's port name). */
  name: string;
  containerPort: number;
  protocol: Protocol;
  /** Fixed host port; undefined lets the engine choose a free one. */
  hostPort?: number;
}

export interface SecretEnvVar {
  value: string;
  /**
   * A token that changes when the value changes (a digest of it, see workspace/target.ts). The
   * spec hash covers the token, never the value itself.
   */
  version: string;
}

/** Resources a container's limits (setrlimit) can name, as Docker spells them (RLIMIT_ without the prefix, lower case). */
export const ULIMIT_NAMES = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'] as const;
export type UlimitName = (typeof ULIMIT_NAMES)[number];

/** One resource limit of every process in the container; -1 is unlimited. */
export interface Ulimit {
  name: UlimitName;
  soft: number;
  hard: number;
}

export interface ContainerSpec {
  owner: Owner;
  image: string;
  pullPolicy: PullPolicy;
  hostname?: string;
  env?: Record<string, string>;
  secretEnv?: Record<string, SecretEnvVar>;
  /** CPU limit in cores (0.5 = half a core). */
  cpu?: number;
  memoryBytes?: number;
  pidsLimit?: number;
  /** Resource limits (the Host's spec.docker.ulimits); unset leaves the engine's defaults. */
  ulimits?: Ulimit[];
  home: { volume: string; mountPath: string };
  ports?: PortSpec[];
  /** Host address ports are published on; default all addresses. */
  publishAddress?: string;
  network?: string;
  /** Extra labels (such as the workspace owner); changing them re-creates the container. */
  labels?: Record<string, string>;
  runtimeDirBytes?: number;
}

// ---------------------------------------------------------------------------------------------
// Names

const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The container's name: readable in `docker ps`, unique per owner (the uid prefix), so the engine itself refuses a duplicate create. */
export function containerName(owner: Owner): string {
  return `outrigger-${owner.namespace}-${owner.name}-${owner.uid.replace(/[^a-zA-Z0-9]/g, '').slice(0, 8)}`;
}

export function homeVolumeName(owner: Owner): string {
  return `${containerName(owner)}-home`;
}

// ---------------------------------------------------------------------------------------------
// Validation

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_KEY = /^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?$/;
const IMAGE_REF = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;
const ABSOLUTE_PATH = /^(\/[A-Za-z0-9._@+-]+)+$/;
const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
const IPV6 = /^[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}$/;
const HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function invalid(field: string, message: string): never {
  throw new TerminalError(ErrorCodes.InvalidSpec, `${field} ${message}`, { field });
}

function checkPort(field: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 1 || value > 65535) invalid(field, 'must be a port number from 1 to 65535');
}

/** Throws a TerminalError (code InvalidSpec, naming the field) for anything Docker must not see. */
export function validateContainerSpec(spec: ContainerSpec): void {
  const { owner } = spec;
  if (!owner?.uid || !/^[A-Za-z0-9-]+$/.test(owner.uid)) invalid('owner.uid', 'must be the owner\'s metadata.uid');
  if (!owner.name || !DOCKER_NAME.test(owner.name)) invalid('owner.name', 'must be a Kubernetes object name');
  if (owner.namespace && !DOCKER_NAME.test(owner.namespace)) invalid('owner.namespace', 'must be a Kubernetes namespace name');
  if (!spec.image || spec.image.length > 512 || !IMAGE_REF.test(spec.image)) {
    invalid('image', 'must be an image reference such as registry.example.com/team/workspace:1.2');
  }
  if (!['Always', 'IfNotPresent', 'Never'].includes(spec.pullPolicy)) invalid('pullPolicy', 'must be Always, IfNotPresent or Never');
  if (spec.hostname !== undefined && (spec.hostname.length > 63 || !HOSTNAME.test(spec.hostname))) {
    invalid('hostname', 'must be a DNS label (a-z, 0-9 and "-", at most 63 characters)');
  }
  const envNames = new Set<string>();
  for (const [name, value] of Object.entries(spec.env ?? {})) {
    if (!ENV_NAME.test(name)) invalid(`env.${name}`, 'is not an environment variable name (letters, digits and "_", not starting with a digit)');
    if (typeof value !== 'string' || value.includes('\0')) invalid(`env.${name}`, 'must be a string without NUL characters');
    envNames.add(name);
  }
  for (const [name, variable] of Object.entries(spec.secretEnv ?? {})) {
    if (!ENV_NAME.test(name)) invalid(`secretEnv.${name}`, 'is not an environment variable name (letters, digits and "_", not starting with a digit)');
    if (envNames.has(name)) invalid(`secretEnv.${name}`, 'is also set as a literal env variable: set it once');
    // Never echo the value: only say what is wrong with it.
    if (typeof variable?.value !== 'string' || variable.value.includes('\0')) invalid(`secretEnv.${name}`, 'must be a string without NUL characters');
    if (!variable.version) invalid(`secretEnv.${name}.version`, 'must be set (a digest of the value)');
  }
  if (spec.cpu !== undefined && (!Number.isFinite(spec.cpu) || spec.cpu <= 0 || spec.cpu > 1024)) {
    invalid('cpu', 'must be a number of cores greater than 0 (such as 0.5 or 2)');
  }
  if (spec.memoryBytes !== undefined && (!Number.isInteger(spec.memoryBytes) || spec.memoryBytes < MIN_MEMORY_BYTES)) {
    invalid('memoryBytes', `must be a whole number of bytes, at least ${MIN_MEMORY_BYTES} (6Mi), as Docker requires`);
  }
  if (spec.pidsLimit !== undefined && (!Number.isInteger(spec.pidsLimit) || spec.pidsLimit < 1)) invalid('pidsLimit', 'must be a positive whole number');
  const seenUlimits = new Set<string>();
  for (const [i, limit] of (spec.ulimits ?? []).entries()) {
    const field = `ulimits[${i}]`;
    if (!(ULIMIT_NAMES as readonly string[]).includes(limit.name)) invalid(`${field}.name`, `must be one of ${ULIMIT_NAMES.join(', ')}`);
    if (seenUlimits.has(limit.name)) invalid(`${field}.name`, `sets ${limit.name} a second time`);
    seenUlimits.add(limit.name);
    for (const bound of ['soft', 'hard'] as const) {
      if (!Number.isSafeInteger(limit[bound]) || limit[bound] < -1) invalid(`${field}.${bound}`, 'must be a whole number, 0 or more (-1 for unlimited)');
    }
    if (limit.hard !== -1 && (limit.soft === -1 || limit.soft > limit.hard)) invalid(`${field}.soft`, `must not exceed the hard limit ${limit.hard}`);
  }
  if (!spec.home?.volume || !DOCKER_NAME.test(spec.home.volume)) invalid('home.volume', 'must be a Docker volume name (letters, digits, "_", "." and "-")');
  if (!spec.home.mountPath || !ABSOLUTE_PATH.test(spec.home.mountPath) || /\/\.\.?(\/|$)/.test(spec.home.mountPath)) {
    invalid('home.mountPath', 'must be an absolute path of plain characters, not "/" and without "." or ".." segments');
  }
  if (spec.home.mountPath === RUNTIME_DIR || spec.home.mountPath.startsWith(`${RUNTIME_DIR}/`) || RUNTIME_DIR.startsWith(`${spec.home.mountPath}/`)) {
    invalid('home.mountPath', `must not overlap ${RUNTIME_DIR}, where Outrigger keeps its tmpfs`);
  }
  const seenPorts = new Set<string>();
  const seenNames = new Set<string>();
  for (const [i, port] of (spec.ports ?? []).entries()) {
    const field = `ports[${i}]`;
    if (!port.name || !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(port.name)) invalid(`${field}.name`, 'must be a port name (a-z, 0-9 and "-", starting with a letter)');
    if (seenNames.has(port.name)) invalid(`${field}.name`, `repeats the port name ${port.name}`);
    seenNames.add(port.name);
    checkPort(`${field}.containerPort`, port.containerPort);
    if (port.containerPort === undefined) invalid(`${field}.containerPort`, 'must be set');
    checkPort(`${field}.hostPort`, port.hostPort);
    if (port.protocol !== 'tcp' && port.protocol !== 'udp') invalid(`${field}.protocol`, 'must be tcp or udp');
    const key = `${port.containerPort}/${port.protocol}`;
    if (seenPorts.has(key)) invalid(`${field}.containerPort`, `publishes ${key} a second time`);
    seenPorts.add(key);
  }
  if (spec.publishAddress !== undefined && !IPV4.test(spec.publishAddress) && !IPV6.test(spec.publishAddress)) {
    invalid('publishAddress', 'must be an IPv4 or IPv6 address such as 127.0.0.1');
  }
  if (spec.network !== undefined && !DOCKER_NAME.test(spec.network)) invalid('network', 'must be a Docker network name');
  for (const [key, value] of Object.entries(spec.labels ?? {})) {
    if (!LABEL_KEY.test(key) || key.length > 253) invalid(`labels.${key}`, 'is not a label key (lower-case letters, digits, ".", "/", "_" and "-")');
    if (key.startsWith('dev.outrigger.')) invalid(`labels.${key}`, 'uses the dev.outrigger. prefix, which Outrigger reserves for itself');
    if (typeof value !== 'string' || value.length > 1024 || /[\0\n]/.test(value)) invalid(`labels.${key}`, 'must be a single-line string of at most 1024 characters');
  }
  if (spec.runtimeDirBytes !== undefined && (!Number.isInteger(spec.runtimeDirBytes) || spec.runtimeDirBytes < 64 * 1024)) {
    invalid('runtimeDirBytes', 'must be a whole number of bytes, at least 65536');
  }
}

// ---------------------------------------------------------------------------------------------
// Hash and create request

function sortedPorts(ports: PortSpec[] | undefined): PortSpec[] {
  return [...(ports ?? [])].sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol));
}

/** The fields that shape the container: a change to any of them re-creates it (the home stays). */
export function containerSpecHash(spec: ContainerSpec): string {
  return specHash({
    image: spec.image,
    hostname: spec.hostname,
    env: spec.env ?? {},
    secretEnv: Object.fromEntries(Object.entries(spec.secretEnv ?? {}).map(([k, v]) => [k, v.version])),
    cpu: spec.cpu,
    memoryBytes: spec.memoryBytes,
    pidsLimit: spec.pidsLimit,
    // Only the limits themselves (unset adds nothing, so older containers keep their hash).
    ulimits: spec.ulimits?.length ? sortedUlimits(spec.ulimits).map(({ name, soft, hard }) => ({ name, soft, hard })) : undefined,
    home: { volume: spec.home.volume, mountPath: spec.home.mountPath },
    ports: sortedPorts(spec.ports).map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: p.protocol, hostPort: p.hostPort })),
    publishAddress: spec.publishAddress,
    network: spec.network,
    labels: spec.labels ?? {},
    runtimeDirBytes: spec.runtimeDirBytes ?? DEFAULT_RUNTIME_DIR_BYTES,
  });
}

function sortedUlimits(ulimits: Ulimit[]): Ulimit[] {
  return [...ulimits].sort((a, b) => a.name.localeCompare(b.name));
}

function portKey(p: PortSpec): string {
  return `${p.containerPort}/${p.protocol}`;
}

/** The body of POST /containers/create for this spec. Contains secret env values: never log it. */
export function renderCreateOptions(spec: ContainerSpec, instance: string): Dockerode.ContainerCreateOptions {
  const env = [
    ...Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    ...Object.entries(spec.secretEnv ?? {}).map(([k, v]) => `${k}=${v.value}`),
  ].sort();
  const ports = sortedPorts(spec.ports);
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of ports) {
    exposed[portKey(p)] = {};
    bindings[portKey(p)] = [{ HostIp: spec.publishAddress ?? '', HostPort: p.hostPort ? String(p.hostPort) : '' }];
  }
  const tmpfsBytes = spec.runtimeDirBytes ?? DEFAULT_RUNTIME_DIR_BYTES;
  const hostConfig: Dockerode.HostConfig = {
    Mounts: [{ Type: 'volume', Source: spec.home.volume, Target: spec.home.mountPath }],
    Tmpfs: { [RUNTIME_DIR]: `rw,nosuid,nodev,noexec,size=${tmpfsBytes},mode=0755` },
    PortBindings: bindings,
    // The reconciler, not the engine, decides when a stopped container runs again.
    RestartPolicy: { Name: 'no' },
  };
  if (spec.cpu !== undefined) hostConfig.NanoCpus = Math.round(spec.cpu * 1e9);
  if (spec.memoryBytes !== undefined) hostConfig.Memory = spec.memoryBytes;
  if (spec.pidsLimit !== undefined) hostConfig.PidsLimit = spec.pidsLimit;
  if (spec.network !== undefined) hostConfig.NetworkMode = spec.network;
  if (spec.ulimits?.length) hostConfig.Ulimits = sortedUlimits(spec.ulimits).map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard }));
  return {
    name: containerName(spec.owner),
    Image: spec.image,
    ...(spec.hostname ? { Hostname: spec.hostname } : {}),
    Env: env,
    Labels: {
      ...(spec.labels ?? {}),
      ...ownerLabels(spec.owner, instance, 'workspace'),
      [Labels.specHash]: containerSpecHash(spec),
    },
    ExposedPorts: exposed,
    HostConfig: hostConfig,
  };
}

// ---------------------------------------------------------------------------------------------
// Drift: a container changed by hand (docker update, a different image) while its labels stayed.

/**
 * An image reference in one spelling for comparison. Docker reports the image as it was asked
 * for; Podman reports the full name (the default registry and `library/` spelled out for
 * `debian:12`, `localhost/team/ws:1` for a local image asked for as `team/ws:1`). The default
 * registry, the local store, `library/` and a missing `:latest` all count as the same name.
 */
export function imageReferenceKey(ref: string): string {
  if (/^sha256:[0-9a-f]+$/i.test(ref)) return ref.toLowerCase();
  const parts = ref.split('/');
  const first = parts[0] ?? '';
  const hasDomain = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const domain = hasDomain ? first : '';
  let path = (hasDomain ? parts.slice(1) : parts).join('/');
  const local = domain === '' || domain === 'docker.io' || domain === 'index.docker.io' || domain === 'localhost';
  if (local && path.startsWith('library/') && path.split('/').length === 2) path = path.slice('library/'.length);
  const last = path.split('/').pop() ?? '';
  if (!last.includes(':') && !last.includes('@')) path += ':latest';
  return local ? path : `${domain}/${path}`;
}

/**
 * What differs between an inspected container and the spec it should match; empty when nothing
 * does. Reports names and numbers only, never env values.
 */
export function containerDrift(info: Dockerode.ContainerInspectInfo, spec: ContainerSpec, instance: string): string[] {
  const want = renderCreateOptions(spec, instance);
  const drift: string[] = [];
  const host = info.HostConfig ?? {};
  if (info.Config?.Labels?.[Labels.specHash] !== want.Labels?.[Labels.specHash]) drift.push('spec hash label');
  if (imageReferenceKey(info.Config?.Image ?? '') !== imageReferenceKey(spec.image)) drift.push(`image ${info.Config?.Image} instead of ${spec.image}`);
  if ((host.NanoCpus ?? 0) !== (want.HostConfig?.NanoCpus ?? 0)) drift.push(`cpu limit ${(host.NanoCpus ?? 0) / 1e9} instead of ${spec.cpu ?? 'none'}`);
  if ((host.Memory ?? 0) !== (want.HostConfig?.Memory ?? 0)) drift.push(`memory limit ${host.Memory ?? 0} instead of ${spec.memoryBytes ?? 'none'}`);
  // Without a pids limit in the spec the engine's default applies (none on Docker, 2048 on Podman):
  // only a limit the spec sets is compared.
  if (spec.pidsLimit !== undefined && host.PidsLimit !== spec.pidsLimit) drift.push(`pids limit ${host.PidsLimit ?? 'none'} instead of ${spec.pidsLimit}`);
  const home = (info.Mounts ?? []).find((m) => m.Destination === spec.home.mountPath);
  if (!home || home.Type !== 'volume' || home.Name !== spec.home.volume) drift.push(`home volume ${spec.home.volume} not mounted at ${spec.home.mountPath}`);
  const envNow = new Set(info.Config?.Env ?? []);
  const missingEnv = (want.Env ?? []).filter((e) => !envNow.has(e)).map((e) => e.slice(0, e.indexOf('=')));
  if (missingEnv.length > 0) drift.push(`environment differs (${missingEnv.join(', ')})`);
  return drift;
}
