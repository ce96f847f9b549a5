// A VM's addresses as its QEMU guest agent reports them. While the guest boots the agent is not
// there yet (PVE: 500 "QEMU guest agent is not running"), which is a state, not an error. Loopback
// interfaces, link-local addresses and interfaces without addresses are not the VM's address.
import { isIP } from 'node:net';
import type { z } from 'zod';
import type { agentInterfaces } from './schemas.ts';

export type VmAddress =
  | { state: 'ready'; ipv4: string[]; ipv6: string[]; primary: string }
  | { state: 'waiting'; reason: string };

function usable(ip: string): boolean {
  const kind = isIP(ip);
  if (kind === 4) return !ip.startsWith('127.') && !ip.startsWith('169.254.') && ip !== '0.0.0.0';
  if (kind === 6) {
    const lower = ip.toLowerCase();
    return lower !== '::1' && lower !== '::' && !/^fe[89ab][0-9a-f]:/.test(lower);
  }
  return false;
}

export function addressesFrom(answer: z.output<typeof agentInterfaces>): VmAddress {
  const ipv4: string[] = [];
  const ipv6: string[] = [];
  for (const iface of answer.result) {
    if (iface.name === 'lo' || iface.name.startsWith('lo:')) continue;
    for (const addr of iface['ip-addresses'] ?? []) {
      const ip = addr['ip-address'].split('%')[0]!;
      if (!usable(ip)) continue;
      (isIP(ip) === 4 ? ipv4 : ipv6).push(ip);
    }
  }
  const primary = ipv4[0] ?? ipv6[0];
  if (!primary) return { state: 'waiting', reason: 'the guest agent reports no address outside loopback and link-local yet' };
  return { state: 'ready', ipv4, ipv6, primary };
}
