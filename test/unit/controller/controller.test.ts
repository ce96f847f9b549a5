import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Controller } from '../../../controller/controller.ts';
import { Informer, type ListWatchSource } from '../../../controller/informer.ts';
import { createLogger, silentLogger } from '../../../controller/logger.ts';
import { Writable } from 'node:stream';
import { RuntimeMetrics } from '../../../controller/metrics.ts';
import { TerminalError } from '../../../controller/errors.ts';
import type { KubeObject, ObjectKey } from '../../../controller/kube/resource.ts';
import { decideOutcome } from '../../../controller/outcome.ts';

const emptySource: ListWatchSource<KubeObject> = {
  list: async () => ({ items: [], resourceVersion: '1' }),
  async *watch(_rv, _t, signal) {
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  },
};

function makeController(reconcile: (req: ObjectKey) => Promise<unknown>, workers = 4) {
  const informer = new Informer({ name: 't', source: emptySource, logger: silentLogger });
  const metrics = new RuntimeMetrics();
  const controller = new Controller({ name: 'test', informer, logger: silentLogger, metrics, workers, reconciler: { reconcile: reconcile as any }, backoff: { initialMs: 1, maxMs: 1 } });
  informer.start();
  return { controller, informer, metrics };
}

describe('Controller', () => {
  it('1000 adds of one key during a slow reconcile give at most 2 reconciles, never concurrent', async () => {
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    let release!: () => void;
    const firstBlocked = new Promise<void>((r) => { release = r; });
    let started!: () => void;
    const firstStarted = new Promise<void>((r) => { started = r; });
    const { controller, informer } = makeController(async () => {
      calls++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (calls === 1) { started(); await firstBlocked; }
      running--;
    });
    await controller.start();
    controller.enqueue({ namespace: 'ns', name: 'a' });
    await firstStarted;
    for (let i = 0; i < 1000; i++) controller.enqueue({ namespace: 'ns', name: 'a' });
    release();
    for (let i = 0; i < 200 && controller.counts.success < 2; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    await controller.stop();
    await informer.stop();
    assert.equal(calls, 2);
    assert.equal(maxRunning, 1);
  });

  it('a reconcile cut short by stop() is neither an error nor a warning', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }) });
    const informer = new Informer({ name: 't', source: emptySource, logger: silentLogger });
    let started!: () => void;
    const inFlight = new Promise<void>((r) => { started = r; });
    const controller = new Controller({
      name: 'test', informer, logger, metrics: new RuntimeMetrics(), workers: 1, backoff: { initialMs: 1, maxMs: 1 },
      reconciler: {
        reconcile: (_req, ctx) => new Promise((_resolve, reject) => {
          started();
          ctx.signal.addEventListener('abort', () => reject(new Error('The operation was aborted')), { once: true });
        }),
      },
    });
    informer.start();
    await controller.start();
    controller.enqueue({ namespace: 'ns', name: 'a' });
    await inFlight;
    await controller.stop();
    await informer.stop();
    assert.equal(controller.counts.error, 0);
    assert.ok(lines.some((l) => l.includes('reconcile cancelled: the controller is stopping')), 'said at debug level');
    assert.ok(!lines.some((l) => l.includes('"level":"warn"')), `no warning: ${lines.join('')}`);
  });

  it('retries thrown errors and rejections, counts terminal errors without retrying them', async () => {
    const attempts = new Map<string, number>();
    const { controller, informer, metrics } = makeController(async (req) => {
      const n = (attempts.get(req.name) ?? 0) + 1;
      attempts.set(req.name, n);
      if (req.name === 'flaky' && n < 3) throw new Error('temporary');
      if (req.name === 'bad') throw new TerminalError('InvalidSpec', 'spec.port must be 1-65535');
      if (req.name === 'bug' && n < 2) (undefined as any).boom();
    });
    await controller.start();
    for (const name of ['flaky', 'bad', 'bug']) controller.enqueue({ namespace: 'ns', name });
    for (let i = 0; i < 400 && !(attempts.get('flaky') === 3 && attempts.get('bug') === 2); i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 30));
    await controller.stop();
    await informer.stop();
    assert.equal(attempts.get('flaky'), 3);
    assert.equal(attempts.get('bad'), 1, 'a terminal error is never retried');
    assert.equal(attempts.get('bug'), 2, 'a programming error is retried too');
    const text = await metrics.registry.metrics();
    assert.match(text, /controller_runtime_terminal_reconcile_errors_total\{controller="test"\} 1/);
    assert.match(text, /controller_runtime_reconcile_panics_total\{controller="test"\} 1/);
    assert.match(text, /controller_runtime_reconcile_errors_total\{controller="test"\} 4/);
    assert.match(text, /controller_runtime_reconcile_total\{controller="test",result="success"\} 2/);
  });
});

describe('outcome rules', () => {
  const cases: Array<[string, Parameters<typeof decideOutcome>[0], string]> = [
    ['a thrown error retries with backoff', { error: new Error('x'), failed: true }, 'error'],
    ['a terminal error is not retried', { error: new TerminalError('InvalidSpec', 'x'), failed: true }, 'terminal'],
    ['requeueAfter schedules a delayed add', { result: { requeueAfterMs: 1000 }, failed: false }, 'requeueAfter'],
    ['requeueAfter of zero is plain success', { result: { requeueAfterMs: 0 }, failed: false }, 'success'],
    ['requeue retries without counting an error', { result: { requeue: true }, failed: false }, 'requeue'],
    ['an empty result is success', { result: undefined, failed: false }, 'success'],
    ['a rejected non-Error value still counts as failure', { error: 'string thrown', failed: true }, 'error'],
  ];
  for (const [reason, input, kind] of cases) {
    it(reason, () => assert.equal(decideOutcome(input).kind, kind));
  }
});
