// The `<lab>-access` Secret (pure rendering): for the people using the Lab, per machine its
// address, the users and how each gets in (their own key, or a password Outrigger generated), a
// ready-to-use ssh_config and the machines' pinned host keys. Owner-referenced by the Lab, so it
// goes with it. Its values never reach status, events or logs: only this Secret holds them.
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import ssh2 from 'ssh2';
import { TerminalError } from '../../controller/index.ts';
import type { LabSpec } from '../../crds/index.ts';
import { ErrorCodes } from '../common/reasons.ts';

export const ACCESS_SUFFIX = '-access';
export const accessSecretName = (lab: string): string => `${lab}${ACCESS_SUFFIX}`;
/** The data key of a generated password. */
export const passwordKey = (machine: string, user: string): string => `password.${machine}.${user}`;

export interface AccessUser {
  name: string;
  auth: 'key' | 'password';
}

export interface AccessMachine {
  name: string;
  address?: string;
  addresses: string[];
  users: AccessUser[];
  /** How provisioning and people reach it when no network route exists (containers: docker exec). */
  exec?: string;
  hostKey?: string;
  /** `user@host:port` of the Host to jump through, when it is reached over SSH. */
  jumpHost?: string;
}

/** The users people log in as on a machine: its cloudInit users; key when they bring keys, else a password. */
export function accessUsers(machine: LabSpec['machines'][number]): AccessUser[] {
  return (machine.cloudInit?.users ?? []).map((u) => ({ name: u.name, auth: (u.sshAuthorizedKeys?.length ?? 0) > 0 ? 'key' : 'password' }));
}

/** A password for a user who brings no key: 24 characters from 18 random bytes. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** The public key line (`ssh-ed25519 AAAA...`) of the Lab's private key, installed for spec.ssh.user. */
export function publicKeyOf(privateKey: Buffer, field: string): string {
  const parsed = ssh2.utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    throw new TerminalError(ErrorCodes.InvalidSpec, `${field}: the Secret's key is not an OpenSSH or PEM private key without a passphrase (${key instanceof Error ? key.message.replace(/\s+/g, ' ').slice(0, 120) : 'unreadable'})`, { field });
  }
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}

export function renderSshConfig(lab: string, machines: AccessMachine[]): string {
  const lines = [`# Lab ${lab}: save known_hosts from this Secret as ~/.ssh/outrigger-${lab}.known_hosts`];
  for (const m of machines) {
    if (!m.address) continue;
    for (const u of m.users) {
      lines.push('', `Host ${lab}-${m.name}${m.users.length > 1 ? `-${u.name}` : ''}`, `  HostName ${m.address}`, `  User ${u.name}`);
      if (m.jumpHost) lines.push(`  ProxyJump ${m.jumpHost}`);
      if (m.hostKey) lines.push(`  UserKnownHostsFile ~/.ssh/outrigger-${lab}.known_hosts`, '  StrictHostKeyChecking yes');
      if (u.auth === 'password') lines.push('  PreferredAuthentications password,keyboard-interactive');
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Every data key of the Secret, from the machines and the passwords (kept as they are once made). */
export function renderAccessData(lab: string, machines: AccessMachine[], passwords: Map<string, string>): Record<string, string> {
  const data: Record<string, string> = {};
  const summary = machines.map((m) => ({
    name: m.name,
    ...(m.address ? { address: m.address } : {}),
    ...(m.addresses.length > 1 ? { addresses: m.addresses } : {}),
    ...(m.exec ? { exec: m.exec } : {}),
    users: m.users.map((u) => ({ name: u.name, auth: u.auth, ...(u.auth === 'password' ? { passwordKey: passwordKey(m.name, u.name) } : {}) })),
  }));
  data['access.yaml'] = stringify({ lab, machines: summary });
  data.ssh_config = renderSshConfig(lab, machines);
  const known = machines.filter((m) => m.hostKey && m.address).map((m) => `${m.address} ${m.hostKey}`);
  if (known.length > 0) data.known_hosts = `${known.join('\n')}\n`;
  for (const m of machines) {
    for (const u of m.users) {
      const key = passwordKey(m.name, u.name);
      const value = passwords.get(key);
      if (u.auth === 'password' && value) data[key] = value;
    }
  }
  return data;
}
