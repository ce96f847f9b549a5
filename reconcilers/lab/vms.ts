// A Lab's Proxmox machines, through the VM provider (reconcilers/proxmox): the VM spec of a
// machine (pure), and per reconcile one inventory per cluster to observe, then ensure (clone,
// config, resize), start and the guest agent's address to bring a machine up, shutdown to stop,
// snapshots, rollback and delete. Each machine is its own VM owner: `<lab uid>-<machine>`, which
// the provider puts in the VM's tags and description, so a VM is found again and never made twice.
import { createHash } from 'node:crypto';
import { parseQuantity, type LabSpec, type ProxmoxCluster } from '../../crds/index.ts';
import type { ClusterHandle } from '../proxmox/registry.ts';
import type { Inventory, ManagedVm } from '../proxmox/vm-inventory.ts';
import type { VmOwner, VmSpecInput } from '../proxmox/vm-spec.ts';
import type { Attachment } from './addresses.ts';

type Machine = LabSpec['machines'][number];

export interface VmPlan {
  clusterName: string;
  owner: VmOwner;
  spec?: VmSpecInput;
  /** Why this machine cannot be a VM as written (the spec is not built then). */
  unsupported?: string;
  /** Further networks the provider cannot attach yet (told in the machine's message). */
  ignoredNetworks: string[];
}

export interface LabCluster {
  name: string;
  cluster: ProxmoxCluster;
  handle: ClusterHandle;
}

/** `<lab uid>-<machine>`, or the uid and a digest of the name when that would be too long for a tag. */
export function machineOwnerUid(labUid: string, machine: string): string {
  const uid = labUid.toLowerCase();
  const plain = `${uid}-${machine}`;
  return plain.length <= 64 ? plain : `${uid}-${createHash('sha256').update(machine).digest('hex').slice(0, 16)}`;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** The VM a machine becomes: template, placement, size, its first network, cloud-init. */
export function vmPlan(lab: { name: string; uid: string; namespace: string }, spec: LabSpec, machine: Machine, attachments: Attachment[], cluster: ProxmoxCluster | undefined, ssh: { user: string; publicKey: string } | undefined): VmPlan {
  const p = machine.proxmox!;
  const owner: VmOwner = { uid: machineOwnerUid(lab.uid, machine.name), displayName: `Lab ${lab.namespace}/${lab.name} machine ${machine.name}` };
  const base = { clusterName: p.clusterRef.name, owner, ignoredNetworks: attachments.slice(1).map((a) => a.network) };
  const networks = new Map((spec.networks ?? []).map((n) => [n.name, n]));
  const first = attachments[0];
  const net = first ? networks.get(first.network) : undefined;
  const defaults = cluster?.spec.defaults ?? {};
  if (net && (net.isolated ?? true) && net.vlan === undefined) {
    return { ...base, unsupported: `network "${net.name}" is isolated: on Proxmox that takes a VLAN tag of its own (set spec.networks[].vlan); VLANs from a range or SDN zone of the ProxmoxCluster are not supported yet` };
  }
  const bridge = net?.bridge ?? defaults.bridge;
  if (first && !bridge) return { ...base, unsupported: `network "${first.network}" needs a bridge: set spec.networks[].bridge or the ProxmoxCluster's spec.defaults.bridge` };
  const r = machine.resources;
  const users = machine.cloudInit?.users ?? [];
  const ciUser = ssh?.user ?? users[0]?.name;
  const keys = [...(ssh ? [ssh.publicKey] : []), ...(users.find((u) => u.name === ciUser)?.sshAuthorizedKeys ?? [])];
  // Further users, their keys and sudo as first-boot commands (argv, no shell of ours for the text).
  const commands: string[][] = [];
  for (const u of users.filter((x) => x.name !== ciUser)) {
    commands.push(['useradd', '--create-home', '--shell', '/bin/bash', u.name]);
    for (const g of u.groups ?? []) commands.push(['usermod', '-aG', g, u.name]);
    if (u.sudo) commands.push(['sh', '-c', `echo "${u.name} ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/outrigger-${u.name}`]);
    if (u.sshAuthorizedKeys?.length) {
      commands.push(['sh', '-c', `install -d -m 0700 -o ${u.name} /home/${u.name}/.ssh && echo ${b64(`${u.sshAuthorizedKeys.join('\n')}\n`)} | base64 -d > /home/${u.name}/.ssh/authorized_keys && chown ${u.name} /home/${u.name}/.ssh/authorized_keys && chmod 0600 /home/${u.name}/.ssh/authorized_keys`]);
    }
  }
  for (const c of machine.cloudInit?.commands ?? []) commands.push(['sh', '-c', c]);
  const vmSpec: VmSpecInput = {
    name: `${lab.name}-${machine.name}`.slice(0, 63).replace(/-+$/, ''),
    template: /^[0-9]+$/.test(p.template) ? Number(p.template) : p.template,
    full: p.fullClone ?? true,
    ...((p.node ?? defaults.node) ? { node: p.node ?? defaults.node } : {}),
    ...((p.storage ?? defaults.storage) && (p.fullClone ?? true) ? { storage: p.storage ?? defaults.storage } : {}),
    ...(defaults.pool ? { pool: defaults.pool } : {}),
    ...(r?.cpu !== undefined ? { cores: Math.max(1, Math.ceil(parseQuantity(r.cpu))) } : {}),
    ...(r?.memory !== undefined ? { memoryMiB: Math.max(16, Math.round(parseQuantity(r.memory) / 2 ** 20)) } : {}),
    ...(r?.disk !== undefined ? { disk: { sizeGiB: Math.max(1, Math.ceil(parseQuantity(r.disk) / 2 ** 30)) } } : {}),
    ...(first && bridge ? { network: { bridge, ...(net?.vlan !== undefined ? { vlan: net.vlan } : {}) } } : {}),
    cloudInit: {
      ...(ciUser ? { user: ciUser } : {}),
      sshKeys: keys,
      ipConfig: first ? [first.address ? `ip=${first.address}/${first.prefix ?? 24}` : 'ip=dhcp'] : [],
      packages: machine.cloudInit?.packages ?? [],
      commands,
    },
  };
  return { ...base, spec: vmSpec };
}

/** The Lab's VMs in an inventory: those whose owner uid starts with the Lab's uid. */
export function labVms(inventory: Inventory, labUid: string): Map<string, ManagedVm[]> {
  const prefix = `${labUid.toLowerCase()}-`;
  return new Map([...inventory.byOwner].filter(([uid]) => uid.startsWith(prefix)));
}
