// From a Lab's spec to what each machine should be (pure, the Secrets' values passed in): its
// container spec on its Host's engine, its attachments with planned addresses, the steps to run
// (first boot, then each provisioning step) and the users people log in as.
import { parseDuration, parseQuantity, type LabSpec, type ProxmoxCluster } from '../../crds/index.ts';
import { dockerNetworkName, machineSpecHash, type MachineContainerSpec, type Owner } from '../docker/index.ts';
import { accessUsers, type AccessUser } from './access.ts';
import type { Attachment } from './addresses.ts';
import { FIRST_BOOT, firstBootScript, needsFirstBoot } from './scripts.ts';
import type { PlannedStep } from './steps.ts';
import { vmPlan, type VmPlan } from './vms.ts';

type Machine = LabSpec['machines'][number];

/** First boot has a generous deadline: package installs can be slow. */
export const FIRST_BOOT_TIMEOUT_SECONDS = 15 * 60;

export interface MachinePlan {
  name: string;
  machine: Machine;
  attachments: Attachment[];
  steps: PlannedStep[];
  users: AccessUser[];
  /** For docker machines: the Host (by name) and the container. */
  docker?: { hostName: string; spec: MachineContainerSpec; hash: string };
  /** For proxmox machines: the cluster (by name) and the VM. */
  proxmox?: VmPlan;
}

export function labOwner(lab: { metadata: { namespace?: string; name?: string; uid?: string } }): Owner {
  return { kind: 'Lab', namespace: lab.metadata.namespace ?? 'default', name: lab.metadata.name ?? '', uid: lab.metadata.uid ?? '' };
}

export function machinePlan(owner: Owner, spec: LabSpec, machine: Machine, attachments: Attachment[], ssh: { user: string; publicKey: string } | undefined, cluster?: ProxmoxCluster): MachinePlan {
  const steps: PlannedStep[] = [];
  // A VM's first boot is cloud-init's; a container's is a step of ours.
  if (machine.docker && needsFirstBoot(machine, ssh)) steps.push({ name: FIRST_BOOT, script: firstBootScript(machine, ssh), user: 'root', timeoutSeconds: FIRST_BOOT_TIMEOUT_SECONDS });
  for (const p of machine.provision ?? []) {
    steps.push({ name: p.name, script: p.script, user: spec.ssh?.user ?? 'root', timeoutSeconds: Math.max(1, Math.ceil(parseDuration(p.timeout ?? '10m') / 1000)) });
  }
  const plan: MachinePlan = { name: machine.name, machine, attachments, steps, users: accessUsers(machine) };
  if (machine.proxmox) {
    plan.proxmox = vmPlan({ name: owner.name, uid: owner.uid, namespace: owner.namespace }, spec, machine, attachments, cluster, ssh);
    if (steps.length > 0 && !plan.proxmox.unsupported) {
      plan.proxmox.unsupported = 'provisioning steps on Proxmox machines run over SSH to the VM, which this controller version does not do yet: remove spec.machines[].provision from this machine or make it a container';
    }
  }
  if (machine.docker) {
    const r = machine.resources;
    const containerSpec: MachineContainerSpec = {
      owner,
      machine: machine.name,
      image: machine.docker.image,
      hostname: machine.name,
      ...(r?.cpu !== undefined ? { cpu: parseQuantity(r.cpu) } : {}),
      ...(r?.memory !== undefined ? { memoryBytes: Math.round(parseQuantity(r.memory)) } : {}),
      networks: attachments.map((a) => ({ dockerNetwork: dockerNetworkName(owner, a.network), ...(a.address ? { address: a.address } : {}) })),
    };
    plan.docker = { hostName: machine.docker.hostRef.name, spec: containerSpec, hash: machineSpecHash(containerSpec) };
  }
  return plan;
}
