// The user-data snippet for what PVE's native cloud-init options cannot say (packages, commands).
// With `cicustom: user=...` PVE hands the snippet to the guest instead of the user-data it would
// generate, so the snippet also carries the user and SSH keys. Pure.
import { stringify } from 'yaml';
import type { VmSpec } from './vm-spec.ts';

/** Whether the spec needs a snippet (PVE's own options cover the rest). */
export function needsSnippet(spec: VmSpec): boolean {
  return (spec.cloudInit?.packages.length ?? 0) > 0 || (spec.cloudInit?.commands.length ?? 0) > 0;
}

export function snippetName(ownerUid: string): string {
  return `outrigger-${ownerUid.toLowerCase()}.yaml`;
}

export function renderUserData(spec: VmSpec): string {
  const ci = spec.cloudInit;
  const doc: Record<string, unknown> = { hostname: spec.name, manage_etc_hosts: true };
  if (ci?.user) {
    doc.users = [{ name: ci.user, groups: ['sudo'], shell: '/bin/bash', sudo: 'ALL=(ALL) NOPASSWD:ALL', lock_passwd: true,
      ssh_authorized_keys: ci.sshKeys }];
  } else if (ci && ci.sshKeys.length > 0) {
    doc.ssh_authorized_keys = ci.sshKeys;
  }
  if (ci && ci.packages.length > 0) {
    doc.package_update = true;
    doc.packages = ci.packages;
  }
  // The list form of runcmd runs each argv without a shell.
  if (ci && ci.commands.length > 0) doc.runcmd = ci.commands;
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
