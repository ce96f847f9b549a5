// Alerts: 1,000 httpProbe rules (16 Alerts of 62 or 63 rules) against 100 local endpoints for ten
// minutes of fake time (a probe every 30 s: 20 rounds, 20,000 probes), evaluated as the Alert
// reconciler does it (evaluate each due rule, advance each alert, plan notifications, render the
// status), against the same 20,000 requests made directly with undici on the same concurrency.
// Reports CPU per rule evaluation for both and their ratio (target <= 1.3x), and the memory the
// evaluator keeps. Then a storm: 1,000 alerts flapping in one group for ten minutes, and the most
// notifications any group_interval saw (must be <= 1).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { FakeClock } from '../../controller/index.ts';
import { plan, delivered, type DispatchEntry, type DispatchTiming } from '../../reconcilers/alert/dispatch.ts';
import { evaluateRule, newMemory, ruleTypeOf, type EvaluationSources, type Rule } from '../../reconcilers/alert/evaluate.ts';
import { alertLabels, fingerprintOf } from '../../reconcilers/alert/labels.ts';
import { advance, type AlertRecord } from '../../reconcilers/alert/series.ts';
import { entriesToStatus, recordsToStatus } from '../../reconcilers/alert/status.ts';
import { HttpProber } from '../../reconcilers/alert/sources/probe.ts';
import { createOutboundGuard } from '../../reconcilers/net/index.ts';
import type { BenchScenario } from '../run.ts';
import { median, pooled, settle } from '../measure.ts';

const ENDPOINTS = 100;
const RULES = 1000;
const ALERTS = 16;
const ROUNDS = 20; // 10 minutes at 30 s
const WORKERS = 4; // the Alert controller's default

async function endpoints(): Promise<{ urls: string[]; close(): Promise<void> }> {
  const servers: http.Server[] = [];
  for (let i = 0; i < ENDPOINTS; i++) {
    // Every tenth endpoint fails, so alerts really fire and groups really form.
    const server = http.createServer((_q, r) => { r.writeHead(i % 10 === 0 ? 503 : 200); r.end('ok'); });
    server.keepAliveTimeout = 120_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    servers.push(server);
  }
  return {
    urls: servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/healthz`),
    close: async () => { for (const s of servers) { s.closeAllConnections(); await new Promise<void>((r) => s.close(() => r())); } },
  };
}

function cpuMs(fn: () => Promise<void>): Promise<{ cpu: number; wall: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return fn().then(() => {
    const c = process.cpuUsage(c0);
    return { cpu: (c.user + c.system) / 1000, wall: performance.now() - t0 };
  });
}

async function outrigger(urls: string[]): Promise<{ cpu: number; wall: number; heapKiB: number }> {
  const prober = new HttpProber({ outbound: createOutboundGuard({ allowCidrs: ['127.0.0.0/8'] }) });
  const clock = new FakeClock(Date.parse('2031-01-01T00:00:00Z'));
  const sources = { prober } as unknown as EvaluationSources;
  const alerts = Array.from({ length: ALERTS }, (_, a) => {
    const rules: Rule[] = [];
    for (let i = a; i < RULES; i += ALERTS) rules.push({ name: `r${i}`, for: '0s', severity: 'Warning', httpProbe: { url: urls[i % ENDPOINTS]!, method: 'GET', expectedStatus: { min: 200, max: 399 }, interval: '30s', timeout: '5s', insecureSkipVerify: false } } as Rule);
    return { name: `a${a}`, rules, memory: newMemory(), records: new Map<string, AlertRecord>(), entries: [] as DispatchEntry[] };
  });
  const timing: DispatchTiming = { groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 4 * 3_600_000, sendResolved: true };
  const signal = new AbortController().signal;
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const measured = await cpuMs(async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const now = clock.now();
      await pooled(alerts, WORKERS, async (alert) => {
        const results = await Promise.all(alert.rules.map((rule, i) => evaluateRule(rule, i, 'bench', alert.memory, sources, now, signal).then((r) => [rule, r] as const)));
        for (const [rule, result] of results) {
          for (const [target, ev] of result.evaluations ?? []) {
            const identity = { namespace: 'bench', alert: alert.name, rule: rule.name, type: ruleTypeOf(rule), severity: rule.severity, target };
            const labels = alertLabels(identity);
            const fingerprint = fingerprintOf(labels);
            const next = advance(alert.records.get(fingerprint), { fingerprint, identity, labels }, ev, now, 0);
            if (next) alert.records.set(fingerprint, next);
            else alert.records.delete(fingerprint);
          }
        }
        const p = plan({ uid: alert.name, records: alert.records, entries: alert.entries, now, groupByOf: () => [], receiversOf: () => ['hook'], timingOf: () => timing });
        alert.entries = p.entries.map((e) => (e.pending ? delivered(e, now) : e));
        JSON.stringify({ alerts: recordsToStatus(alert.records.values()), notifications: entriesToStatus(alert.entries) });
      });
      clock.advance(30_000);
    }
  });
  global.gc?.();
  const heapKiB = Math.round((process.memoryUsage().heapUsed - heap0) / 1024);
  await prober.close();
  return { ...measured, heapKiB };
}

async function bare(urls: string[]): Promise<{ cpu: number; wall: number }> {
  const agent = new Agent({ keepAliveTimeout: 60_000, connections: 4 });
  const groups = Array.from({ length: ALERTS }, (_, a) => { const u: string[] = []; for (let i = a; i < RULES; i += ALERTS) u.push(urls[i % ENDPOINTS]!); return u; });
  const measured = await cpuMs(async () => {
    for (let round = 0; round < ROUNDS; round++) {
      await pooled(groups, WORKERS, async (group) => {
        await Promise.all(group.map(async (url) => {
          const res = await request(url, { dispatcher: agent, signal: AbortSignal.timeout(5_000) });
          await res.body.dump();
        }));
      });
    }
  });
  await agent.close();
  return measured;
}

/** 1,000 alerts flapping in one group for ten minutes: notifications per group_interval. */
function storm(): { notifications: number; maxPerInterval: number } {
  const timing: DispatchTiming = { groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 4 * 3_600_000, sendResolved: true };
  const records = new Map<string, AlertRecord>();
  let entries: DispatchEntry[] = [];
  const sent: number[] = [];
  for (let now = 0; now <= 600_000; now += 1_000) {
    for (let i = 0; i < 1000; i++) {
      const identity = { namespace: 'bench', alert: 'storm', rule: 'down', type: 'containerDown' as const, severity: 'Critical', target: `Workspace/w${i}` };
      const labels = alertLabels(identity);
      const fingerprint = fingerprintOf(labels);
      const next = advance(records.get(fingerprint), { fingerprint, identity, labels }, { active: (Math.floor(now / 1000) * 7 + i) % 11 < 6, message: '' }, now, 0);
      if (next) records.set(fingerprint, next);
      else records.delete(fingerprint);
    }
    const p = plan({ uid: 'storm', records, entries, now, groupByOf: () => [], receiversOf: () => ['hook'], timingOf: () => timing });
    for (const fp of p.done) records.delete(fp);
    entries = p.entries.map((e) => {
      if (!e.pending) return e;
      sent.push(now);
      return delivered(e, now);
    });
  }
  let maxPerInterval = 0;
  for (const t of sent) maxPerInterval = Math.max(maxPerInterval, sent.filter((x) => x >= t && x < t + timing.groupIntervalMs).length);
  return { notifications: sent.length, maxPerInterval };
}

const scenario: BenchScenario = {
  description: '1,000 httpProbe rules on 100 local endpoints for 10 min of fake time vs the bare requests; a 1,000-alert storm',
  async run() {
    const { urls, close } = await endpoints();
    try {
      // Warm both paths (connections, JIT), then three rounds each, alternating.
      await bare(urls);
      await outrigger(urls);
      const o: Array<{ cpu: number; wall: number; heapKiB: number }> = [];
      const b: Array<{ cpu: number; wall: number }> = [];
      for (let i = 0; i < 3; i++) {
        await settle();
        b.push(await bare(urls));
        await settle();
        o.push(await outrigger(urls));
      }
      const evaluations = RULES * ROUNDS;
      const oCpu = median(o.map((x) => x.cpu));
      const bCpu = median(b.map((x) => x.cpu));
      const s = storm();
      return {
        'probes (rules x rounds)': evaluations,
        'outrigger: CPU per rule evaluation (us)': Math.round((oCpu / evaluations) * 1000),
        'bare requests: CPU per request (us)': Math.round((bCpu / evaluations) * 1000),
        'CPU ratio outrigger / bare (target <= 1.3)': (oCpu / bCpu).toFixed(2),
        'wall ratio outrigger / bare': (median(o.map((x) => x.wall)) / median(b.map((x) => x.wall))).toFixed(2),
        'evaluator memory after 10 min (KiB, heap)': median(o.map((x) => x.heapKiB)),
        'storm: notifications in 10 min (1,000 alerts)': s.notifications,
        'storm: most in one group_interval (must be <= 1)': s.maxPerInterval,
      };
    } finally {
      await close();
    }
  },
};

export default scenario;
