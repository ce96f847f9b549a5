// Storage of the embedded API server: what one acknowledged write costs as the state grows.
// Baseline: lowdb as-is, which rewrites the whole JSON file on every write (stock JSONFile
// adapter, no fsync; and the same with fsync, which durability needs). Measured side by side:
// the embedded store's append-only journal with one fdatasync per batch (group commit), one
// writer at a time and 32 concurrent writers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import type { BenchScenario } from '../run.ts';
import { ObjectStore, type KubeObject } from '../../embedded/storage/store.ts';
import { DurableJsonFile, SNAPSHOT_FORMAT, type ObjectTable, type SnapshotData } from '../../embedded/storage/snapshot.ts';

const SIZES = [100, 1000, 5000];
const WRITES = 40;

function object(i: number, rev = 0): KubeObject {
  return {
    apiVersion: 'outrigger.dev/v1alpha1',
    kind: 'Workspace',
    metadata: { name: `ws-${i}`, namespace: 'default', uid: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, labels: { team: 'a', env: 'dev' } },
    spec: { owner: `user${i}@example.com`, image: 'codercom/code-server:4.96.4', resources: { cpu: 2, memory: '4Gi' }, rev, notes: 'x'.repeat(600) },
  };
}

async function lowdbPerWrite(dir: string, n: number, durable: boolean): Promise<number> {
  const path = join(dir, durable ? 'durable.json' : 'stock.json');
  const objects: ObjectTable = { 'outrigger.dev/workspaces': {} };
  for (let i = 0; i < n; i++) objects['outrigger.dev/workspaces']![`default/ws-${i}`] = object(i);
  const data: SnapshotData = { format: SNAPSHOT_FORMAT, resourceVersion: n, savedAt: '', checksum: '', objects };
  const db = durable ? new Low<SnapshotData>(new DurableJsonFile(path), data) : new Low<SnapshotData>(new JSONFile<SnapshotData>(path), data);
  db.data = data;
  await db.write();
  const started = performance.now();
  for (let w = 0; w < WRITES; w++) {
    db.data.objects['outrigger.dev/workspaces']![`default/ws-${w % n}`] = object(w % n, w + 1);
    db.data.resourceVersion++;
    await db.write();
  }
  return (performance.now() - started) / WRITES;
}

async function journalPerWrite(dir: string, n: number, concurrency: number): Promise<number> {
  const store = await ObjectStore.open({ dir, compactAfterBytes: 1 << 30 });
  for (let i = 0; i < n; i++) store.commit('outrigger.dev/workspaces', `default/ws-${i}`, object(i));
  await store.settled();
  const total = concurrency === 1 ? WRITES * 5 : WRITES * 20;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const w = next++;
        await store.commit('outrigger.dev/workspaces', `default/ws-${w % n}`, object(w % n, w + 1)).durable;
      }
    }),
  );
  const perWrite = (performance.now() - started) / total;
  await store.close();
  return perWrite;
}

const scenario: BenchScenario = {
  description: 'cost of one durable write vs state size: lowdb rewrite-per-write (baseline) vs journal + group commit',
  async run() {
    const report: Record<string, string> = {};
    for (const n of SIZES) {
      const dir = mkdtempSync(join(tmpdir(), 'outrigger-bench-store-'));
      try {
        const stock = await lowdbPerWrite(dir, n, false);
        const durable = await lowdbPerWrite(dir, n, true);
        const seq = await journalPerWrite(join(dir, 'seq'), n, 1);
        const par = await journalPerWrite(join(dir, 'par'), n, 32);
        report[`${n} objects: lowdb stock (no fsync) ms/write`] = stock.toFixed(2);
        report[`${n} objects: lowdb + fsync ms/write`] = durable.toFixed(2);
        report[`${n} objects: journal, 1 writer ms/write`] = seq.toFixed(2);
        report[`${n} objects: journal, 32 writers ms/write`] = par.toFixed(3);
        report[`${n} objects: ratio journal(1)/lowdb+fsync`] = (seq / durable).toFixed(3);
        report[`${n} objects: ratio journal(32)/lowdb+fsync`] = (par / durable).toFixed(3);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    return report;
  },
};
export default scenario;
