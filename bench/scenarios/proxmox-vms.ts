// The Proxmox VM provider against fakepve with task latencies set to a real node's proportions
// (clone 10 s, config 1 s, resize 2 s, start 3 s, agent 5 s after start; time scale 0.01), side by
// side in one run:
//   baseline   the same clones, config updates, resizes and starts issued directly with the client
//              (VMIDs known in advance, no lookups), at the best of a few concurrencies, each VM
//              until its guest agent reports an address;
//   provider   ProxmoxVms.ensure + start + waitForAddress for every VM at once, through one
//              client at the cluster's concurrency limit.
// Both poll every POLL_MS; the provider's client has the cluster's concurrency limit (CONCURRENCY),
// the baseline the best of BASELINE_CONCURRENCIES. The ratio is the median over rounds (alternating which side goes first). Then a no-op resync of
// RESYNC_COUNT VMs: one inventory and observe() for each, counting list calls and writes.
// Provider level only: the Workspace runtime on Proxmox (issue 12's "cold to Ready") is not built yet.
import { randomUUID } from 'node:crypto';
import type { BenchScenario } from '../run.ts';
import { median, pooled, settle } from '../measure.ts';
import { ProxmoxClient } from '../../reconcilers/proxmox/client.ts';
import { anything, maybeUpid } from '../../reconcilers/proxmox/schemas.ts';
import { waitForTask } from '../../reconcilers/proxmox/tasks.ts';
import { ProxmoxVms } from '../../reconcilers/proxmox/vm.ts';
import type { VmSpecInput } from '../../reconcilers/proxmox/vm-spec.ts';
import { realClock } from '../../controller/clock.ts';
import { startFakePve, type FakePve } from '../../test/fixtures/fakepve.ts';

const COUNT = Number(process.env.PROXMOX_BENCH_COUNT ?? 20);
const ROUNDS = Number(process.env.PROXMOX_BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.PROXMOX_BENCH_CONCURRENCY ?? 8);
/** Both sides poll tasks and the agent this often (time runs 100x fast here, so the provider's 200 ms default would dominate). */
const POLL_MS = 20;
const BASELINE_CONCURRENCIES = (process.env.PROXMOX_BENCH_BASELINE_CONCURRENCY ?? '4,8,20').split(',').map(Number);
const RESYNC_COUNT = Number(process.env.PROXMOX_BENCH_RESYNC_COUNT ?? 200);
const TEMPLATE = 9000;
const TASK_SECS = { qmclone: 10, qmconfig: 1, resize: 2, qmstart: 3, qmstop: 1, qmdestroy: 1 };

const spec = (i: number): VmSpecInput => ({
  name: `bench-${i}`, template: TEMPLATE, cores: 2, memoryMiB: 2048, disk: { sizeGiB: 8 }, network: { bridge: 'vmbr0' },
  cloudInit: { user: 'dev', ipConfig: ['ip=dhcp'] },
});

async function directVm(client: ProxmoxClient, vmid: number, i: number): Promise<void> {
  const wait = (upid: string | undefined) => (upid ? waitForTask(client, upid, 'bench', { clock: realClock, timeoutMs: 120_000, pollMs: POLL_MS, maxPollMs: POLL_MS }) : undefined);
  await wait(await client.post('/nodes/{node}/qemu/{vmid}/clone', { path: { node: 'pve1', vmid: TEMPLATE }, params: { newid: vmid, name: `bench-${i}`, full: true } }, maybeUpid));
  await wait(await client.post('/nodes/{node}/qemu/{vmid}/config', { path: { node: 'pve1', vmid }, params: { cores: 2, memory: '2048', ciuser: 'dev', ipconfig0: 'ip=dhcp', tags: 'outrigger;bench' } }, maybeUpid));
  await wait(await client.put('/nodes/{node}/qemu/{vmid}/resize', { path: { node: 'pve1', vmid }, params: { disk: 'scsi0', size: '8G' } }, maybeUpid));
  await wait(await client.post('/nodes/{node}/qemu/{vmid}/status/start', { path: { node: 'pve1', vmid } }, maybeUpid));
  for (;;) {
    const ok = await client.get('/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces', { path: { node: 'pve1', vmid } }, anything).then(() => true, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function removeAll(pve: FakePve): Promise<void> {
  for (const vm of (await pve.state()).vms) if (!vm.template) await pve.control('remove_vm', { vmid: vm.vmid });
}

const scenario: BenchScenario = {
  description: `${COUNT} VMs cloned, configured, started and addressed: provider vs direct calls; a no-op resync of ${RESYNC_COUNT}`,
  async run() {
    const pve = await startFakePve({ timeScale: 0.01 });
    const client = new ProxmoxClient({ endpoint: pve.endpoint, credentials: { kind: 'token', tokenId: pve.token.id, secret: pve.token.secret }, tls: { caBundle: pve.caPem }, concurrency: CONCURRENCY });
    const counts = { lists: 0, writes: 0, gets: 0 };
    const counting = new ProxmoxClient({ endpoint: pve.endpoint, credentials: { kind: 'token', tokenId: pve.token.id, secret: pve.token.secret }, tls: { caBundle: pve.caPem }, concurrency: CONCURRENCY,
      onAttempt: (a) => {
        if (a.method !== 'GET') counts.writes++;
        else if (a.template === '/cluster/resources' || /^\/nodes\/\{node\}\/qemu$/.test(a.template)) counts.lists++;
        else counts.gets++;
      } });
    try {
      await pve.control('add_template', { vmid: TEMPLATE, name: 'debian-13' });
      await pve.control('set', { values: { task_secs: TASK_SECS, agent_delay: 5 } });
      const vms = new ProxmoxVms({ client, vmidRange: { start: 10_000, end: 19_999 }, timeouts: { pollMs: POLL_MS } });
      const ratios: number[] = [];
      const sameConcurrency: number[] = [];
      const times: Record<string, number[]> = { provider: [] };
      // Round 0 warms up (JIT, connections, fakepve's schema caches) and is not counted.
      for (let round = -1; round < ROUNDS; round++) {
        const sides = round % 2 === 0 ? ['baseline', 'provider'] : ['provider', 'baseline'];
        let baseline = Infinity;
        let baselineSame = Infinity;
        let provider = 0;
        for (const side of sides) {
          await removeAll(pve);
          await settle();
          if (side === 'baseline') {
            for (const c of BASELINE_CONCURRENCIES) {
              await removeAll(pve);
              const direct = new ProxmoxClient({ endpoint: pve.endpoint, credentials: { kind: 'token', tokenId: pve.token.id, secret: pve.token.secret }, tls: { caBundle: pve.caPem }, concurrency: c });
              const began = performance.now();
              await pooled(Array.from({ length: COUNT }, (_, i) => i), c, (i) => directVm(direct, 20_000 + i, i));
              const ms = performance.now() - began;
              if (round >= 0) (times[`baseline c=${c}`] ??= []).push(ms);
              baseline = Math.min(baseline, ms);
              if (c === CONCURRENCY) baselineSame = ms;
              await direct.close();
            }
          } else {
            const began = performance.now();
            await Promise.all(Array.from({ length: COUNT }, async (_, i) => {
              const { vm } = await vms.ensure({ uid: randomUUID() }, spec(i));
              await vms.start(vm);
              await vms.waitForAddress(vm, 120_000);
            }));
            provider = performance.now() - began;
            if (round >= 0) times.provider!.push(provider);
          }
        }
        if (round < 0) continue;
        ratios.push(provider / baseline);
        if (Number.isFinite(baselineSame)) sameConcurrency.push(provider / baselineSame);
      }

      // No-op resync: RESYNC_COUNT converged VMs, made with tasks instant.
      await removeAll(pve);
      await pve.control('set', { values: { task_secs: {}, agent_delay: 0, time_scale: 0 } });
      const owners = Array.from({ length: RESYNC_COUNT }, () => ({ uid: randomUUID() }));
      await pooled(owners.map((o, i) => [o, i] as const), 8, async ([o, i]) => { await vms.ensure(o, spec(i)); });
      const resync = new ProxmoxVms({ client: counting, vmidRange: { start: 10_000, end: 19_999 } });
      const began = performance.now();
      const inventory = await resync.inventory();
      let upToDate = 0;
      await pooled(owners.map((o, i) => [o, i] as const), CONCURRENCY, async ([o, i]) => {
        if ((await resync.observe(o, spec(i), { inventory })).upToDate) upToDate++;
      });
      const resyncMs = performance.now() - began;
      const report: Record<string, number | string> = {
        [`provider (c=${CONCURRENCY}) / best baseline (median)`]: median(ratios).toFixed(2),
        'ratios per round': ratios.map((r) => r.toFixed(2)).join(' '),
        [`provider / baseline at c=${CONCURRENCY} (median)`]: sameConcurrency.length ? median(sameConcurrency).toFixed(2) : 'n/a',
      };
      for (const [k, v] of Object.entries(times)) report[`${k === 'provider' ? `provider c=${CONCURRENCY}` : k} ms (median)`] = Math.round(median(v));
      Object.assign(report, {
        [`no-op resync of ${RESYNC_COUNT}: up to date`]: upToDate,
        [`no-op resync: list calls (1 node)`]: counts.lists,
        'no-op resync: writes': counts.writes,
        'no-op resync: other GETs per VM': (counts.gets / RESYNC_COUNT).toFixed(1),
        'no-op resync ms': Math.round(resyncMs),
      });
      return report;
    } finally {
      await client.close();
      await counting.close();
      await pve.stop();
    }
  },
};

export default scenario;
