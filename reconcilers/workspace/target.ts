// From a Workspace (spec already parsed and defaulted) to what its Docker side should be: the
// container spec, the files placed on the tmpfs after each start, the published ports and the
// secret values that must never appear anywhere (for redaction). Pure apart from reading Secrets
// through the given lookup; every error names the Workspace field to fix.
import { createHash } from 'node:crypto';
import { TerminalError } from '../../controller/errors.ts';
import { ErrorCodes } from '../common/reasons.ts';
import { DNS_LABEL, parseQuantity, type Host, type WorkspaceSpec } from '../../crds/index.ts';
import {
  RUNTIME_DIR,
  homeVolumeName,
  validateContainerSpec,
  validateFilePath,
  type ContainerFile,
  type ContainerSpec,
  type Owner,
  type PortSpec,
  type SecretEnvVar,
} from '../docker/index.ts';

/** Reads Secret values (from the informer cache); errors name the referring field. */
export interface SecretLookup {
  value(namespace: string, ref: { name: string; key: string }, field: string): Buffer;
}

/**
 * The token the spec hash covers for a secret value: it changes exactly when the value the
 * container consumes changes, so a label or annotation edit of the Secret re-creates nothing.
 * Whoever can read the container's labels can read its environment too, so a digest tells them
 * nothing new.
 */
export function valueVersion(value: string): string {
  return createHash('sha256').update('outrigger-secret-env\0').update(value).digest('hex').slice(0, 32);
}

export type DockerRuntime = NonNullable<WorkspaceSpec['runtime']['docker']>;

/** The environment Outrigger gives every workspace container: the image contract (see README). */
export const CONTRACT_ENV_PREFIX = 'OUTRIGGER_';
/** code-server reads its password from this variable. */
export const EDITOR_PASSWORD_ENV = 'PASSWORD';
/** Where authorized keys go: the test image's sshd reads AuthorizedKeysFile /run/outrigger/authorized_keys/%u. */
export const AUTHORIZED_KEYS_DIR = `${RUNTIME_DIR}/authorized_keys`;
/** The label carrying spec.owner on the container. */
export const OWNER_LABEL = 'outrigger.dev/owner';

export interface WorkspaceUser {
  name: string;
  uid: number;
  home: string;
}

export interface BuiltTarget {
  spec: ContainerSpec;
  files: ContainerFile[];
  user: WorkspaceUser;
  /** Every secret value the workspace carries (env, files, editor password): redacted from any output. */
  secretValues: string[];
}

/** What building a target reads from a Workspace. */
export interface WorkspaceInput {
  metadata: { namespace?: string; name?: string; uid?: string };
  spec: WorkspaceSpec;
}

export function workspaceOwner(ws: Pick<WorkspaceInput, 'metadata'>): Owner {
  const { namespace, name, uid } = ws.metadata;
  return { kind: 'Workspace', namespace: namespace ?? 'default', name: name ?? '', uid: uid ?? '' };
}

export function workspaceUser(spec: WorkspaceSpec): WorkspaceUser {
  const name = spec.user?.name ?? 'dev';
  return { name, uid: spec.user?.uid ?? 1000, home: spec.home?.mountPath ?? `/home/${name}` };
}

function invalid(field: string, message: string): never {
  throw new TerminalError(ErrorCodes.InvalidSpec, `${field} ${message}`, { field });
}

/** CPU cores and memory bytes from the spec's quantities. */
export function resourceLimits(spec: WorkspaceSpec): { cpu?: number; memoryBytes?: number } {
  const out: { cpu?: number; memoryBytes?: number } = {};
  if (spec.resources?.cpu !== undefined) {
    const cpu = parseQuantity(spec.resources.cpu);
    if (!(cpu > 0)) invalid('spec.resources.cpu', 'must be more than 0 cores (such as 500m or 2)');
    out.cpu = cpu;
  }
  if (spec.resources?.memory !== undefined) {
    const bytes = Math.round(parseQuantity(spec.resources.memory));
    if (bytes < 6 * 1024 * 1024) invalid('spec.resources.memory', 'must be at least 6Mi (Docker refuses less)');
    out.memoryBytes = bytes;
  }
  return out;
}

/** The ports to publish: ssh and editor first (their reserved names), then spec.ports. */
export function publishedPorts(spec: WorkspaceSpec): PortSpec[] {
  const ports: PortSpec[] = [];
  if (spec.ssh) ports.push({ name: 'ssh', containerPort: spec.ssh.port ?? 22, protocol: 'tcp', ...(spec.ssh.hostPort ? { hostPort: spec.ssh.hostPort } : {}) });
  if (spec.editor) ports.push({ name: 'editor', containerPort: spec.editor.port ?? 8080, protocol: 'tcp', ...(spec.editor.hostPort ? { hostPort: spec.editor.hostPort } : {}) });
  for (const p of spec.ports ?? []) {
    ports.push({ name: p.name, containerPort: p.port, protocol: p.protocol === 'UDP' ? 'udp' : 'tcp', ...(p.hostPort ? { hostPort: p.hostPort } : {}) });
  }
  return ports;
}

/**
 * Builds the Docker target of a Workspace whose runtime is docker. Throws TerminalError (InvalidSpec)
 * for input only the user can fix and OutriggerError (SecretNotFound, SecretKeyMissing) for a
 * Secret that may yet appear. `host` is the Workspace's Host: what it says about every container on
 * its engine (spec.docker.ulimits) becomes part of the container spec, and so of its hash.
 */
export function buildTarget(ws: WorkspaceInput, secrets: SecretLookup, host?: Pick<Host, 'spec'>): BuiltTarget {
  const spec = ws.spec;
  const docker = spec.runtime.docker;
  if (!docker) invalid('spec.runtime.docker', 'must be set for a container workspace');
  const owner = workspaceOwner(ws);
  const namespace = owner.namespace;
  const user = workspaceUser(spec);
  const secretValues: string[] = [];

  const env: Record<string, string> = {
    OUTRIGGER_USER: user.name,
    OUTRIGGER_UID: String(user.uid),
    OUTRIGGER_HOME: user.home,
    OUTRIGGER_SSH: spec.ssh ? 'on' : 'off',
  };
  if (spec.ssh) env.OUTRIGGER_SSH_PORT = String(spec.ssh.port ?? 22);
  if (spec.editor) {
    env.OUTRIGGER_EDITOR = spec.editor.type === 'CodeServer' ? 'code-server' : spec.editor.type;
    env.OUTRIGGER_EDITOR_PORT = String(spec.editor.port ?? 8080);
  }
  const secretEnv: Record<string, SecretEnvVar> = {};
  const taken = (name: string): boolean => name in env || name in secretEnv;
  if (spec.editor?.passwordSecretRef) {
    const ref = spec.editor.passwordSecretRef;
    const field = 'spec.editor.passwordSecretRef';
    const value = secrets.value(namespace, ref, field).toString('utf8');
    secretEnv[EDITOR_PASSWORD_ENV] = { value, version: valueVersion(value) };
    secretValues.push(value);
  }
  for (const [i, variable] of (spec.env ?? []).entries()) {
    const field = `spec.env[${i}]`;
    if (variable.name.startsWith(CONTRACT_ENV_PREFIX)) invalid(`${field}.name`, `must not start with ${CONTRACT_ENV_PREFIX}: Outrigger sets those variables itself`);
    if (taken(variable.name)) {
      invalid(`${field}.name`, variable.name === EDITOR_PASSWORD_ENV ? 'PASSWORD is set from spec.editor.passwordSecretRef: choose another name' : `sets ${variable.name} a second time`);
    }
    if (variable.secretKeyRef) {
      const value = secrets.value(namespace, variable.secretKeyRef, `${field}.secretKeyRef`).toString('utf8');
      if (value.includes('\0')) invalid(`${field}.secretKeyRef`, 'points at a value with a NUL character, which an environment variable cannot hold');
      secretEnv[variable.name] = { value, version: valueVersion(value) };
      secretValues.push(value);
    } else {
      env[variable.name] = variable.value ?? '';
    }
  }

  const files: ContainerFile[] = [];
  if (spec.ssh) {
    files.push({ path: `${AUTHORIZED_KEYS_DIR}/${user.name}`, content: `${spec.ssh.authorizedKeys.join('\n')}\n`, mode: 0o644, uid: 0, gid: 0 });
  }
  for (const [i, file] of (spec.files ?? []).entries()) {
    const field = `spec.files[${i}]`;
    validateFilePath(file.path, `${field}.path`);
    if (file.path.startsWith(`${AUTHORIZED_KEYS_DIR}/`)) invalid(`${field}.path`, `must not be under ${AUTHORIZED_KEYS_DIR}: use spec.ssh.authorizedKeys`);
    const content = secrets.value(namespace, file.secretKeyRef, `${field}.secretKeyRef`);
    files.push({ path: file.path, content, mode: file.mode ?? 0o400, uid: user.uid, gid: user.uid });
    secretValues.push(content.toString('utf8'));
  }

  const containerSpec: ContainerSpec = {
    owner,
    image: docker.image,
    pullPolicy: docker.pullPolicy ?? 'IfNotPresent',
    ...(DNS_LABEL.test(owner.name) && owner.name.length <= 63 ? { hostname: owner.name } : {}),
    env,
    ...(Object.keys(secretEnv).length > 0 ? { secretEnv } : {}),
    ...resourceLimits(spec),
    ...(host?.spec.docker?.ulimits?.length ? { ulimits: host.spec.docker.ulimits.map(({ name, soft, hard }) => ({ name, soft, hard })) } : {}),
    home: { volume: homeVolumeName(owner), mountPath: user.home },
    ports: publishedPorts(spec),
    ...(docker.publishAddress ? { publishAddress: docker.publishAddress } : {}),
    ...(docker.network ? { network: docker.network } : {}),
    labels: { [OWNER_LABEL]: spec.owner },
  };
  try {
    validateContainerSpec(containerSpec);
  } catch (err) {
    // The docker layer names its own fields (home.mountPath); say where they come from in the Workspace.
    if (err instanceof TerminalError) throw new TerminalError(err.code, `spec: ${err.message}`, { field: err.field, cause: err });
    throw err;
  }
  return { spec: containerSpec, files, user, secretValues: secretValues.filter((v) => v.length >= 4) };
}

/** A SecretLookup over the shared SecretReader and its informer. */
export function secretLookup(reader: { value(ns: string, ref: { name: string; key: string }, field: string): Buffer }): SecretLookup {
  return { value: (ns, ref, field) => reader.value(ns, ref, field) };
}
