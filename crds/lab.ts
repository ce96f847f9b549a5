// Lab: a set of machines (Proxmox VMs and/or containers on Hosts) with their own networks,
// provisioned in dependency order, on a schedule, and rolled back or kept when provisioning fails.
import { z } from 'zod';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { KindDefinition } from './kind.ts';
import {
  cidr,
  countSet,
  deletionPolicy,
  dnsLabel,
  duration,
  exactlyOneCel,
  immutable,
  RECREATE_HINT,
  listMap,
  listSet,
  localObjectReference,
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
import { image, proxmoxTemplate } from './workspace.ts';
import { hostWithDocker, secretRefTo, type Reference } from './references.ts';

const PACKAGE = /^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:-]+)?$/;
const TIME_OF_DAY = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
const TIME_ZONE = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;
const GROUP = /^[a-z_][a-z0-9_-]{0,31}$/;

const machineNetwork = z
  .strictObject({
    name: dnsLabel().describe('Name of a network in spec.networks.'),
    address: cidr().optional().describe('Static address with prefix length, such as 10.10.0.10/24. Default: DHCP where the network offers it, otherwise the next free address of the network\'s cidr.'),
  })
  .describe('One network interface of a machine.');

const cloudInitUser = z
  .strictObject({
    name: unixUser().describe('User name.'),
    sudo: z.boolean().default(false).describe('Allow password-less sudo.'),
    groups: listSet(text(32, GROUP, 'must be a group name'), 16).optional().describe('Extra groups.'),
    sshAuthorizedKeys: listSet(sshPublicKey(), 32).optional().describe('Public keys allowed to log in as this user.'),
  })
  .describe('A user created on first boot.');

const provisionStep = z
  .strictObject({
    name: dnsLabel().describe('Step name, shown in status and events.'),
    script: text(65536).describe('Script run as spec.ssh.user (with sudo available), sent as a file, never interpolated into a command line.'),
    timeout: duration().default('10m').describe('How long the step may run (default 10m).'),
  })
  .describe('A provisioning step run over SSH once the machine is up.');

const machine = withRules(
  z
    .strictObject({
      name: dnsLabel().describe('Machine name, unique in the Lab; also its host name.'),
      proxmox: z
        .strictObject({
          clusterRef: immutable(localObjectReference('ProxmoxCluster').describe('The ProxmoxCluster the VM is made on. Immutable.'), 'clusterRef'),
          template: proxmoxTemplate().describe('Name or VMID of the template VM to clone (cloud-init and the QEMU guest agent expected).'),
          fullClone: z.boolean().default(true).describe('Full clone (default) rather than linked clone.'),
          node: proxmoxNodeName().optional().describe('Node (default: the cluster\'s defaults.node).'),
          storage: proxmoxStorage().optional().describe('Storage for disks (default: the cluster\'s defaults.storage).'),
        })
        .optional()
        .describe('Make this machine a VM cloned from a template on a ProxmoxCluster.'),
      docker: z
        .strictObject({
          hostRef: immutable(localObjectReference('Host').describe('The Host whose Docker engine runs the container. Immutable.'), 'hostRef'),
          image: image().describe('Image of the container.'),
        })
        .optional()
        .describe('Make this machine a container on a Host\'s Docker engine.'),
      resources: z
        .strictObject({
          cpu: quantity().optional().describe('CPU cores, such as 2 (containers accept fractions such as 500m).'),
          memory: quantity().optional().describe('Memory, such as 2Gi.'),
          disk: quantity().optional().describe('Size of the root disk, such as 20Gi (VMs; the template\'s disk is grown to it).'),
        })
        .optional()
        .describe('CPU, memory and disk. Unset values come from the template (VMs) or are unlimited (containers).'),
      networks: listMap(machineNetwork, ['name'], 8).optional().describe('Networks the machine attaches to, in interface order.'),
      cloudInit: z
        .strictObject({
          users: listMap(cloudInitUser, ['name'], 16).optional().describe('Users to create.'),
          packages: listSet(text(128, PACKAGE, 'must be a package name, optionally with =version'), 128).optional().describe('Packages to install.'),
          commands: z.array(text(4096)).max(64).optional().describe('Commands run once on first boot, in order (cloud-init runcmd).'),
        })
        .optional()
        .describe('First-boot configuration: cloud-init for VMs; applied inside containers after their first start.'),
      dependsOn: listSet(dnsLabel(), 10).optional().describe('Machines in this Lab that must be Ready before this one is created.'),
      provision: listMap(provisionStep, ['name'], 32).optional().describe('Steps run over SSH in order once the machine is up; each runs once per machine.'),
    })
    .describe('One machine of the Lab: a VM (proxmox) or a container (docker).'),
  [
    {
      rule: exactlyOneCel(['proxmox', 'docker']),
      message: 'set exactly one of proxmox or docker for each machine',
      holds: (m) => countSet(m.proxmox, m.docker) === 1,
    },
    {
      rule: 'has(self.docker) == has(oldSelf.docker)',
      message: `a machine cannot switch between proxmox and docker: ${RECREATE_HINT}`,
      holds: () => true, // a transition rule: kube-apiserver compares with the stored object
    },
  ],
);

const network = z
  .strictObject({
    name: dnsLabel().describe('Network name, unique in the Lab.'),
    isolated: z.boolean().default(true).describe('Isolated (default): only the Lab\'s machines are on it and it has no route out. False: bridged to the outside.'),
    cidr: cidr().optional().describe('Address range, such as 10.10.0.0/24.'),
    vlan: z.number().int().min(1).max(4094).optional().describe('VLAN tag (Proxmox).'),
    bridge: proxmoxBridge().optional().describe('Proxmox bridge to use for a non-isolated network (default: the cluster\'s defaults.bridge).'),
  })
  .describe('A network of the Lab.');

const schedule = withRules(
  z
    .strictObject({
      expiresAt: timestamp().optional().describe('When the Lab expires, as an RFC 3339 time.'),
      ttl: duration().optional().describe('How long after creation the Lab expires, such as 8h or 7d.'),
      expiryAction: z
        .enum(['Delete', 'Stop'])
        .default('Delete')
        .describe('What expiry does: Delete (default) removes the machines and keeps the Lab object with phase Expired; Stop stops them.'),
      dailyStop: text(5, TIME_OF_DAY, 'must be a time of day as HH:MM').optional().describe('Time of day to stop every machine, HH:MM.'),
      dailyStart: text(5, TIME_OF_DAY, 'must be a time of day as HH:MM').optional().describe('Time of day to start every machine again, HH:MM.'),
      timeZone: text(64, TIME_ZONE, 'must be an IANA time zone such as Europe/Berlin').default('UTC').describe('IANA time zone of dailyStop and dailyStart (default UTC).'),
    })
    .describe('When the Lab runs and when it ends.'),
  [
    {
      rule: '!(has(self.expiresAt) && has(self.ttl))',
      message: 'set either schedule.expiresAt or schedule.ttl, not both',
      fieldPath: '.ttl',
      holds: (s) => !(s.expiresAt !== undefined && s.ttl !== undefined),
    },
  ],
);

export const labSpecSchema = withRules(
  z
    .strictObject({
      machines: listMap(machine, ['name'], 32).min(1).describe('The machines of the Lab.'),
      networks: listMap(network, ['name'], 16).optional().describe('Networks the machines attach to.'),
      ssh: z
        .strictObject({
          user: unixUser().default('outrigger').describe('User Outrigger creates on every machine and runs provisioning as (default outrigger).'),
          privateKeySecretRef: secretKeyRef('ssh-privatekey').describe('Private key for that user, from a Secret in the same namespace; its public key is installed on every machine.'),
        })
        .optional()
        .describe('How Outrigger logs in to the machines to run provisioning steps. Required when a machine has provision steps.'),
      schedule: schedule.optional(),
      snapshotOnReady: z.boolean().default(false).describe('Snapshot every VM once all machines are Ready, as the point to roll back to.'),
      failurePolicy: z
        .enum(['Rollback', 'Keep'])
        .default('Keep')
        .describe('When a machine fails to come up or a provisioning step fails: Keep (default) leaves everything for inspection; Rollback removes the machines this attempt created (or reverts to the ready snapshot) before retrying.'),
      state: z.enum(['Running', 'Stopped']).default('Running').describe('Running (default) or Stopped (every machine stopped, nothing removed).'),
      deletionPolicy: deletionPolicy(),
    })
    .describe('Desired state of a Lab.'),
  [
    {
      rule: 'self.machines.all(m, !has(m.networks) || m.networks.all(n, has(self.networks) && self.networks.exists(x, x.name == n.name)))',
      message: 'every machine network must name a network in spec.networks',
      fieldPath: '.machines',
      holds: (s) => s.machines.every((m) => (m.networks ?? []).every((n) => (s.networks ?? []).some((x) => x.name === n.name))),
    },
    {
      rule: 'self.machines.all(m, !has(m.dependsOn) || m.dependsOn.all(d, d != m.name && self.machines.exists(x, x.name == d)))',
      message: 'dependsOn must name other machines of this Lab',
      fieldPath: '.machines',
      holds: (s) => s.machines.every((m) => (m.dependsOn ?? []).every((d) => d !== m.name && s.machines.some((x) => x.name === d))),
    },
    {
      rule: 'has(self.ssh) || !self.machines.exists(m, has(m.provision))',
      message: 'ssh is required when a machine has provision steps',
      fieldPath: '.ssh',
      reason: 'FieldValueRequired',
      holds: (s) => s.ssh !== undefined || !s.machines.some((m) => m.provision !== undefined),
    },
  ],
);

const machineStatus = z
  .strictObject({
    name: text(63).describe('Machine name.'),
    phase: z
      .enum(['Pending', 'Creating', 'Booting', 'Provisioning', 'Ready', 'Stopped', 'Failed', 'Deleting'])
      .optional()
      .describe('Pending, Creating, Booting, Provisioning, Ready, Stopped, Failed or Deleting.'),
    address: text(64).optional().describe('Primary IP address.'),
    addresses: z.array(text(64)).max(16).optional().describe('All IP addresses.'),
    vmid: z.number().int().min(0).optional().describe('VMID (VMs).'),
    node: text(63).optional().describe('Proxmox node (VMs).'),
    containerId: text(128).optional().describe('Container id (containers).'),
    completedSteps: z.array(text(63)).max(32).optional().describe('Provisioning steps that have run.'),
    message: text(4096).optional().describe('Why the machine is not Ready.'),
  })
  .describe('Observed state of one machine.');

export const labStatusSchema = statusSchema('Observed state of a Lab.', {
  phase: z
    .enum(['Pending', 'Provisioning', 'Ready', 'Degraded', 'Stopped', 'Failed', 'Expired', 'Deleting'])
    .optional()
    .describe('Pending, Provisioning, Ready, Degraded, Stopped, Failed, Expired or Deleting.'),
  machines: z.array(machineStatus).max(32).optional().describe('Per-machine state.'),
  readyMachines: text(16).optional().describe('Ready machines out of all, such as 3/5.'),
  readyCount: z.number().int().min(0).optional().describe('Number of Ready machines.'),
  machineCount: z.number().int().min(0).optional().describe('Number of machines.'),
  expiresAt: timestamp().optional().describe('When the Lab expires (from expiresAt or ttl).'),
  nextStopTime: timestamp().optional().describe('Next daily stop.'),
  nextStartTime: timestamp().optional().describe('Next daily start.'),
  snapshot: z
    .strictObject({
      name: text(64).optional().describe('Snapshot name.'),
      time: timestamp().optional().describe('When it was taken.'),
    })
    .optional()
    .describe('The snapshot taken when the Lab became Ready.'),
});

export type LabSpec = z.infer<typeof labSpecSchema>;
export type LabStatus = z.infer<typeof labStatusSchema>;
export interface Lab {
  apiVersion: 'outrigger.dev/v1alpha1';
  kind: 'Lab';
  metadata: V1ObjectMeta;
  spec: LabSpec;
  status?: LabStatus;
}

/** What a Lab names: the Hosts and clusters its machines run on (protected) and its SSH key Secret. */
export function labReferences(spec: LabSpec): Reference[] {
  const refs: Reference[] = [];
  spec.machines.forEach((m, i) => {
    if (m.docker) refs.push({ field: `spec.machines[${i}].docker.hostRef`, kind: 'Host', name: m.docker.hostRef.name, protects: true, check: hostWithDocker(m.docker.hostRef.name, `machine "${m.name}" as a container`) });
    if (m.proxmox) refs.push({ field: `spec.machines[${i}].proxmox.clusterRef`, kind: 'ProxmoxCluster', name: m.proxmox.clusterRef.name, protects: true });
  });
  refs.push(...secretRefTo('spec.ssh.privateKeySecretRef', spec.ssh?.privateKeySecretRef));
  return refs;
}

export const labKind: KindDefinition<typeof labSpecSchema, typeof labStatusSchema> = {
  kind: 'Lab',
  plural: 'labs',
  singular: 'lab',
  listKind: 'LabList',
  shortNames: ['olab'],
  description:
    'A Lab is a set of machines (Proxmox VMs and containers) with their own networks, created in dependency order, provisioned over SSH, optionally snapshotted when ready, stopped and started on a schedule and removed when it expires.',
  spec: labSpecSchema,
  status: labStatusSchema,
  references: labReferences,
  printerColumns: [
    { name: 'Machines', type: 'string', jsonPath: '.status.readyMachines', description: 'Ready machines out of all.' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Observed phase.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition.' },
    { name: 'Expires', type: 'string', jsonPath: '.status.expiresAt', description: 'When the Lab expires.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
