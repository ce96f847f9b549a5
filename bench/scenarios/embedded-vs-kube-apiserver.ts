// The embedded API server against the real stack (kube-apiserver + etcd), side by side in one
// run, doing the same work: 1,000 custom resources created through client-node, 1,000 applied
// with `kubectl apply`, watch delivery latency, and the memory each server uses afterwards.
// The embedded server runs as its own process (embedded/main.ts), as the real one does.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { KubernetesObjectApi } from '@kubernetes/client-node';
import type { BenchScenario } from '../run.ts';
import { createNamespace, installConformanceCrd, kubeApiserverTarget, targetFromKubeconfig, type ApiTarget, REPO_ROOT } from '../../test/integration/embedded-target.ts';

const COUNT = Number(process.env.EMBEDDED_BENCH_COUNT ?? 1000);
const CONCURRENCY = 8;
const WATCH_SAMPLES = 200;
const GV = 'conformance.outrigger.dev/v1';

interface Measured {
  clientNodeMs: number;
  /** Server CPU (user+system) per client-node create. */
  serverCpuMsPerCreate: number;
  kubectlMs: number;
  watchP50: number;
  watchP99: number;
  watchAfterAckP99: number;
  rssMiB: number;
}

function widget(name: string, namespace: string, i: number) {
  return { apiVersion: GV, kind: 'Widget', metadata: { name, namespace, labels: { bench: 'yes' } }, spec: { size: i % 2 ? 'small' : 'large', replicas: i % 10, tags: ['a', 'b'] } };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function rssMiB(pids: number[]): number {
  let kib = 0;
  for (const pid of pids) {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    kib += Number(m?.[1] ?? 0);
  }
  return kib / 1024;
}

/** Processes whose command line mentions `needle` (the control plane's own temp directory). */
function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out.filter((p) => p !== process.pid);
}

function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10; // USER_HZ = 100
}

async function clientNodeCreates(t: ApiTarget, count: number, pids: number[]): Promise<{ ms: number; cpuMs: number }> {
  const objects = KubernetesObjectApi.makeApiClient(t.kubeConfig);
  const ns = await createNamespace(t, 'bench-cn');
  let next = 0;
  const cpu0 = cpuMs(pids);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        await objects.create(widget(`w${i}`, ns, i));
      }
    }),
  );
  const ms = performance.now() - started;
  const cpu = cpuMs(pids) - cpu0;
  const listed = await t.request('GET', `/apis/conformance.outrigger.dev/v1/namespaces/${ns}/widgets`);
  const listedCount = (listed.body as { items: unknown[] }).items.length;
  if (listedCount !== count) throw new Error(`${t.name}: ${listedCount} widgets listed after ${count} acknowledged creates`);
  return { ms, cpuMs: cpu };
}

async function measure(t: ApiTarget, pids: () => number[]): Promise<Measured> {
  // 1. client-node creates, CONCURRENCY at a time (after a warm-up of the client and server).
  await clientNodeCreates(t, 50, pids());
  const cn = await clientNodeCreates(t, COUNT, pids());
  const clientNodeMs = cn.ms;

  // 2. kubectl apply of COUNT objects in one file.
  const ns2 = await createNamespace(t, 'bench-kc');
  const file = join(mkdtempSync(join(tmpdir(), 'outrigger-bench-')), 'widgets.yaml');
  writeFileSync(file, Array.from({ length: COUNT }, (_, i) => JSON.stringify(widget(`k${i}`, ns2, i))).join('\n---\n'));
  const kStarted = performance.now();
  const applied = await t.kubectl(['apply', '-f', file], { timeoutMs: 600_000 });
  const kubectlMs = performance.now() - kStarted;
  rmSync(dirname(file), { recursive: true, force: true });
  if (applied.code !== 0) throw new Error(`${t.name}: kubectl apply failed: ${applied.stderr.slice(0, 500)}`);

  // 3. Watch latency: one create at a time, from request start (and from its answer) to the event.
  const ns3 = await createNamespace(t, 'bench-w');
  const watch = t.watch(`/apis/conformance.outrigger.dev/v1/namespaces/${ns3}/widgets?resourceVersion=0`);
  await watch.code;
  const latencies: number[] = [];
  const afterAck: number[] = [];
  for (let i = 0; i < WATCH_SAMPLES; i++) {
    const before = watch.events.length;
    const t0 = performance.now();
    await t.request('POST', `/apis/conformance.outrigger.dev/v1/namespaces/${ns3}/widgets`, { body: widget(`l${i}`, ns3, i) });
    const t1 = performance.now();
    while (watch.events.length === before) await new Promise((r) => setImmediate(r));
    const t2 = performance.now();
    latencies.push(t2 - t0);
    afterAck.push(Math.max(0, t2 - t1));
  }
  watch.stop();
  latencies.sort((a, b) => a - b);
  afterAck.sort((a, b) => a - b);
  return {
    clientNodeMs,
    serverCpuMsPerCreate: cn.cpuMs / COUNT,
    kubectlMs,
    watchP50: percentile(latencies, 50),
    watchP99: percentile(latencies, 99),
    watchAfterAckP99: percentile(afterAck, 99),
    rssMiB: rssMiB(pids()),
  };
}

/** The embedded server as a child process, plus an ApiTarget onto it. */
export async function embeddedProcess(): Promise<{ target: ApiTarget; child: ChildProcess; stop: () => Promise<void> }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'outrigger-bench-embedded-'));
  const child = spawn(process.execPath, [join(REPO_ROOT, 'embedded', 'main.ts'), '--state-dir', stateDir, '--port', '0', '--no-crds', '--quiet'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('"ready":true')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`embedded server exited with ${code}`)));
  });
  const target = targetFromKubeconfig('embedded', join(stateDir, 'kubeconfig'), stateDir);
  await installConformanceCrd(target);
  return {
    target,
    child,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      if (child.pid) process.kill(child.pid, 'SIGTERM');
      await exited;
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

const scenario: BenchScenario = {
  description: `embedded API vs kube-apiserver+etcd: ${COUNT} CRs via client-node and kubectl apply, watch latency, memory`,
  async run() {
    const real = await kubeApiserverTarget();
    const embedded = await embeddedProcess();
    try {
      const cpDir = dirname(real.kubeconfigPath);
      // Two rounds in opposite orders, the better of each kept, so neither server always runs
      // first on a cold client or last on a busy machine.
      const e1 = await measure(embedded.target, () => [embedded.child.pid!]);
      const r1 = await measure(real, () => pidsMentioning(cpDir));
      const r2 = await measure(real, () => pidsMentioning(cpDir));
      const e2 = await measure(embedded.target, () => [embedded.child.pid!]);
      const best = (a: Measured, b: Measured): Measured => ({
        clientNodeMs: Math.min(a.clientNodeMs, b.clientNodeMs),
        serverCpuMsPerCreate: Math.min(a.serverCpuMsPerCreate, b.serverCpuMsPerCreate),
        kubectlMs: Math.min(a.kubectlMs, b.kubectlMs),
        watchP50: Math.min(a.watchP50, b.watchP50),
        watchP99: Math.min(a.watchP99, b.watchP99),
        watchAfterAckP99: Math.min(a.watchAfterAckP99, b.watchAfterAckP99),
        rssMiB: Math.max(a.rssMiB, b.rssMiB),
      });
      const e = best(e1, e2);
      const r = best(r1, r2);
      return {
        [`client-node creates of ${COUNT}: embedded ms`]: e.clientNodeMs.toFixed(0),
        [`client-node creates of ${COUNT}: kube-apiserver ms`]: r.clientNodeMs.toFixed(0),
        'client-node creates: ratio embedded/real (target <= 0.7)': (e.clientNodeMs / r.clientNodeMs).toFixed(3),
        'server CPU per create: embedded ms': e.serverCpuMsPerCreate.toFixed(2),
        'server CPU per create: kube-apiserver + etcd ms': r.serverCpuMsPerCreate.toFixed(2),
        'server CPU per create: ratio embedded/real': (e.serverCpuMsPerCreate / r.serverCpuMsPerCreate).toFixed(3),
        [`kubectl apply of ${COUNT}: embedded ms`]: e.kubectlMs.toFixed(0),
        [`kubectl apply of ${COUNT}: kube-apiserver ms`]: r.kubectlMs.toFixed(0),
        'kubectl apply: ratio embedded/real': (e.kubectlMs / r.kubectlMs).toFixed(3),
        'watch latency p50 (request start→event): embedded ms': e.watchP50.toFixed(2),
        'watch latency p50: kube-apiserver ms': r.watchP50.toFixed(2),
        'watch latency p99: embedded ms (target < 10)': e.watchP99.toFixed(2),
        'watch latency p99: kube-apiserver ms': r.watchP99.toFixed(2),
        'watch event after the answer, p99: embedded ms': e.watchAfterAckP99.toFixed(2),
        'watch event after the answer, p99: kube-apiserver ms': r.watchAfterAckP99.toFixed(2),
        'memory (RSS) after the run: embedded MiB': e.rssMiB.toFixed(0),
        'memory (RSS): kube-apiserver + etcd MiB': r.rssMiB.toFixed(0),
        'memory: ratio embedded/real': (e.rssMiB / r.rssMiB).toFixed(3),
      };
    } finally {
      await embedded.stop();
      await real.stop();
    }
  },
};
export default scenario;
