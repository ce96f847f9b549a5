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

const labSpecRules = withRules(
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
      snapshotOnReady: z.boolean().default(false).describe('Snapshot every machine once all are Ready (VMs: a Proxmox snapshot; containers: an image committed from each), as the point the annotation outrigger.dev/revert and failurePolicy Rollback go back to.'),
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

/**
 * Rules CEL cannot say within its cost budget (a cycle through dependsOn) or that need address
 * arithmetic: checked by zod, so the admission webhook rejects them and the reconciler re-checks
 * (on the embedded API, which runs no webhook, the Lab is Stalled with the same message).
 */
export const labSpecSchema = labSpecRules.superRefine((spec, ctx) => {
  const cycle = dependencyCycle(spec.machines);
  if (cycle) {
    ctx.addIssue({ code: 'custom', path: ['machines'], input: spec.machines, message: `dependsOn forms a cycle (${cycle.join(' -> ')}): a machine cannot wait for itself; remove one of these dependencies` });
  }
  for (const problem of addressProblems(spec)) ctx.addIssue({ code: 'custom', path: problem.path, input: spec, message: problem.message });
  const zone = spec.schedule?.timeZone;
  if (zone && !knownTimeZone(zone)) ctx.addIssue({ code: 'custom', path: ['schedule', 'timeZone'], input: zone, message: `"${zone}" is not an IANA time zone: use one such as Europe/Berlin or UTC` });
});

function knownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The first dependency cycle among the machines, as names from a machine back to itself; undefined when there is none. */
export function dependencyCycle(machines: ReadonlyArray<{ name: string; dependsOn?: readonly string[] }>): string[] | undefined {
  const deps = new Map(machines.map((m) => [m.name, m.dependsOn ?? []]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'visiting');
    path.push(name);
    for (const d of deps.get(name) ?? []) {
      if (!deps.has(d)) continue; // a missing name is the CEL rule's to report
      const found = visit(d);
      if (found) return found;
    }
    path.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const m of machines) {
    const found = visit(m.name);
    if (found) return found;
  }
  return undefined;
}

/** An IPv4 address as a number, or undefined when it is not one. */
export function ipv4ToNumber(address: string): number | undefined {
  const parts = address.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^[0-9]{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** First and last address of an IPv4 cidr, or undefined for IPv6 and malformed values. */
export function ipv4Range(cidr: string): { first: number; last: number; prefix: number } | undefined {
  const [base, bits] = cidr.split('/');
  const start = base === undefined ? undefined : ipv4ToNumber(base);
  const prefix = Number(bits);
  if (start === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  const first = Math.floor(start / size) * size;
  return { first, last: first + size - 1, prefix };
}

/** Static addresses that cannot work: outside the network's cidr, without a cidr, taken twice, or the network's own first/last address. */
export function addressProblems(spec: Pick<LabSpecInput, 'machines' | 'networks'>): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  const networks = new Map((spec.networks ?? []).map((n) => [n.name, n]));
  const taken = new Map<string, string>();
  spec.machines.forEach((m, i) => {
    (m.networks ?? []).forEach((attachment, j) => {
      if (!attachment.address) return;
      const path = ['machines', i, 'networks', j, 'address'];
      const net = networks.get(attachment.name);
      if (!net) return; // the CEL rule names the missing network
      const [ip, bits] = attachment.address.split('/');
      if (!net.cidr) {
        problems.push({ path, message: `network "${net.name}" has no cidr: give it one (spec.networks[].cidr) to use static addresses, or leave the address unset` });
        return;
      }
      const range = ipv4Range(net.cidr);
      const n = ip === undefined ? undefined : ipv4ToNumber(ip);
      if (!range || n === undefined) {
        problems.push({ path, message: 'static addresses are IPv4 (such as 10.10.0.10/24) on networks with an IPv4 cidr' });
        return;
      }
      if (Number(bits) !== range.prefix) problems.push({ path, message: `prefix length /${bits} differs from network "${net.name}" (${net.cidr}): write ${ip}/${range.prefix}` });
      else if (n < range.first || n > range.last) problems.push({ path, message: `${ip} is outside network "${net.name}" (${net.cidr})` });
      else if (range.prefix < 31 && (n === range.first || n === range.last)) problems.push({ path, message: `${ip} is the network or broadcast address of ${net.cidr}: choose another` });
      else if (range.prefix < 31 && n === range.first + 1) problems.push({ path, message: `${ip} is the first address of ${net.cidr}, which the network's gateway holds: choose another` });
      else {
        const key = `${net.name}/${ip}`;
        const other = taken.get(key);
        if (other) problems.push({ path, message: `${ip} on network "${net.name}" is already the address of machine "${other}"` });
        else taken.set(key, m.name);
      }
    });
  });
  return problems;
}

const stepStatus = z
  .strictObject({
    name: text(63).describe('Step name (first-boot for the first-boot configuration).'),
    state: z.enum(['Pending', 'Running', 'Succeeded', 'Failed']).describe('Pending, Running, Succeeded or Failed.'),
    exitCode: z.number().int().optional().describe('Exit code (124 when the step ran out of time).'),
    startTime: timestamp().optional().describe('When it started.'),
    completionTime: timestamp().optional().describe('When it ended.'),
    output: text(2048).optional().describe('The last lines of its output, secret values replaced by [redacted].'),
  })
  .describe('One step run on a machine.');

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
    steps: z.array(stepStatus).max(33).optional().describe('First boot and each provisioning step: state, exit code and the last lines of output.'),
    provisionedVia: z.enum(['exec', 'ssh']).optional().describe('How first boot and provisioning reach the machine: ssh, or the engine\'s exec for containers (their isolated networks are not reachable from the controller).'),
    hostKey: text(8192).optional().describe('The machine\'s SSH host key, learned at first contact and pinned (also in the access Secret\'s known_hosts).'),
    reason: text(64).optional().describe('Why the machine is in its phase, as a reason from docs/reasons.md.'),
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
  lastRevert: z
    .strictObject({
      request: text(253).optional().describe('The value of the outrigger.dev/revert annotation that asked for it (each value is carried out once).'),
      time: timestamp().optional().describe('When every machine was back at the snapshot.'),
      snapshot: text(64).optional().describe('The snapshot reverted to.'),
    })
    .optional()
    .describe('The last revert to the snapshot.'),
  networks: z
    .array(
      z
        .strictObject({
          name: text(63).describe('Lab network name.'),
          id: text(128).optional().describe('Docker network id.'),
          cidr: text(64).optional().describe('Address range in use.'),
          isolated: z.boolean().optional().describe('No route out, no traffic from other Labs.'),
        })
        .describe('One network of the Lab as made.'),
    )
    .max(32)
    .optional()
    .describe('The networks as made.'),
  nextAction: text(16).optional().describe('The next scheduled action: Stop, Start or Expire.'),
  nextActionTime: timestamp().optional().describe('When the next scheduled action is due.'),
  stateReason: text(512).optional().describe('Why the Lab runs or not right now (spec.state, the daily schedule, expiry).'),
  lastReadyTime: timestamp().optional().describe('When every machine was last Ready.'),
  attempt: z.number().int().min(0).optional().describe('Deployment attempts so far (failurePolicy Rollback retries).'),
  nextRetryTime: timestamp().optional().describe('When a rolled-back deployment is tried again.'),
});

export type LabSpec = z.infer<typeof labSpecSchema>;
type LabSpecInput = z.input<typeof labSpecRules>;
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
    { name: 'Ready', type: 'string', jsonPath: '.status.readyMachines', description: 'Ready machines out of all, such as 3/5.' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Observed phase.' },
    { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', description: 'Reason of the Ready condition.' },
    { name: 'Expires', type: 'string', jsonPath: '.status.expiresAt', description: 'When the Lab expires.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
