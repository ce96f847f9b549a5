import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectStore } from '../../embedded/storage/store.ts';
import { StateCorruptedError, StateLockedError } from '../../embedded/storage/errors.ts';
import { listSegments } from '../../embedded/storage/journal.ts';
import type { Change } from '../../embedded/storage/history.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const cm = (name: string, data: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data,
});

test('commits get increasing resourceVersions and survive a reopen', async (t) => {
  const dir = tempDir(t);
  const store = await ObjectStore.open({ dir });
  const a = store.commit('core/configmaps', 'default/a', cm('a'));
  const b = store.commit('core/configmaps', 'default/b', cm('b'));
  assert.equal(a.rv + 1, b.rv, 'one global counter, one step per change');
  assert.equal((a.object.metadata as { resourceVersion: string }).resourceVersion, String(a.rv));
  await Promise.all([a.durable, b.durable]);
  const d = store.commit('core/configmaps', 'default/a', null);
  await d.durable;
  await store.close();

  const again = await ObjectStore.open({ dir });
  assert.equal(again.get('core/configmaps', 'default/a'), undefined, 'the delete was kept');
  assert.deepEqual(again.get('core/configmaps', 'default/b')?.data, {});
  assert.equal(again.resourceVersion, d.rv, 'the counter continues where it was');
  const next = again.commit('core/configmaps', 'default/c', cm('c'));
  assert.equal(next.rv, d.rv + 1);
  await again.close();
});

test('writes made in the same turn share one journal flush (group commit)', async (t) => {
  const store = await ObjectStore.open({ dir: tempDir(t) });
  t.after(() => store.close());
  const before = store.stats.flushes;
  const commits = Array.from({ length: 50 }, (_, i) => store.commit('core/configmaps', `default/c${i}`, cm(`c${i}`)));
  await Promise.all(commits.map((c) => c.durable));
  assert.equal(store.stats.flushes - before, 1, 'fifty changes, one fdatasync');
});

test('stored objects are frozen so nobody changes history by accident', async (t) => {
  const store = await ObjectStore.open({ dir: tempDir(t) });
  t.after(() => store.close());
  const { object } = store.commit('core/configmaps', 'default/a', cm('a', { k: 'v' }));
  assert.throws(() => {
    (object.data as Record<string, string>).k = 'changed';
  }, TypeError);
});

test('watch listeners see changes only after they are durable, in order', async (t) => {
  const store = await ObjectStore.open({ dir: tempDir(t) });
  t.after(() => store.close());
  const seen: Change[] = [];
  store.subscribe((changes) => seen.push(...changes));
  const a = store.commit('core/configmaps', 'default/a', cm('a'));
  assert.equal(seen.length, 0, 'not before the flush');
  const b = store.commit('core/configmaps', 'default/a', cm('a', { x: 'y' }));
  await b.durable;
  assert.deepEqual(
    seen.map((c) => [c.type, c.rv]),
    [
      ['ADDED', a.rv],
      ['MODIFIED', b.rv],
    ],
  );
});

test('stateAt rebuilds an older state from the history, and 410s past it', async (t) => {
  const store = await ObjectStore.open({ dir: tempDir(t), historyCapacity: 3 });
  t.after(() => store.close());
  const r1 = store.commit('core/configmaps', 'default/a', cm('a', { v: '1' }));
  store.commit('core/configmaps', 'default/a', cm('a', { v: '2' }));
  store.commit('core/configmaps', 'default/b', cm('b'));
  const last = store.commit('core/configmaps', 'default/a', null);
  await last.durable;
  const old = store.stateAt('core/configmaps', r1.rv + 1);
  assert.deepEqual(old.get('default/a')?.data, { v: '2' });
  assert.equal(old.has('default/b'), false);
  assert.throws(() => store.stateAt('core/configmaps', r1.rv - 1), (err: { code: number; reason: string }) => {
    return err.code === 410 && err.reason === 'Expired';
  });
});

test('compaction folds the journal into state.json and keeps everything', async (t) => {
  const dir = tempDir(t);
  const store = await ObjectStore.open({ dir, compactAfterBytes: 2_000 });
  for (let i = 0; i < 40; i++) await store.commit('core/configmaps', `default/c${i}`, cm(`c${i}`, { i: String(i) })).durable;
  await store.compact();
  assert.ok(store.stats.compactions >= 1);
  const rv = store.resourceVersion;
  await store.close();
  assert.ok(listSegments(dir).length <= 2, `old segments removed: ${readdirSync(dir).join(', ')}`);
  const again = await ObjectStore.open({ dir });
  assert.equal(again.count('core/configmaps'), 40);
  assert.equal(again.resourceVersion, rv);
  await again.close();
});

test('a torn final journal write (never acknowledged) is dropped with a warning', async (t) => {
  const dir = tempDir(t);
  const store = await ObjectStore.open({ dir, compactOnClose: false });
  await store.commit('core/configmaps', 'default/a', cm('a')).durable;
  await store.close(); // without compaction the journal stays as a crash right after the write leaves it
  appendFileSync(listSegments(dir).at(-1)!.path, '0badc0de {"rv":99,"op":"put","reso');
  const warnings: string[] = [];
  const again = await ObjectStore.open({ dir, warn: (m) => warnings.push(m) });
  assert.equal(again.count('core/configmaps'), 1);
  assert.match(warnings.join('\n'), /interrupted journal write/);
  await again.close();
});

test('damage before the end of the journal is refused, never skipped', async (t) => {
  const dir = tempDir(t);
  const store = await ObjectStore.open({ dir, compactOnClose: false });
  await store.commit('core/configmaps', 'default/a', cm('a')).durable;
  await store.commit('core/configmaps', 'default/b', cm('b')).durable;
  await store.close();
  const seg = listSegments(dir).at(-1)!;
  writeFileSync(seg.path, readFileSync(seg.path, 'utf8').replace('"name":"a"', '"name":"z"'));
  await assert.rejects(ObjectStore.open({ dir }), (err: Error) => {
    assert.ok(err instanceof StateCorruptedError, String(err));
    assert.match(err.message, /journal record 1 .* damaged/);
    assert.match(err.message, /refuses to start/);
    return true;
  });
});

test('a corrupted state.json is reported, not replaced', async (t) => {
  const dir = tempDir(t);
  const store = await ObjectStore.open({ dir });
  await store.commit('core/configmaps', 'default/a', cm('a')).durable;
  await store.close(); // a clean close folds the journal into state.json
  const path = join(dir, 'state.json');
  assert.deepEqual(listSegments(dir), [], 'nothing left in the journal');
  writeFileSync(path, readFileSync(path, 'utf8').replace('"name":"a"', '"name":"b"'));
  await assert.rejects(ObjectStore.open({ dir }), (err: Error) => err instanceof StateCorruptedError && /checksum mismatch/.test(err.message));
  writeFileSync(path, '{"format": "outrigger.dev/embedded-st');
  await assert.rejects(ObjectStore.open({ dir }), (err: Error) => err instanceof StateCorruptedError && /not valid JSON/.test(err.message));
  assert.match(readFileSync(path, 'utf8'), /embedded-st$/, 'the damaged file is left as it was');
});

test('state files are readable by their owner only (they hold Secrets)', async (t) => {
  const dir = tempDir(t);
  const store = await ObjectStore.open({ dir, compactOnClose: false });
  await store.commit('core/secrets', 'default/s', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { k: 'c2VjcmV0' } }).durable;
  await store.compact();
  await store.commit('core/secrets', 'default/t', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 't' } }).durable;
  await store.close();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json') || n.endsWith('.log'))) {
    assert.equal(statSync(join(dir, f)).mode & 0o077, 0, `${f} is not readable by others`);
  }
});

test('a second server on the same directory is refused', async (t) => {
  const dir = tempDir(t);
  const store = await ObjectStore.open({ dir });
  t.after(() => store.close());
  await assert.rejects(ObjectStore.open({ dir }), StateLockedError);
});

