// The reconcile kit with a fake ExternalClient and an in-memory API: every outcome rule of
// reconcileManaged, the create-pending guard, deletion branches, and the failure classifier.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { FakeClock, OutriggerError, TerminalError, getCondition, isTerminal, type Condition, type EventRecorder, type KubeObject, type ReconcileContext } from '../../../controller/index.ts';
import { silentLogger } from '../../../controller/logger.ts';
import { reconcileManaged, type ExternalClient, type ManagedKind, type ManagedObject, type Observation } from '../../../reconcilers/common/managed.ts';
import { CREATE_PENDING_ANNOTATION } from '../../../reconcilers/common/create-guard.ts';
import { classifyFailure, WaitingForReferent } from '../../../reconcilers/common/failure.ts';
import { outriggerFinalizer } from '../../../reconcilers/common/kinds.ts';
import { FakeApi } from './fake-api.ts';

type Thing = ManagedObject<{ size: number; policy: 'Delete' | 'Orphan' }>;

const schema = z.object({ size: z.number().int().min(1), policy: z.enum(['Delete', 'Orphan']).default('Delete') });

class FakeExternal implements ExternalClient<Thing> {
  exists = false;
  size = 0;
  calls: string[] = [];
  failObserve?: Error;
  failCreate?: Error;
  async observe(obj: Thing): Promise<Observation> {
    this.calls.push('observe');
    if (this.failObserve) throw this.failObserve;
    return { exists: this.exists, upToDate: this.size === obj.spec.size, diff: `size ${this.size} != ${obj.spec.size}` };
  }
  async create(obj: Thing): Promise<void> {
    this.calls.push('create');
    if (this.failCreate) throw this.failCreate;
    this.exists = true;
    this.size = obj.spec.size;
  }
  async update(obj: Thing): Promise<void> {
    this.calls.push('update');
    this.size = obj.spec.size;
  }
  async delete(): Promise<void> {
    this.calls.push('delete');
    this.exists = false; // gone already or not: success either way
  }
}

function setup(opts: { guard?: 'marker' | 'owner-label'; connectError?: Error } = {}) {
  const api = new FakeApi();
  const external = new FakeExternal();
  const events: Array<{ type: string; reason: string; note: string }> = [];
  const recorder: EventRecorder = { event: (_o, type, reason, note) => void events.push({ type, reason, note }) };
  const clock = new FakeClock(Date.parse('2030-01-01T00:00:00Z'));
  const kind: ManagedKind<Thing, Record<string, unknown>> = {
    client: api.client<Thing>(),
    specSchema: schema,
    events: recorder,
    clock,
    createGuard: opts.guard ?? 'marker',
    connect: async () => {
      if (opts.connectError) throw opts.connectError;
      return external;
    },
    statusFields: (_o, obs) => ({ exists: obs.exists }),
    pollIntervalMs: (_o, ready) => (ready ? 60_000 : 5_000),
    deletionPolicy: (o) => o.spec.policy,
  };
  const ctx: ReconcileContext = { signal: new AbortController().signal, log: silentLogger };
  api.put({ metadata: { namespace: 'ns', name: 'a' }, spec: { size: 2 } } as KubeObject);
  const run = () => reconcileManaged(kind, { namespace: 'ns', name: 'a' }, ctx);
  const stored = () => api.get('ns', 'a') as Thing | undefined;
  const condition = (type: string): Condition | undefined => getCondition(stored()?.status?.conditions, type);
  return { api, external, events, kind, run, stored, condition };
}

describe('reconcile kit: create, update, steady state', () => {
  it('creates once, writes Ready, and a second pass with nothing changed makes zero writes', async () => {
    const t = setup();
    const result = await t.run();
    assert.deepEqual(t.external.calls, ['observe', 'create', 'observe']);
    assert.equal(t.condition('Ready')?.status, 'True');
    assert.equal(t.stored()?.status?.observedGeneration, 1);
    assert.ok(t.stored()?.metadata.finalizers?.includes(outriggerFinalizer));
    assert.equal(t.stored()?.metadata.annotations?.[CREATE_PENDING_ANNOTATION], undefined, 'the marker is gone after a create that returned');
    assert.equal(result.requeueAfterMs, 60_000);
    assert.deepEqual(t.events.map((e) => e.reason), ['Created']);

    const writes = t.api.writes.length;
    t.external.calls = [];
    await t.run();
    assert.deepEqual(t.external.calls, ['observe'], 'no create or update when the world matches');
    assert.equal(t.api.writes.length, writes, 'status unchanged: zero writes');
  });

  it('updates what drifted and says how in the event', async () => {
    const t = setup();
    await t.run();
    t.external.size = 7;
    t.external.calls = [];
    await t.run();
    assert.deepEqual(t.external.calls, ['observe', 'update', 'observe']);
    assert.match(t.events.at(-1)!.note, /size 7 != 2/);
  });

  it('owner-label kinds skip the marker: no annotation writes around create', async () => {
    const t = setup({ guard: 'owner-label' });
    await t.run();
    assert.equal(t.api.writes.filter((w) => JSON.stringify(w.body).includes(CREATE_PENDING_ANNOTATION)).length, 0);
  });
});

describe('reconcile kit: the create-pending guard', () => {
  it('after a crash between create and status, never creates a second time', async () => {
    const t = setup();
    // The create's outcome is unknown (the request went out, no answer came): the marker stays.
    t.external.failCreate = Object.assign(new OutriggerError('Unreachable', 'no answer'), { outcomeUnknown: true });
    await assert.rejects(t.run());
    assert.ok(t.stored()?.metadata.annotations?.[CREATE_PENDING_ANNOTATION], 'the marker survives');
    // The controller restarts; the external system did not show the object (yet).
    t.external.failCreate = undefined;
    t.external.calls = [];
    await assert.rejects(t.run(), (err) => isTerminal(err) && (err as OutriggerError).code === 'CreatePending');
    assert.deepEqual(t.external.calls, ['observe'], 'create was not called again');
    assert.equal(t.condition('Stalled')?.status, 'True');
    assert.equal(t.condition('Ready')?.reason, 'CreatePending');
  });

  it('a marker with the object found means the create took effect: the marker goes, nothing is created', async () => {
    const t = setup();
    t.external.failCreate = Object.assign(new Error('socket hang up'), { outcomeUnknown: true });
    await assert.rejects(t.run());
    t.external.failCreate = undefined;
    t.external.exists = true; // it was made after all
    t.external.size = 2;
    t.external.calls = [];
    await t.run();
    assert.deepEqual(t.external.calls, ['observe']);
    assert.equal(t.stored()?.metadata.annotations?.[CREATE_PENDING_ANNOTATION], undefined);
    assert.equal(t.condition('Ready')?.status, 'True');
  });

  it('a definite refusal clears the marker: the next attempt may create', async () => {
    const t = setup();
    t.external.failCreate = new OutriggerError('ImageNotFound', 'no such image');
    await assert.rejects(t.run());
    assert.equal(t.stored()?.metadata.annotations?.[CREATE_PENDING_ANNOTATION], undefined);
    t.external.failCreate = undefined;
    await t.run();
    assert.equal(t.external.calls.filter((c) => c === 'create').length, 2);
  });
});

describe('reconcile kit: failures', () => {
  it('observe failing is transient: Synced=False with the code, retried (not terminal), one Warning', async () => {
    const t = setup();
    t.external.failObserve = new OutriggerError('Unreachable', 'engine down');
    await assert.rejects(t.run(), (err) => !isTerminal(err));
    assert.equal(t.condition('Synced')?.status, 'False');
    assert.equal(t.condition('Synced')?.reason, 'Unreachable');
    assert.equal(t.condition('Stalled')?.status, 'False');
    assert.deepEqual(t.events.map((e) => `${e.type}/${e.reason}`), ['Warning/Unreachable']);
  });

  it('the same failure again writes no new status and repeats the event word for word (folded into a series)', async () => {
    const t = setup();
    t.external.failObserve = new OutriggerError('Unreachable', 'engine down');
    await assert.rejects(t.run());
    const writes = t.api.writes.length;
    await assert.rejects(t.run());
    assert.equal(t.api.writes.length, writes);
    assert.equal(new Set(t.events.map((e) => `${e.reason}|${e.note}`)).size, 1);
  });

  it('an invalid spec is terminal: Stalled=True naming the field, nothing created, no finalizer', async () => {
    const t = setup();
    t.api.put({ metadata: { namespace: 'ns', name: 'a' }, spec: { size: 0 } } as KubeObject);
    await assert.rejects(t.run(), (err) => isTerminal(err));
    assert.equal(t.condition('Stalled')?.status, 'True');
    assert.match(t.condition('Ready')?.message ?? '', /spec\.size/);
    assert.deepEqual(t.external.calls, []);
    assert.equal(t.stored()?.metadata.finalizers, undefined);
  });

  it('a status write that conflicts is retried silently: no failure in status, no event', async () => {
    const t = setup();
    t.api.failNext.set('/apis/test.outrigger.dev/v1/namespaces/ns/things/a/status', 409);
    assert.deepEqual(await t.run(), { requeue: true });
    assert.equal(t.condition('Synced'), undefined);
    assert.deepEqual(t.events.map((e) => e.reason), ['Created']);
  });

  it('a status write that finds the object gone (its last finalizer just removed) is not a failure', async () => {
    const t = setup();
    t.api.failNext.set('/apis/test.outrigger.dev/v1/namespaces/ns/things/a/status', 404);
    const result = await t.run();
    assert.equal(result.requeueAfterMs, 60_000, 'the reconcile ended normally');
    assert.deepEqual(t.events.map((e) => e.type), ['Normal'], 'no Warning for it');
  });

  it('a missing referent is a wait: Ready=False naming it, no error for the queue, no backoff', async () => {
    const t = setup({ connectError: new WaitingForReferent('ReferenceNotFound', { kind: 'Host', namespace: 'ns', name: 'h' }, 'spec.hostRef: Host "h" not found') });
    const result = await t.run();
    assert.ok((result.requeueAfterMs ?? 0) > 0);
    assert.equal(t.condition('Ready')?.reason, 'ReferenceNotFound');
    assert.match(t.condition('Ready')?.message ?? '', /Host "h"/);
    assert.equal(t.condition('Synced')?.status, 'True', 'waiting is not a failed reconcile');
  });

  it('never reports a reason outside the catalog, whatever is thrown', () => {
    assert.equal(classifyFailure(new OutriggerError(undefined as never, 'x')).reason, 'ExternalError');
    assert.equal(classifyFailure(new OutriggerError('NoSuchCode', 'x')).reason, 'ExternalError');
    assert.equal(classifyFailure(new Error('boom')).reason, 'Internal');
    assert.equal(classifyFailure(new TypeError('bug')).reason, 'Internal');
    assert.equal(classifyFailure(new TerminalError('InvalidSpec', 'x')).kind, 'terminal');
    assert.equal(classifyFailure('a string').reason, 'Internal');
  });
});

describe('reconcile kit: deletion', () => {
  it('deletionPolicy Delete: delete (gone already is success), then the finalizer goes and the object with it', async () => {
    const t = setup();
    await t.run();
    t.external.exists = false; // deleted by hand meanwhile
    t.api.delete('ns', 'a');
    t.external.calls = [];
    await t.run();
    assert.deepEqual(t.external.calls, ['delete']);
    assert.equal(t.stored(), undefined);
    assert.equal(t.events.at(-1)?.reason, 'Deleted');
  });

  it('deletionPolicy Orphan: nothing deleted, finalizer removed', async () => {
    const t = setup();
    t.api.put({ metadata: { namespace: 'ns', name: 'a' }, spec: { size: 2, policy: 'Orphan' } } as KubeObject);
    await t.run();
    t.api.delete('ns', 'a');
    t.external.calls = [];
    await t.run();
    assert.deepEqual(t.external.calls, []);
    assert.equal(t.stored(), undefined);
    assert.equal(t.external.exists, true);
    assert.equal(t.events.at(-1)?.reason, 'Orphaned');
  });

  it('a referent gone for good does not block deletion: it completes with a Warning', async () => {
    const t = setup();
    await t.run();
    t.kind.connect = async () => {
      throw new WaitingForReferent('ReferenceNotFound', { kind: 'Host', namespace: 'ns', name: 'h' }, 'spec.hostRef: Host "h" not found');
    };
    t.api.delete('ns', 'a');
    await t.run();
    assert.equal(t.stored(), undefined);
    assert.deepEqual(t.events.at(-1) && [t.events.at(-1)!.type, t.events.at(-1)!.reason], ['Warning', 'ReferenceGone']);
  });

  it('a failing cleanup keeps the finalizer and is retried', async () => {
    const t = setup();
    await t.run();
    t.external.delete = async () => { throw new OutriggerError('Unreachable', 'engine down'); };
    t.api.delete('ns', 'a');
    await assert.rejects(t.run());
    assert.ok(t.stored()?.metadata.finalizers?.includes(outriggerFinalizer));
    assert.equal(t.condition('Synced')?.reason, 'Unreachable');
  });
});
