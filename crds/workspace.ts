// Workspace: one person's development environment, a container on a Host's Docker engine or a
// virtual machine on a ProxmoxCluster, with a home that outlives the container or VM.
import { z } from 'zod';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { KindDefinition } from './kind.ts';
import {
  absolutePath,
  countSet,
  deletionPolicy,
  duration,
  exactlyOneCel,
  immutable,
  RECREATE_HINT,
  ipAddress,
  listMap,
  listSet,
  localObjectReference,
  port,
  portName,
  quantity,
  secretKeyRef,
  sshPublicKey,
  statusSchema,
  text,
  timestamp,
  unixUser,
  withRules,
} from './common.ts';
import { proxmoxBridge, proxmoxNodeName, proxmoxStorage } from './proxmoxcluster.ts';
import { hostWithDocker, secretRefTo, type Reference } from './references.ts';

const IMAGE_COMPONENT = '[a-z0-9]+(([._]|__|[-]+)[a-z0-9]+)*';
const REGISTRY = '[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*(:[0-9]{1,5})?/';
/** A container image reference: [registry/]name[:tag][@sha256:digest]. */
export const IMAGE = new RegExp(`^(${REGISTRY})?${IMAGE_COMPONENT}(/${IMAGE_COMPONENT})*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`);
export const image = () => text(512, IMAGE, 'must be an image reference such as registry.example.com/team/workspace:1.2 (lower-case name, optional tag and @sha256 digest)');

/** A git repository URL: https://, ssh:// or scp-like user@host:path. */
const GIT_URL = /^(https:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?|ssh:\/\/([a-z_][a-z0-9_-]*@)?[A-Za-z0-9.-]+(:[0-9]{1,5})?|[a-z_][a-z0-9_-]*@[A-Za-z0-9.-]+:)\/?[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*\/?$/;
const GIT_REF = /^[A-Za-z0-9_][A-Za-z0-9._/-]*$/;
const RELATIVE_PATH = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const OWNER = /^[A-Za-z0-9][A-Za-z0-9._@+-]*$/;
const DOCKER_NETWORK = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const PROXMOX_TEMPLATE = /^([0-9]{3,9}|[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?)$/;
export const proxmoxTemplate = () => text(128, PROXMOX_TEMPLATE, 'must be the name or VMID of a Proxmox template VM');

/** Port names Workspace reserves for its built-in endpoints. */
export const RESERVED_PORT_NAMES = ['editor', 'ssh'] as const;

const dockerRuntime = z
  .strictObject({
    hostRef: immutable(
      localObjectReference('Host').describe('The Host whose Docker engine runs the container (its spec.docker must be set). Immutable: the home lives on that host.'),
      'hostRef',
    ),
    image: image().describe('Image the container runs. It should provide a shell, and sshd or code-server if those are used.'),
    pullPolicy: z
      .enum(['Always', 'IfNotPresent', 'Never'])
      .default('IfNotPresent')
      .describe('When to pull the image: Always, IfNotPresent (default) or Never (for images built on the host).'),
    network: text(64, DOCKER_NETWORK, 'must be a Docker network name (letters, digits, "_", "." and "-")')
      .optional()
      .describe('Docker network to attach the container to (default: the engine\'s default bridge).'),
    publishAddress: ipAddress()
      .optional()
      .describe('Host address the ports are published on. Default: all addresses. 127.0.0.1 keeps them reachable only from the host itself, for example behind a ProxyRoute on the same Host.'),
  })
  .describe('Run the workspace as a container on a Host\'s Docker engine.');

const proxmoxRuntime = z
  .strictObject({
    clusterRef: immutable(
      localObjectReference('ProxmoxCluster').describe('The ProxmoxCluster the virtual machine is made on. Immutable: the home disk lives there.'),
      'clusterRef',
    ),
    template: proxmoxTemplate().describe('Name or VMID of the template VM to clone. It should run cloud-init and the QEMU guest agent.'),
    fullClone: z.boolean().default(true).describe('Make a full clone (independent of the template) rather than a linked clone.'),
    node: proxmoxNodeName().optional().describe('Node to place the VM on (default: the cluster\'s defaults.node).'),
    storage: proxmoxStorage().optional().describe('Storage for the VM\'s disks (default: the cluster\'s defaults.storage).'),
    bridge: proxmoxBridge().optional().describe('Bridge for the VM\'s network interface (default: the cluster\'s defaults.bridge).'),
  })
  .describe('Run the workspace as a virtual machine cloned from a template on a ProxmoxCluster.');

const runtime = withRules(
  z.strictObject({ docker: dockerRuntime.optional(), proxmox: proxmoxRuntime.optional() })
    .describe('Where the workspace runs: exactly one of docker or proxmox.'),
  [
    {
      rule: exactlyOneCel(['docker', 'proxmox']),
      message: 'set exactly one of runtime.docker or runtime.proxmox',
      holds: (r) => countSet(r.docker, r.proxmox) === 1,
    },
    {
      rule: 'has(self.docker) == has(oldSelf.docker)',
      message: `the runtime cannot switch between docker and proxmox: ${RECREATE_HINT}`,
      holds: () => true, // a transition rule: kube-apiserver compares with the stored object
    },
  ],
);

const envVar = withRules(
  z
    .strictObject({
      name: text(256, ENV_NAME, 'must be an environment variable name: letters, digits and "_", not starting with a digit').describe('Variable name.'),
      value: text(32768).optional().describe('A literal value (not for secrets: it is visible in the resource).'),
      secretKeyRef: secretKeyRef().optional().describe('Take the value from a key of a Secret in the same namespace.'),
    })
    .describe('One environment variable of the workspace.'),
  [
    {
      rule: exactlyOneCel(['value', 'secretKeyRef']),
      message: 'set exactly one of value or secretKeyRef',
      holds: (e) => countSet(e.value, e.secretKeyRef) === 1,
    },
  ],
);

const secretFile = z
  .strictObject({
    path: absolutePath().describe('Absolute path of the file inside the workspace. Secret files live on a tmpfs, never in the image or the home.'),
    secretKeyRef: secretKeyRef().describe('The Secret key whose value becomes the file\'s content.'),
    mode: z.number().int().min(0).max(0o777).default(0o400).describe('File mode as a number (default 256, that is 0400: readable by the workspace user only).'),
  })
  .describe('A file whose content comes from a Secret.');

const bootstrap = withRules(
  z
    .strictObject({
      script: text(65536)
        .optional()
        .describe('Script run once per home as the workspace user, from a file (it may start with #!). Its output is kept in the home, never in status.'),
      dotfiles: z
        .strictObject({
          repository: text(1024, GIT_URL, 'must be a git URL: https://host/path, ssh://[user@]host/path or user@host:path').describe(
            'Git URL of the dotfiles repository (https://, ssh:// or user@host:path).',
          ),
          ref: text(255, GIT_REF, 'must be a branch, tag or commit name').optional().describe('Branch, tag or commit to check out (default: the repository\'s default branch).'),
          installScript: text(255, RELATIVE_PATH, 'must be a relative path inside the repository, without ".." segments')
            .optional()
            .describe('Script inside the repository to run after cloning (default: the first of install.sh, bootstrap.sh, setup.sh that exists).'),
        })
        .optional()
        .describe('Clone a dotfiles repository into the home and run its install script.'),
    })
    .describe('A one-time setup step for a new home: a script or a dotfiles repository. It runs once per home (a marker in the home records it) and its outcome is the Bootstrapped condition.'),
  [
    {
      rule: exactlyOneCel(['script', 'dotfiles']),
      message: 'set exactly one of bootstrap.script or bootstrap.dotfiles',
      holds: (b) => countSet(b.script, b.dotfiles) === 1,
    },
  ],
);

const publishedPort = withRules(
  z
    .strictObject({
      name: portName().describe('Port name, shown in status.endpoints and used by ProxyRoute workspaceRef.port. "editor" and "ssh" are reserved.'),
      port: port().describe('Port inside the workspace.'),
      protocol: z.enum(['TCP', 'UDP']).default('TCP').describe('TCP (default) or UDP.'),
      hostPort: port().optional().describe('Port on the host to publish on (Docker only). Default: a free port chosen by the engine, reported in status.endpoints.'),
    })
    .describe('A port of the workspace published to the outside.'),
  [
    {
      rule: `!(self.name in ${JSON.stringify(RESERVED_PORT_NAMES)})`,
      message: `port names ${RESERVED_PORT_NAMES.map((n) => `"${n}"`).join(' and ')} are reserved: use spec.editor and spec.ssh for those`,
      fieldPath: '.name',
      holds: (p) => !(RESERVED_PORT_NAMES as readonly string[]).includes(p.name),
    },
  ],
);

export const workspaceSpecSchema = withRules(
  z
    .strictObject({
      owner: text(128, OWNER, 'must be a user name or e-mail address (letters, digits and . _ @ + -)').describe(
        'Who the workspace belongs to: a user name or e-mail address. Shown in listings and put on the container or VM as a label.',
      ),
      runtime,
      resources: z
        .strictObject({
          cpu: quantity().optional().describe('CPU limit in cores, such as 2 or 500m. A Proxmox VM gets this many vCPUs, rounded up.'),
          memory: quantity().optional().describe('Memory limit, such as 4Gi.'),
        })
        .optional()
        .describe('CPU and memory for the workspace. Unset means no limit on Docker and the template\'s values on Proxmox.'),
      user: z
        .strictObject({
          name: unixUser().default('dev').describe('User name (default dev).'),
          uid: z.number().int().min(1).max(65535).default(1000).describe('Numeric user id (default 1000).'),
        })
        .default({ name: 'dev', uid: 1000 })
        .describe('The account inside the workspace that owns the home, runs the editor and receives the authorized SSH keys. Created if the image lacks it.'),
      home: z
        .strictObject({
          size: quantity().optional().describe('Size of the home (a disk on Proxmox; a size limit on Docker where the volume driver supports one).'),
          mountPath: absolutePath().optional().describe('Where the home is mounted (default /home/<user.name>).'),
        })
        .default({})
        .describe('The persistent home: a named Docker volume or a separate VM disk. It survives stop, re-creation of the container or VM and controller restarts; only deletion with deletionPolicy Delete removes it.'),
      bootstrap: bootstrap.optional(),
      env: listMap(envVar, ['name'], 128).optional().describe('Environment variables of the workspace, literal or from Secrets.'),
      files: listMap(secretFile, ['path'], 64).optional().describe('Files from Secrets, written on a tmpfs inside the workspace.'),
      ssh: z
        .strictObject({
          port: port().default(22).describe('Port sshd listens on inside the workspace (default 22).'),
          hostPort: port().optional().describe('Port on the host to publish SSH on (Docker only; default: chosen by the engine).'),
          authorizedKeys: listSet(sshPublicKey(), 64).min(1).describe('Public keys allowed to log in as the workspace user, one OpenSSH key line each.'),
        })
        .optional()
        .describe('SSH access to the workspace user, published as the "ssh" endpoint. The image must provide sshd.'),
      editor: z
        .strictObject({
          type: z.enum(['CodeServer']).default('CodeServer').describe('The editor to run: CodeServer (code-server, VS Code in the browser).'),
          port: port().default(8080).describe('Port the editor listens on inside the workspace (default 8080).'),
          hostPort: port().optional().describe('Port on the host to publish the editor on (Docker only; default: chosen by the engine).'),
          passwordSecretRef: secretKeyRef()
            .optional()
            .describe('Password for the editor, from a Secret. Without it the editor has no password of its own: publish it only on 127.0.0.1 and put a ProxyRoute with basic auth in front.'),
        })
        .optional()
        .describe('A browser editor, published as the "editor" endpoint.'),
      ports: listMap(publishedPort, ['name'], 32).optional().describe('Other ports to publish, reported in status.endpoints under their names.'),
      state: z.enum(['Running', 'Stopped']).default('Running').describe('Running (default) or Stopped. Stopped stops the container or VM and keeps the home.'),
      idleTimeout: duration()
        .optional()
        .describe('Stop the workspace after this long without activity (status.lastActivity). Unset: never stop for idleness.'),
      deletionPolicy: deletionPolicy(),
    })
    .describe('Desired state of a Workspace.'),
  [
    {
      rule: '!has(self.ports) || self.ports.all(p, self.ports.exists_one(q, q.port == p.port && q.protocol == p.protocol))',
      message: 'each port and protocol may be published once',
      fieldPath: '.ports',
      reason: 'FieldValueDuplicate',
      holds: (s) => {
        const seen = new Set((s.ports ?? []).map((p) => `${p.port}/${p.protocol}`));
        return seen.size === (s.ports ?? []).length;
      },
    },
    {
      rule: '!has(self.ports) || !has(self.editor) || self.ports.all(p, p.protocol != "TCP" || p.port != self.editor.port)',
      message: 'a port in ports uses the editor\'s port: choose another',
      fieldPath: '.ports',
      holds: (s) => !s.ports || !s.editor || s.ports.every((p) => p.protocol !== 'TCP' || p.port !== s.editor!.port),
    },
    {
      rule: '!has(self.ports) || !has(self.ssh) || self.ports.all(p, p.protocol != "TCP" || p.port != self.ssh.port)',
      message: 'a port in ports uses the SSH port: choose another',
      fieldPath: '.ports',
      holds: (s) => !s.ports || !s.ssh || s.ports.every((p) => p.protocol !== 'TCP' || p.port !== s.ssh!.port),
    },
  ],
);

const endpoint = z
  .strictObject({
    name: text(63).describe('Endpoint name: editor, ssh, or the name from spec.ports.'),
    protocol: z.enum(['TCP', 'UDP']).optional().describe('TCP or UDP.'),
    host: text(253).optional().describe('Address to connect to (the Host\'s address, or the VM\'s IP address).'),
    port: port().optional().describe('Port to connect to (the published host port for Docker).'),
    url: text(2048).optional().describe('Ready-to-use URL, where one makes sense (http:// for the editor, ssh:// for SSH).'),
  })
  .describe('One reachable port of the workspace.');

export const workspaceStatusSchema = statusSchema('Observed state of a Workspace.', {
  phase: z
    .enum(['Pending', 'Creating', 'Starting', 'Running', 'Stopping', 'Stopped', 'Failed', 'Deleting', 'Unknown'])
    .optional()
    .describe('Summary of the lifecycle: Pending, Creating, Starting, Running, Stopping, Stopped, Failed, Deleting, or Unknown while its engine does not answer. Conditions carry the details.'),
  endpoints: z.array(endpoint).max(64).optional().describe('Where to reach the workspace\'s published ports.'),
  lastActivity: timestamp().optional().describe('Last time activity was seen inside the workspace; idleTimeout counts from here.'),
  bootstrap: z
    .strictObject({
      state: z.enum(['Pending', 'Succeeded', 'Failed']).optional().describe('Pending, Succeeded or Failed.'),
      completionTime: timestamp().optional().describe('When the bootstrap step finished.'),
      message: text(4096).optional().describe('What failed, when it failed (never secret values).'),
    })
    .optional()
    .describe('Outcome of the one-time bootstrap step for the current home.'),
  docker: z
    .strictObject({
      containerId: text(128).optional().describe('Id of the container.'),
      containerName: text(256).optional().describe('Name of the container.'),
      volumeName: text(256).optional().describe('Name of the home volume.'),
      imageId: text(256).optional().describe('Id of the image the container runs.'),
    })
    .optional()
    .describe('The Docker objects behind the workspace.'),
  proxmox: z
    .strictObject({
      vmid: z.number().int().min(0).optional().describe('VMID of the virtual machine.'),
      node: text(63).optional().describe('Node the VM runs on.'),
    })
    .optional()
    .describe('The Proxmox virtual machine behind the workspace.'),
  specHash: text(128).optional().describe('Hash of the spec fields the running container or VM was made from; a different hash means it is re-created.'),
});

export type WorkspaceSpec = z.infer<typeof workspaceSpecSchema>;
export type WorkspaceStatus = z.infer<typeof workspaceStatusSchema>;
export interface Workspace {
  apiVersion: 'outrigger.dev/v1alpha1';
  kind: 'Workspace';
  metadata: V1ObjectMeta;
  spec: WorkspaceSpec;
  status?: WorkspaceStatus;
}

/** What a Workspace names: its Host or cluster (protected: cleanup goes through it) and the Secrets it reads. */
export function workspaceReferences(spec: WorkspaceSpec): Reference[] {
  const refs: Reference[] = [];
  const docker = spec.runtime.docker;
  if (docker) refs.push({ field: 'spec.runtime.docker.hostRef', kind: 'Host', name: docker.hostRef.name, protects: true, check: hostWithDocker(docker.hostRef.name, 'a Workspace container') });
  const proxmox = spec.runtime.proxmox;
  if (proxmox) refs.push({ field: 'spec.runtime.proxmox.clusterRef', kind: 'ProxmoxCluster', name: proxmox.clusterRef.name, protects: true });
  (spec.env ?? []).forEach((e, i) => refs.push(...secretRefTo(`spec.env[${i}].secretKeyRef`, e.secretKeyRef)));
  (spec.files ?? []).forEach((f, i) => refs.push(...secretRefTo(`spec.files[${i}].secretKeyRef`, f.secretKeyRef)));
  refs.push(...secretRefTo('spec.editor.passwordSecretRef', spec.editor?.passwordSecretRef));
  return refs;
}

export const workspaceKind: KindDefinition<typeof workspaceSpecSchema, typeof workspaceStatusSchema> = {
  kind: 'Workspace',
  plural: 'workspaces',
  singular: 'workspace',
  listKind: 'WorkspaceList',
  shortNames: ['ws'],
  description:
    'A Workspace is one person\'s development environment: a container on a Host\'s Docker engine or a VM on a ProxmoxCluster, with a persistent home, an optional browser editor and SSH access, kept as specified until deleted.',
  spec: workspaceSpecSchema,
  status: workspaceStatusSchema,
  references: workspaceReferences,
  printerColumns: [
    { name: 'Owner', type: 'string', jsonPath: '.spec.owner', description: 'Who the workspace belongs to.' },
    { name: 'State', type: 'string', jsonPath: '.spec.state', description: 'Desired state.' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Observed lifecycle phase.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition.' },
    { name: 'Host', type: 'string', jsonPath: '.spec.runtime.docker.hostRef.name', priority: 1, description: 'Host running the container.' },
    { name: 'Cluster', type: 'string', jsonPath: '.spec.runtime.proxmox.clusterRef.name', priority: 1, description: 'ProxmoxCluster running the VM.' },
    { name: 'Last Activity', type: 'date', jsonPath: '.status.lastActivity', priority: 1, description: 'Last activity seen inside the workspace.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
