import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Informer, type ListWatchSource, type WatchEvent } from '../../../controller/informer.ts';
import { silentLogger } from '../../../controller/logger.ts';
import { KubeApiError } from '../../../controller/kube/rest.ts';
import type { KubeObject } from '../../../controller/kube/resource.ts';

const obj = (name: string, rv: string): KubeObject => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });

type WatchScript = Array<WatchEvent<KubeObject> | { throw: Error } | { hang: true }>;

/** A source that answers lists from `lists` and watches from `watches`, recording what it was asked. */
function scriptedSource(lists: Array<{ items: KubeObject[]; resourceVersion: string } | Error>, watches: WatchScript[]) {
  const calls: string[] = [];
  const source: ListWatchSource<KubeObject> = {
    async list() {
      const next = lists.shift();
      calls.push('list');
      if (!next) throw new Error('no more lists scripted');
      if (next instanceof Error) throw next;
      return next;
    },
    async *watch(rv, _timeout, signal) {
      calls.push(`watch@${rv}`);
      const script = watches.shift() ?? [{ hang: true }];
      for (const step of script) {
        if ('throw' in step) throw step.throw;
        if ('hang' in step) {
          if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          return;
        }
        yield step;
      }
    },
  };
  return { source, calls };
}

function recorder(informer: Informer<KubeObject>) {
  const seen: string[] = [];
  informer.addHandler({
    onAdd: (o) => seen.push(`add ${o.metadata.name}`),
    onUpdate: (_a, b) => seen.push(`update ${b.metadata.name}@${b.metadata.resourceVersion}`),
    onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
  });
  return seen;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const fastBackoff = { initialMs: 1, maxMs: 4, factor: 2 };

describe('Informer', () => {
  it('lists, reports synced, then watches from the list resourceVersion and applies events', async () => {
    const { source, calls } = scriptedSource(
      [{ items: [obj('a', '5')], resourceVersion: '10' }],
      [[
        { type: 'MODIFIED', object: obj('a', '11') },
        { type: 'ADDED', object: obj('b', '12') },
        { type: 'DELETED', object: obj('a', '13') },
        { type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } as KubeObject },
        { hang: true },
      ]],
    );
    const informer = new Informer({ name: 't', source, logger: silentLogger, backoff: fastBackoff });
    const seen = recorder(informer);
    informer.start();
    await informer.waitForSync();
    await until(() => informer.lastResourceVersion === '20', 'the bookmark');
    await informer.stop();
    assert.deepEqual(calls, ['list', 'watch@10']);
    assert.deepEqual(seen, ['add a', 'update a@11', 'add b', 'delete a']);
    assert.deepEqual(informer.list().map((o) => o.metadata.name), ['b']);
  });

  it('resumes from the last seen resourceVersion when a watch ends, without relisting', async () => {
    const { source, calls } = scriptedSource(
      [{ items: [], resourceVersion: '1' }],
      [[{ type: 'ADDED', object: obj('a', '2') }], [{ hang: true }]],
    );
    const informer = new Informer({ name: 't', source, logger: silentLogger, backoff: fastBackoff });
    informer.start();
    await until(() => calls.length === 3, 'the second watch');
    await informer.stop();
    assert.deepEqual(calls, ['list', 'watch@1', 'watch@2']);
  });

  it('relists on 410 Gone and emits deletes for objects that vanished meanwhile', async () => {
    const { source, calls } = scriptedSource(
      [
        { items: [obj('a', '1'), obj('b', '1')], resourceVersion: '5' },
        { items: [obj('b', '9')], resourceVersion: '30' },
      ],
      [[{ type: 'ERROR', object: { code: 410, message: 'too old resource version' } as unknown as KubeObject }], [{ hang: true }]],
    );
    const informer = new Informer({ name: 't', source, logger: silentLogger, backoff: fastBackoff });
    const seen = recorder(informer);
    informer.start();
    await until(() => calls.includes('watch@30'), 'the watch after the relist');
    await informer.stop();
    assert.deepEqual(calls, ['list', 'watch@5', 'list', 'watch@30']);
    assert.deepEqual(seen, ['add a', 'add b', 'update b@9', 'delete a']);
  });

  it('also relists when the watch request itself answers 410', async () => {
    const { source, calls } = scriptedSource(
      [{ items: [], resourceVersion: '5' }, { items: [], resourceVersion: '40' }],
      [[{ throw: new KubeApiError('WATCH', '/x', 410, { reason: 'Expired' }) }], [{ hang: true }]],
    );
    const informer = new Informer({ name: 't', source, logger: silentLogger, backoff: fastBackoff });
    informer.start();
    await until(() => calls.includes('watch@40'), 'the watch after the relist');
    await informer.stop();
    assert.deepEqual(calls, ['list', 'watch@5', 'list', 'watch@40']);
  });

  it('never gives up: list and watch failures are retried with backoff, and the error is reported', async () => {
    const { source, calls } = scriptedSource(
      [new Error('connection refused'), new Error('connection refused'), { items: [], resourceVersion: '3' }],
      [[{ throw: new Error('stream reset') }], [{ throw: new Error('stream reset') }], [{ hang: true }]],
    );
    const informer = new Informer({ name: 't', source, logger: silentLogger, backoff: fastBackoff });
    informer.start();
    await until(() => calls.filter((c) => c === 'watch@3').length === 3, 'the third watch');
    assert.equal(informer.hasSynced(), true);
    assert.equal(informer.lastError, 'stream reset');
    assert.equal(informer.state, 'watching');
    await informer.stop();
    assert.deepEqual(calls, ['list', 'list', 'list', 'watch@3', 'watch@3', 'watch@3']);
  });

  it('tells a handler added after sync about every cached object', async () => {
    const { source } = scriptedSource([{ items: [obj('a', '1'), obj('b', '1')], resourceVersion: '1' }], []);
    const informer = new Informer({ name: 't', source, logger: silentLogger });
    informer.start();
    await informer.waitForSync();
    const seen = recorder(informer);
    await informer.stop();
    assert.deepEqual(seen, ['add a', 'add b']);
  });
});
