// The VM config Outrigger wants, and what differs from what a VM has: pure functions over PVE's
// config values (property strings such as `virtio=BC:24:11:..,bridge=vmbr0,tag=20`). Only keys
// Outrigger sets are compared, so whatever else a template or an operator configures is left alone.
import { decodeSshKeys, encodeSshKeys } from './encoding.ts';
import { MANAGED_TAG, ownerTag, splitTags, type VmSpec } from './vm-spec.ts';

export type VmConfigValues = Record<string, string>;

/** `a=1,b=2` with an optional bare first value: [first, {a: '1', b: '2'}]. */
export function parsePropertyString(value: string | undefined): [string | undefined, Record<string, string>] {
  let first: string | undefined;
  const props: Record<string, string> = {};
  (value ?? '').split(',').forEach((part, i) => {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (i === 0 && part) first = part;
      return;
    }
    props[part.slice(0, eq)] = part.slice(eq + 1);
  });
  return [first, props];
}

const NIC_MODELS = new Set(['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3', 'e1000-82540em', 'e1000-82544gc', 'e1000-82545em', 'i82551', 'i82557b', 'i82559er', 'ne2k_isa', 'ne2k_pci', 'pcnet']);

export interface Nic { model?: string; mac?: string; bridge?: string; tag?: string; firewall?: string; rest: Record<string, string> }

export function parseNic(value: string | undefined): Nic {
  const [, props] = parsePropertyString(value);
  const nic: Nic = { rest: {} };
  for (const [key, val] of Object.entries(props)) {
    if (NIC_MODELS.has(key)) { nic.model = key; nic.mac = val || undefined; }
    else if (key === 'model') nic.model = val;
    else if (key === 'macaddr') nic.mac = val;
    else if (key === 'bridge') nic.bridge = val;
    else if (key === 'tag') nic.tag = val;
    else if (key === 'firewall') nic.firewall = val;
    else nic.rest[key] = val;
  }
  return nic;
}

function renderNic(nic: Nic): string {
  const parts = [nic.mac ? `${nic.model ?? 'virtio'}=${nic.mac}` : `model=${nic.model ?? 'virtio'}`];
  if (nic.bridge) parts.push(`bridge=${nic.bridge}`);
  if (nic.firewall !== undefined) parts.push(`firewall=${nic.firewall}`);
  for (const [k, v] of Object.entries(nic.rest).sort()) parts.push(`${k}=${v}`);
  if (nic.tag) parts.push(`tag=${nic.tag}`);
  return parts.join(',');
}

/** PVE's `agent` option: `1`, `enabled=1`, `1,fstrim_cloned_disks=1`. */
export function agentEnabled(value: string | undefined): boolean {
  const [first, props] = parsePropertyString(value);
  return ['1', 'true', 'yes', 'on'].includes(props.enabled ?? first ?? '0');
}

/** Bytes in a PVE size (`32G`, `512M`, plain bytes). */
export function parseSize(text: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT])?$/i.exec((text ?? '').trim());
  if (!m) return undefined;
  const unit = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[(m[2] ?? '').toUpperCase() as 'K'] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

export function diskSizeBytes(config: VmConfigValues, key: string): number | undefined {
  const value = config[key];
  if (value === undefined) return undefined;
  return parseSize(parsePropertyString(value)[1].size);
}

export interface CustomUserData {
  /** The volume id of the user-data snippet, e.g. local:snippets/outrigger-<uid>.yaml */
  userVolume?: string;
}

/** The keys and values Outrigger sets on a VM for this spec (the current config supplies the NIC's MAC). */
export function desiredConfig(spec: VmSpec, ownerUid: string, current: VmConfigValues, custom: CustomUserData = {}): VmConfigValues {
  const want: VmConfigValues = { name: spec.name };
  const kept = splitTags(current.tags).filter((t) => t !== MANAGED_TAG && !t.startsWith(`${MANAGED_TAG}-`));
  want.tags = [...new Set([...kept, MANAGED_TAG, ownerTag(ownerUid)])].sort().join(';');
  // The address comes from the guest agent, so PVE must talk to it.
  if (!agentEnabled(current.agent)) want.agent = '1';
  if (spec.cores !== undefined) want.cores = String(spec.cores);
  if (spec.memoryMiB !== undefined) want.memory = String(spec.memoryMiB);
  if (spec.network) {
    const nic = parseNic(current.net0);
    want.net0 = renderNic({
      ...nic,
      model: spec.network.model,
      // A different model needs a new MAC prefix only by choice; the MAC is kept.
      bridge: spec.network.bridge,
      tag: spec.network.vlan !== undefined ? String(spec.network.vlan) : undefined,
      firewall: spec.network.firewall === undefined ? nic.firewall : spec.network.firewall ? '1' : '0',
    });
  }
  const ci = spec.cloudInit;
  if (ci) {
    if (ci.user) want.ciuser = ci.user;
    if (ci.sshKeys.length > 0) want.sshkeys = encodeSshKeys(ci.sshKeys);
    ci.ipConfig.forEach((value, i) => { want[`ipconfig${i}`] = value; });
    if (ci.nameservers.length > 0) want.nameserver = ci.nameservers.join(' ');
    if (ci.searchDomain) want.searchdomain = ci.searchDomain;
    if (custom.userVolume) want.cicustom = `user=${custom.userVolume}`;
  }
  return want;
}

/** Whether two values of one key mean the same to PVE. */
function sameValue(key: string, want: string, have: string | undefined): boolean {
  if (have === undefined) return false;
  if (key === 'sshkeys') return decodeSshKeys(want).join('\n') === decodeSshKeys(have).join('\n');
  if (key === 'tags') return splitTags(want).sort().join(';') === splitTags(have).sort().join(';');
  if (key === 'net0') {
    const a = parseNic(want);
    const b = parseNic(have);
    return a.model === b.model && a.bridge === b.bridge && (a.tag ?? '') === (b.tag ?? '') &&
      (a.firewall ?? '0') === (b.firewall ?? '0') && (!a.mac || a.mac.toLowerCase() === b.mac?.toLowerCase());
  }
  if (key === 'agent') return agentEnabled(want) === agentEnabled(have);
  if (key === 'nameserver') return want.split(/\s+/).join(' ') === have.split(/\s+/).join(' ');
  return want === have;
}

export interface PendingEntry { key: string; value?: string; pending?: string; delete?: number | boolean }

export interface ConfigDrift {
  /** Keys to set (the values Outrigger wants). */
  set: VmConfigValues;
  /** Keys set on the VM (or pending) that differ from what was asked: key -> what the VM has. */
  found: Record<string, string | undefined>;
  /** Keys whose wanted value is pending: applied at the next reboot (PVE cannot hot-plug them). */
  pendingReboot: string[];
  /** A disk to grow to this many bytes. */
  grow?: { disk: string; bytes: number };
  /** Differences Outrigger cannot put back (a disk larger than asked: disks never shrink). */
  unfixable: string[];
}

/**
 * What differs between the wanted config and the VM's. A pending value counts as what the VM will
 * have: if it is the wanted one, only a reboot is missing; if not, it is set again.
 */
export function diffConfig(spec: VmSpec, want: VmConfigValues, current: VmConfigValues, pending: PendingEntry[] = []): ConfigDrift {
  const next: Record<string, string | undefined> = { ...current };
  const pendingKeys = new Set<string>();
  for (const p of pending) {
    if (p.delete) { next[p.key] = undefined; pendingKeys.add(p.key); }
    else if (p.pending !== undefined) { next[p.key] = p.pending; pendingKeys.add(p.key); }
  }
  const drift: ConfigDrift = { set: {}, found: {}, pendingReboot: [], unfixable: [] };
  for (const [key, value] of Object.entries(want)) {
    if (!sameValue(key, value, next[key])) {
      drift.set[key] = value;
      drift.found[key] = next[key];
    } else if (pendingKeys.has(key) && !sameValue(key, value, current[key])) {
      drift.pendingReboot.push(key);
    }
  }
  if (spec.disk) {
    const wantBytes = spec.disk.sizeGiB * 1024 ** 3;
    const have = diskSizeBytes(current, spec.disk.key);
    if (have === undefined) drift.unfixable.push(`disk ${spec.disk.key} does not exist on the VM`);
    else if (have < wantBytes) drift.grow = { disk: spec.disk.key, bytes: wantBytes };
    else if (have > wantBytes) drift.unfixable.push(`disk ${spec.disk.key} is ${Math.round(have / 1024 ** 3)} GiB, larger than the ${spec.disk.sizeGiB} GiB asked; disks are never shrunk`);
  }
  return drift;
}

export function hasDrift(drift: ConfigDrift): boolean {
  return Object.keys(drift.set).length > 0 || drift.grow !== undefined;
}
