// Host: an external machine Outrigger reaches over SSH and/or through its Docker engine.
import { z } from 'zod';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { KindDefinition } from './kind.ts';
import {
  absolutePath,
  address,
  countSet,
  exactlyOneCel,
  listMap,
  port,
  secretKeyRef,
  secretReference,
  SSH_HOST_KEY,
  statusSchema,
  text,
  timestamp,
  unixUser,
  UNIX_USER,
  duration,
  withRules,
} from './common.ts';
import { secretRefTo, type Reference } from './references.ts';

const sshSpec = z
  .strictObject({
    port: port().default(22).describe('SSH port on the host.'),
    user: unixUser().describe('User Outrigger logs in as. It needs to write the nginx configuration directory and run the test and reload commands (directly or through sudo).'),
    privateKeySecretRef: secretKeyRef('ssh-privatekey').describe(
      'The private key Outrigger authenticates with: a key of a Secret in the same namespace (a kubernetes.io/ssh-auth Secret keeps it under ssh-privatekey).',
    ),
    passphraseSecretRef: secretKeyRef()
      .optional()
      .describe('Passphrase of the private key, if it has one: a key of a Secret in the same namespace.'),
    hostKey: text(8192, SSH_HOST_KEY, 'must be one OpenSSH public key line such as "ssh-ed25519 AAAA..." (the content of /etc/ssh/ssh_host_ed25519_key.pub)').describe(
      'The pinned public host key, one OpenSSH public key line as in /etc/ssh/ssh_host_ed25519_key.pub ("ssh-ed25519 AAAA..."). A server presenting any other key is refused. Get it with `ssh-keyscan -t ed25519 <address>` over a trusted path.',
    ),
    connectTimeout: duration().default('10s').describe('How long to wait for the SSH handshake.'),
    keepaliveInterval: duration().default('15s').describe('Interval between SSH keepalive messages on the shared connection.'),
  })
  .describe('How to reach the host over SSH. One connection per Host is shared by everything that uses it.');

/** setrlimit resources as Docker names them (the provider validates the same list). */
export const ULIMIT_NAMES = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'] as const;

const ulimitBound = (description: string) => z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER).describe(`${description} -1 is unlimited.`);

const ulimit = withRules(
  z
    .strictObject({
      name: z.enum(ULIMIT_NAMES).describe('The resource, as `ulimit` and Docker name it: nofile (open files), nproc (processes of the user), memlock, core, stack, ...'),
      soft: ulimitBound('The soft limit, the one enforced.'),
      hard: ulimitBound('The hard limit, up to which a process may raise its soft limit; at most the machine\'s own hard limit.'),
    })
    .describe('One resource limit.'),
  [
    {
      rule: 'self.hard == -1 || (self.soft != -1 && self.soft <= self.hard)',
      message: 'soft must not exceed hard',
      fieldPath: '.soft',
      holds: (u) => u.hard === -1 || (u.soft !== -1 && u.soft <= u.hard),
    },
  ],
);

const dockerSpec = withRules(
  z
    .strictObject({
      unix: z
        .strictObject({
          path: absolutePath().default('/var/run/docker.sock').describe('Path of the Docker socket on the machine running the controller.'),
        })
        .optional()
        .describe('The Docker engine on the machine that runs the controller, through its unix socket.'),
      tcp: z
        .strictObject({
          port: port().default(2376).describe('TCP port of the Docker engine on spec.address.'),
          tlsSecretRef: secretReference().describe(
            'Secret in the same namespace with the client TLS material: ca.crt (the engine\'s CA), tls.crt and tls.key (the client certificate and key). Unauthenticated TCP is not supported.',
          ),
        })
        .optional()
        .describe('The Docker engine on spec.address over TCP with mutual TLS.'),
      ssh: z
        .strictObject({
          socketPath: absolutePath().default('/var/run/docker.sock').describe('Path of the Docker socket on the remote host.'),
        })
        .optional()
        .describe('The Docker engine on the remote host, through the Host\'s SSH connection to its unix socket. Requires spec.ssh.'),
      ulimits: listMap(ulimit, ['name'], ULIMIT_NAMES.length)
        .optional()
        .describe(
          'Resource limits (setrlimit) of every Workspace container on this engine. Unset: the engine\'s defaults (Docker passes on its own limits; Podman sets nofile and nproc from its containers.conf, 1048576 without one, which fails where the machine\'s hard limits are lower). On Podman, setting any limit here replaces all of containers.conf\'s default_ulimits, so set nofile and nproc together. A change re-creates the containers (homes are kept).',
        ),
    })
    .describe('How to reach the host\'s Docker engine. Exactly one of unix, tcp or ssh.'),
  [
    {
      rule: exactlyOneCel(['unix', 'tcp', 'ssh']),
      message: 'set exactly one of docker.unix, docker.tcp or docker.ssh',
      holds: (d) => countSet(d.unix, d.tcp, d.ssh) === 1,
    },
  ],
);

const nginxCommand = (what: string, example: string[]) =>
  z
    .array(text(256, /^[A-Za-z0-9_./=:,+@%-]+$/, 'each argument may hold only A-Z a-z 0-9 and _ . / = : , + @ % -'))
    .min(1)
    .max(16)
    .default(example)
    .describe(`${what}, as a program and its arguments (never a shell string). Default: ${example.join(' ')}.`);

const nginxSpec = z
  .strictObject({
    configDir: absolutePath()
      .default('/etc/nginx/outrigger')
      .describe(
        'Directory Outrigger owns entirely: it stages, switches and keeps the last good configuration there, and never touches files outside it. The main nginx configuration must include the generated server files from it (see the ProxyRoute documentation).',
      ),
    mainConfigFile: absolutePath().default('/etc/nginx/nginx.conf').describe('The main nginx configuration file, tested as a whole before each switch.'),
    errorLogFile: absolutePath().default('/var/log/nginx/error.log').describe('nginx\'s error log, read after a reload to verify it took effect cleanly.'),
    testCommand: nginxCommand('Command that checks the whole configuration', ['nginx', '-t']),
    reloadCommand: nginxCommand('Command that makes nginx load the new configuration', ['nginx', '-s', 'reload']),
    sudo: z.boolean().default(false).describe('Run the test and reload commands through `sudo -n` (for a non-root SSH user).'),
    workerGroup: text(32, UNIX_USER, 'must be a POSIX group name: a-z, 0-9, "_" and "-", starting with a letter or "_"')
      .optional()
      .describe('Group the nginx worker processes run as (www-data on Debian, nginx on Fedora). Basic-auth password files are then written 0640 with this group; without it they are 0644, readable by every user on the host.'),
    statusPort: port()
      .default(10080)
      .describe('Loopback port of the small status server Outrigger adds to nginx to verify which configuration is live (reached through the SSH connection, never exposed). Pick a port nothing else on the host listens on.'),
    listenIPv6: z.boolean().default(false).describe('Also listen on [::]:80 and [::]:443 (the host needs IPv6 enabled, or nginx refuses the configuration).'),
  })
  .describe('The nginx on this host that ProxyRoutes configure, reached over SSH. Requires spec.ssh.');

export const hostSpecSchema = withRules(
  z
    .strictObject({
      address: address()
        .optional()
        .describe('Host name or IP address of the machine. Required for ssh and docker.tcp; not needed for a local Docker socket.'),
      ssh: sshSpec.optional(),
      docker: dockerSpec.optional(),
      nginx: nginxSpec.optional(),
    })
    .describe('Desired state of a Host: how Outrigger reaches an external machine.'),
  [
    {
      rule: 'has(self.ssh) || has(self.docker)',
      message: 'a Host needs a way in: set ssh, docker, or both',
      holds: (s) => s.ssh !== undefined || s.docker !== undefined,
    },
    {
      rule: '!has(self.ssh) || has(self.address)',
      message: 'address is required when ssh is set',
      fieldPath: '.address',
      reason: 'FieldValueRequired',
      holds: (s) => s.ssh === undefined || s.address !== undefined,
    },
    {
      rule: '!has(self.docker) || !has(self.docker.tcp) || has(self.address)',
      message: 'address is required when docker.tcp is set',
      fieldPath: '.address',
      reason: 'FieldValueRequired',
      holds: (s) => s.docker?.tcp === undefined || s.address !== undefined,
    },
    {
      rule: '!has(self.docker) || !has(self.docker.ssh) || has(self.ssh)',
      message: 'docker.ssh goes through the SSH connection: set ssh too',
      fieldPath: '.ssh',
      reason: 'FieldValueRequired',
      holds: (s) => s.docker?.ssh === undefined || s.ssh !== undefined,
    },
    {
      rule: '!has(self.nginx) || has(self.ssh)',
      message: 'nginx is configured over SSH: set ssh too',
      fieldPath: '.ssh',
      reason: 'FieldValueRequired',
      holds: (s) => s.nginx === undefined || s.ssh !== undefined,
    },
  ],
);

export const hostStatusSchema = statusSchema('Observed state of a Host.', {
  reachable: z.boolean().optional().describe('Whether the last connection attempt succeeded (SSH, or the Docker engine when there is no SSH).'),
  lastProbeTime: timestamp().optional().describe('When the host was last probed.'),
  hostKeyFingerprint: text(128).optional().describe('SHA256 fingerprint of the pinned host key, as ssh-keygen -l prints it.'),
  facts: z
    .strictObject({
      os: text(256).optional().describe('Operating system name and version (PRETTY_NAME from /etc/os-release).'),
      kernel: text(256).optional().describe('Kernel release (uname -r).'),
      architecture: text(64).optional().describe('CPU architecture (uname -m).'),
      cpus: z.number().int().min(0).optional().describe('Number of CPUs.'),
      memoryBytes: z.number().int().min(0).optional().describe('Total memory in bytes.'),
      dockerVersion: text(64).optional().describe('Docker engine version.'),
      dockerApiVersion: text(64).optional().describe('Docker engine API version.'),
      nginxVersion: text(64).optional().describe('nginx version.'),
    })
    .optional()
    .describe('What Outrigger learned about the machine on its last successful probe.'),
});

export type HostSpec = z.infer<typeof hostSpecSchema>;
export type HostStatus = z.infer<typeof hostStatusSchema>;
export interface Host {
  apiVersion: 'outrigger.dev/v1alpha1';
  kind: 'Host';
  metadata: V1ObjectMeta;
  spec: HostSpec;
  status?: HostStatus;
}

/** What a Host names: the Secrets its connections need (protected: dependants are cleaned up through them). */
export function hostReferences(spec: HostSpec): Reference[] {
  return [
    ...secretRefTo('spec.ssh.privateKeySecretRef', spec.ssh?.privateKeySecretRef, true),
    ...secretRefTo('spec.ssh.passphraseSecretRef', spec.ssh?.passphraseSecretRef, true),
    ...secretRefTo('spec.docker.tcp.tlsSecretRef', spec.docker?.tcp?.tlsSecretRef, true),
  ];
}

export const hostKind: KindDefinition<typeof hostSpecSchema, typeof hostStatusSchema> = {
  kind: 'Host',
  plural: 'hosts',
  singular: 'host',
  listKind: 'HostList',
  shortNames: ['ohost'],
  description:
    'A Host is an external machine Outrigger manages: reached over SSH (with a pinned host key), through its Docker engine, or both, optionally running the nginx that ProxyRoutes configure.',
  spec: hostSpecSchema,
  status: hostStatusSchema,
  references: hostReferences,
  printerColumns: [
    { name: 'Address', type: 'string', jsonPath: '.spec.address', description: 'Host name or IP address.' },
    { name: 'Reachable', type: 'boolean', jsonPath: '.status.reachable', description: 'Whether the last probe reached the host.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition.' },
    { name: 'OS', type: 'string', jsonPath: '.status.facts.os', priority: 1, description: 'Operating system.' },
    { name: 'Docker', type: 'string', jsonPath: '.status.facts.dockerVersion', priority: 1, description: 'Docker engine version.' },
    { name: 'Nginx', type: 'string', jsonPath: '.status.facts.nginxVersion', priority: 1, description: 'nginx version.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
