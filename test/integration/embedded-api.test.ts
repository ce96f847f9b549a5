// The embedded API server alone, driven over HTTPS, with real kubectl v1.36 and the scenarios
// the conformance suite also runs against kube-apiserver (conformance.test.ts), plus what only
// the embedded server does: restarts from its state file, refuses a damaged one, bookmarks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNamespace, kubectlSkipReason, startEmbeddedTarget, type EmbeddedTarget } from './embedded-target.ts';
import { kubectlScenarios, scenarios, widget } from './embedded-scenarios.ts';
import { startEmbeddedServer } from '../../embedded/start.ts';
import { StateCorruptedError } from '../../embedded/storage/errors.ts';
import { waitFor } from '../fixtures/wait.ts';

describe('embedded API server: Kubernetes API scenarios', () => {
  let t: EmbeddedTarget;
  before(async () => {
    t = await startEmbeddedTarget({ bookmarkIntervalMs: 200 });
  });
  after(async () => {
    await t?.stop();
  });
  for (const s of [...scenarios, ...kubectlScenarios]) {
    it(s.name, { skip: s.kubectl ? kubectlSkipReason() : undefined }, async () => {
      const ns = await createNamespace(t, 'emb');
      s.check(await s.run(t, ns));
    });
  }

  it('sends periodic BOOKMARK events carrying the latest resourceVersion when asked', async () => {
    const ns = await createNamespace(t, 'bm');
    const plain = t.watch(`/apis/conformance.outrigger.dev/v1/namespaces/${ns}/widgets?resourceVersion=0`);
    const withBookmarks = t.watch(`/apis/conformance.outrigger.dev/v1/namespaces/${ns}/widgets?resourceVersion=0&allowWatchBookmarks=true`);
    const created = await t.request('POST', `/apis/conformance.outrigger.dev/v1/namespaces/${ns}/widgets`, { body: widget('b1') });
    const rv = Number((created.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
    const bookmark = await waitFor(() => withBookmarks.events.find((e) => e.type === 'BOOKMARK'), { description: 'a bookmark' });
    assert.ok(Number((bookmark.object.metadata as { resourceVersion: string }).resourceVersion) >= rv);
    assert.equal(bookmark.object.kind, 'Widget');
    assert.ok(!plain.events.some((e) => e.type === 'BOOKMARK'), 'no bookmarks unless asked for');
    plain.stop();
    withBookmarks.stop();
  });

  it('answers kubectl auth can-i and whoami (one administrator)', { skip: kubectlSkipReason() }, async () => {
    const can = await t.kubectl(['auth', 'can-i', 'delete', 'workspaces']);
    assert.equal(can.stdout.trim(), 'yes');
    const who = await t.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    assert.equal(who.stdout, 'outrigger-embedded-admin');
  });
});

describe('embedded API server: state across restarts', () => {
  it('keeps objects and resourceVersions across a restart; watches from before get 410 Expired', async () => {
    const first = await startEmbeddedTarget({ keepState: true });
    const ns = await createNamespace(first, 'rs');
    const w = await first.request('POST', `/apis/conformance.outrigger.dev/v1/namespaces/${ns}/widgets`, { body: widget('keep', { size: 'large' }) });
    const rv = Number((w.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
    await first.stop();
    const second = await startEmbeddedTarget({ stateDir: first.stateDir });
    try {
      const got = await second.request('GET', `/apis/conformance.outrigger.dev/v1/namespaces/${ns}/widgets/keep`);
      assert.equal(got.code, 200);
      assert.deepEqual((got.body as { spec: unknown }).spec, { size: 'large', replicas: 1 });
      const next = await second.request('POST', `/apis/conformance.outrigger.dev/v1/namespaces/${ns}/widgets`, { body: widget('after') });
      assert.ok(Number((next.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion) > rv);
      const old = second.watch(`/apis/conformance.outrigger.dev/v1/namespaces/${ns}/widgets?resourceVersion=${rv - 1}`);
      const event = await waitFor(() => old.events[0], { description: 'the watch to answer' });
      old.stop();
      assert.equal(event.type, 'ERROR');
      assert.equal(event.object.code, 410);
      assert.equal(event.object.reason, 'Expired');
    } finally {
      await second.stop();
      rmSync(first.stateDir, { recursive: true, force: true });
    }
  });

  it('refuses to start on a damaged state file and says so, leaving the file as it was', async () => {
    const first = await startEmbeddedTarget({ keepState: true });
    await first.stop();
    const state = join(first.stateDir, 'db', 'state.json');
    assert.ok(readdirSync(join(first.stateDir, 'db')).includes('state.json'));
    const damaged = readFileSync(state, 'utf8').replace('"default"', '"defaulT"');
    writeFileSync(state, damaged);
    await assert.rejects(startEmbeddedServer({ stateDir: first.stateDir, port: 0, crdDir: false }), (err: Error) => {
      assert.ok(err instanceof StateCorruptedError);
      assert.match(err.message, /state\.json is corrupted: checksum mismatch/);
      assert.match(err.message, /refuses to start rather than lose data/);
      return true;
    });
    assert.equal(readFileSync(state, 'utf8'), damaged, 'the damaged file is not replaced');
    rmSync(first.stateDir, { recursive: true, force: true });
  });
});
