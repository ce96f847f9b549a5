// The engine watcher against the real dockerd: a container killed, removed or started by hand is
// reported within moments through the events stream; a steady-state resync costs exactly one list
// call; when the events stream stalls the periodic list still notices; after the connection
// breaks the watcher reconnects and reports what happened in the gap.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import {
  Engine,
  EngineWatcher,
  WorkspaceContainers,
  homeVolumeName,
  type ContainerChange,
  type WorkspaceTarget,
} from '../../reconcilers/docker/index.ts';
import { dockerSkipReason, setUpDockerTest, startDockerProxy, testOwner, type DockerProxy, type DockerTestEnv } from '../fixtures/docker.ts';
import { waitFor } from '../fixtures/wait.ts';

const skip = await dockerSkipReason();
if (skip) process.stderr.write(`docker-watcher: skipping: ${skip}\n`);

describe('Docker engine watcher', { skip }, () => {
  let env: DockerTestEnv;
  let engine: Engine;
  let ws: WorkspaceContainers;
  const cleanups: Array<() => Promise<void> | void> = [];

  before(async () => {
    env = await setUpDockerTest('watcher');
    engine = new Engine({ type: 'unix', socketPath: env.socketPath });
    ws = new WorkspaceContainers(engine, { instance: env.instance, stopTimeoutSeconds: 2 });
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c();
    engine?.close();
    await env?.cleanup();
  });

  function target(name: string): WorkspaceTarget {
    const owner = testOwner(name, 'watch');
    return {
      spec: {
        owner,
        image: env.image,
        pullPolicy: 'Never',
        env: { OUTRIGGER_SSH: 'off' },
        home: { volume: homeVolumeName(owner), mountPath: '/home/dev' },
      },
      running: true,
      files: [],
    };
  }

  /** A started watcher whose changes are collected; stopped after the suite. */
  async function watch(on: Engine, opts: { resyncMs: number }): Promise<{ watcher: EngineWatcher; changes: ContainerChange[] }> {
    const watcher = new EngineWatcher(on, { instance: env.instance, resyncMs: opts.resyncMs, backoff: { initialMs: 100, maxMs: 1000 } });
    const changes: ContainerChange[] = [];
    watcher.subscribe((c) => changes.push(c));
    watcher.start();
    cleanups.push(() => watcher.stop());
    await watcher.waitForSync(AbortSignal.timeout(10_000));
    await waitFor(() => watcher.connected, { description: 'the events stream to connect', timeoutMs: 10_000 });
    return { watcher, changes };
  }

  it('reports a container killed, started and removed by hand through events, without listing', async () => {
    const c = await ws.create(target('oob'));
    const { watcher, changes } = await watch(engine, { resyncMs: 10 * 60_000 });
    const lists = watcher.resyncCount;
    const container = env.docker.getContainer(c.id);

    await container.kill();
    const died = await waitFor(() => changes.find((x) => x.containerId === c.id && x.action === 'die'), {
      description: 'a die change for the killed container',
      timeoutMs: 2000,
      intervalMs: 20,
    });
    assert.equal(died.key, 'watch/oob');
    assert.equal(watcher.cache.get(c.id)?.state, 'exited');
    assert.equal(watcher.cache.get(c.id)?.exitCode, 137);

    await container.start();
    await waitFor(() => watcher.cache.get(c.id)?.state === 'running', { description: 'the start to be seen', timeoutMs: 2000, intervalMs: 20 });

    await container.remove({ force: true });
    await waitFor(() => changes.find((x) => x.containerId === c.id && x.action === 'destroy'), { description: 'a destroy change', timeoutMs: 2000, intervalMs: 20 });
    assert.equal(watcher.cache.get(c.id), undefined);
    // The list did not run in between: events alone told the story.
    assert.equal(watcher.resyncCount, lists);
  });

  it('costs exactly one list call per resync in the steady state, and reports no change', async () => {
    for (const name of ['steady-a', 'steady-b', 'steady-c']) await ws.create(target(name));
    const { watcher, changes } = await watch(engine, { resyncMs: 200 });
    // Let the creates' own events drain before measuring.
    await waitFor(() => watcher.resyncCount >= 2, { description: 'two resyncs', timeoutMs: 5000 });
    const before = engine.calls.snapshot();
    const resyncsBefore = watcher.resyncCount;
    const changesBefore = changes.length;
    await waitFor(() => watcher.resyncCount >= resyncsBefore + 5, { description: 'five more resyncs', timeoutMs: 10_000 });
    const resyncs = watcher.resyncCount - resyncsBefore;
    const spent = engine.calls.since(before);
    // A resync may be in flight at either end of the window: it counts once it is sent.
    assert.deepEqual(Object.keys(spent.byOperation), ['GET /containers/json']);
    assert.ok(Math.abs(spent.total - resyncs) <= 1, `${spent.total} calls for ${resyncs} resyncs`);
    assert.equal(changes.length, changesBefore);
  });

  it('notices a killed container through the periodic list when the events stream stalls', async () => {
    const proxy: DockerProxy = await startDockerProxy(env.socketPath);
    cleanups.push(() => proxy.close());
    proxy.stallEvents(true);
    const viaProxy = new Engine({ type: 'stream', identity: 'stalled-proxy', connectStream: async () => connect(proxy.socketPath) });
    cleanups.push(() => viaProxy.close());
    const c = await ws.create(target('stalled'));
    const { changes } = await watch(viaProxy, { resyncMs: 300 });

    await env.docker.getContainer(c.id).kill();
    const change = await waitFor(() => changes.find((x) => x.containerId === c.id), { description: 'the list to notice the kill', timeoutMs: 5000 });
    assert.equal(change.action, 'resync');
    assert.ok(!changes.some((x) => x.action === 'die'), 'a die event came through a stalled stream');
  });

  it('reconnects after the connection breaks and reports what happened in the gap', async () => {
    const proxy = await startDockerProxy(env.socketPath);
    cleanups.push(() => proxy.close());
    const viaProxy = new Engine({ type: 'stream', identity: 'cut-proxy', connectStream: async () => connect(proxy.socketPath) });
    cleanups.push(() => viaProxy.close());
    const c = await ws.create(target('gap'));
    const { watcher, changes } = await watch(viaProxy, { resyncMs: 10 * 60_000 });

    proxy.cut();
    await waitFor(() => !watcher.connected, { description: 'the watcher to notice the cut', timeoutMs: 5000 });
    await env.docker.getContainer(c.id).kill();
    // The container is dead before anyone can watch again.
    await waitFor(async () => !(await env.docker.getContainer(c.id).inspect()).State.Running, { description: 'the kill to take effect', timeoutMs: 5000 });
    proxy.restore();
    await waitFor(() => watcher.connected, { description: 'the watcher to reconnect', timeoutMs: 10_000 });
    // Replayed events (since the last one seen) or the relist after reconnecting: either tells.
    await waitFor(() => changes.find((x) => x.containerId === c.id && ['die', 'resync'].includes(x.action)), {
      description: 'the kill in the gap to be reported',
      timeoutMs: 5000,
    });
    assert.equal(watcher.cache.get(c.id)?.state, 'exited');
  });
});
