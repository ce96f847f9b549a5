// What the VM provider is asked to make, checked with zod at the provider's door (the CRDs validate
// first; this is the re-validation the house rules ask of the layer that acts), and how a VM is
// marked as Outrigger's: tags `outrigger` and `outrigger-<owner uid>` on the VM, and a marker line
// in the description that a clone carries from the moment PVE writes its config (tags can only be
// set after the clone, so the marker is what finds a VM whose clone was cut short).
import { z } from 'zod';
import { TerminalError } from '../../controller/errors.ts';
import { ErrorCodes } from '../common/reasons.ts';

export const MANAGED_TAG = 'outrigger';
const UID = /^[a-z0-9]([-a-z0-9]{0,62}[a-z0-9])?$/;

export interface VmOwner {
  /** metadata.uid of the owning resource; tags and markers carry it. */
  uid: string;
  /** For the description only (kind/namespace/name), never used to find the VM. */
  displayName?: string;
}

export function ownerTag(uid: string): string {
  return `${MANAGED_TAG}-${uid.toLowerCase()}`;
}

export function ownerMarker(uid: string): string {
  return `outrigger-owner: ${uid.toLowerCase()}`;
}

/** PVE's tag list: `a;b;c` (commas and spaces are accepted as separators too). */
export function splitTags(tags: string | undefined): string[] {
  return (tags ?? '').split(/[;, ]+/).map((t) => t.trim().toLowerCase()).filter(Boolean);
}

/** The owner uid in a description's marker line, if any. */
export function markerOwner(description: string | undefined): string | undefined {
  return /(?:^|\n)outrigger-owner: ([a-z0-9-]+)\s*(?:\n|$)/.exec(description ?? '')?.[1];
}

const name = z.string().regex(/^[a-zA-Z0-9]([-a-zA-Z0-9.]{0,61}[a-zA-Z0-9])?$/, 'must be a DNS name (letters, digits, "-" and ".")');
const nodeName = z.string().regex(/^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/, 'must be a Proxmox node name');
const storageId = z.string().regex(/^[A-Za-z][A-Za-z0-9._-]*$/, 'must be a Proxmox storage id such as local-lvm');
const bridge = z.string().regex(/^[A-Za-z][A-Za-z0-9._-]{0,14}$/, 'must be a bridge name such as vmbr0');
const sshKey = z.string().regex(/^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( [^\r\n]*)?$/,
  'must be one OpenSSH public key line (type, base64 key, optional comment)');
const ipConfig = z.string().regex(/^(ip=(dhcp|manual|[0-9.]+\/[0-9]{1,2})(,gw=[0-9.]+)?)?(,?ip6=(auto|dhcp|manual|[0-9a-fA-F:]+\/[0-9]{1,3})(,gw6=[0-9a-fA-F:]+)?)?$/,
  'must be PVE ipconfig syntax such as ip=dhcp or ip=10.0.0.5/24,gw=10.0.0.1');

export const vmSpecSchema = z.strictObject({
  name,
  /** Name or VMID of the template to clone. */
  template: z.union([z.number().int().min(100).max(999_999_999), z.string().min(1).max(128)]),
  /** Node the VM runs on; the clone is made on the template's node with this as target. Default: the template's node. */
  node: nodeName.optional(),
  /** Full clone (independent disks) or linked (shares the template's base, faster, needs a template). */
  full: z.boolean().default(true),
  /** Target storage of a full clone's disks. */
  storage: storageId.optional(),
  pool: z.string().regex(/^[A-Za-z0-9._-]+$/).optional(),
  cores: z.number().int().min(1).max(512).optional(),
  memoryMiB: z.number().int().min(16).max(8 * 1024 * 1024).optional(),
  disk: z.strictObject({
    key: z.string().regex(/^(scsi|virtio|sata|ide)[0-9]{1,2}$/).default('scsi0'),
    sizeGiB: z.number().int().min(1).max(65536),
  }).optional(),
  network: z.strictObject({
    bridge,
    vlan: z.number().int().min(1).max(4094).optional(),
    model: z.enum(['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3']).default('virtio'),
    firewall: z.boolean().optional(),
  }).optional(),
  cloudInit: z.strictObject({
    user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a Linux user name').optional(),
    sshKeys: z.array(sshKey).max(64).default([]),
    /** ipconfig0, ipconfig1, ... */
    ipConfig: z.array(ipConfig).max(8).default([]),
    nameservers: z.array(z.string().regex(/^[0-9a-fA-F.:]+$/, 'must be an IP address')).max(3).default([]),
    searchDomain: z.string().regex(/^[a-zA-Z0-9.-]+$/).optional(),
    /** Packages and commands need a user-data snippet (cicustom): a SnippetStore must be configured. */
    packages: z.array(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9+._:-]*$/, 'must be a package name')).max(256).default([]),
    /** Each command an argv list, run once at first boot without a shell. */
    commands: z.array(z.array(z.string().max(4096)).min(1)).max(256).default([]),
  }).optional(),
});

export type VmSpecInput = z.input<typeof vmSpecSchema>;
export type VmSpec = z.output<typeof vmSpecSchema>;

/** Parses a spec; bad input is a TerminalError naming the field. */
export function parseVmSpec(input: VmSpecInput): VmSpec {
  const parsed = vmSpecSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join('.');
  throw new TerminalError(ErrorCodes.InvalidSpec, `${field || 'spec'}: ${issue.message}`, { field });
}

/** `template` as a VMID when it is one (a number, or a string of digits). */
export function templateVmid(template: VmSpec['template']): number | undefined {
  if (typeof template === 'number') return template;
  return /^[0-9]{3,9}$/.test(template) ? Number(template) : undefined;
}
