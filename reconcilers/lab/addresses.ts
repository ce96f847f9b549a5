// Addresses of a Lab's machines on its networks (pure). A static address is kept; a machine
// without one on a network with a cidr gets the next free address of that cidr, in machine order,
// so every address is known before anything is made (two machines never race for one, and the
// access Secret can name them). The first address of a cidr is the network's gateway.
import { TerminalError } from '../../controller/index.ts';
import { addressProblems, ipv4Range, ipv4ToNumber, type LabSpec } from '../../crds/index.ts';
import { ErrorCodes } from '../common/reasons.ts';

export interface Attachment {
  network: string;
  /** IPv4 address without prefix; undefined when the network has no cidr (the engine chooses). */
  address?: string;
  prefix?: number;
}

const toAddress = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** Each machine's attachments in interface order, with addresses filled in. */
export function planAddresses(spec: Pick<LabSpec, 'machines' | 'networks'>): Map<string, Attachment[]> {
  const problem = addressProblems(spec)[0];
  if (problem) {
    const field = `spec.${problem.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '').replace(/\.\[/g, '[')}`;
    throw new TerminalError(ErrorCodes.InvalidSpec, `${field}: ${problem.message}`, { field });
  }
  const networks = new Map((spec.networks ?? []).map((n) => [n.name, n]));
  const taken = new Map<string, Set<number>>();
  for (const m of spec.machines) {
    for (const a of m.networks ?? []) {
      if (!a.address) continue;
      const n = ipv4ToNumber(a.address.split('/')[0] ?? '');
      if (n !== undefined) (taken.get(a.name) ?? taken.set(a.name, new Set()).get(a.name)!).add(n);
    }
  }
  const cursor = new Map<string, number>();
  const out = new Map<string, Attachment[]>();
  for (const m of spec.machines) {
    const list: Attachment[] = [];
    for (const a of m.networks ?? []) {
      const net = networks.get(a.name);
      const range = net?.cidr ? ipv4Range(net.cidr) : undefined;
      if (a.address) {
        list.push({ network: a.name, address: a.address.split('/')[0]!, ...(range ? { prefix: range.prefix } : {}) });
        continue;
      }
      if (!range) {
        list.push({ network: a.name });
        continue;
      }
      const used = taken.get(a.name) ?? taken.set(a.name, new Set()).get(a.name)!;
      let next = Math.max(cursor.get(a.name) ?? range.first + 2, range.first + 2);
      while (used.has(next) && next < range.last) next++;
      if (next >= range.last) {
        throw new TerminalError(ErrorCodes.InvalidSpec, `spec.networks: network "${a.name}" (${net!.cidr}) has no free address left for machine "${m.name}": choose a larger cidr`, { field: 'spec.networks' });
      }
      used.add(next);
      cursor.set(a.name, next + 1);
      list.push({ network: a.name, address: toAddress(next), prefix: range.prefix });
    }
    out.set(m.name, list);
  }
  return out;
}
