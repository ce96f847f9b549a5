// References declared once and what they feed: the reference index (watch mappings), in-use
// protection of referents (finalizer added while used, deletion waiting and then completing), and
// the scrubbing of Secret bytes out of messages.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, type EventRecorder, type Informer, type InformerHandler, type KubeObject, type ReconcileContext } from '../../../controller/index.ts';
import { silentLogger } from '../../../controller/logger.ts';
import { hostKind, proxyRouteKind, workspaceKind } from '../../../crds/index.ts';
import { IN_USE_FINALIZER, InUseProtection, describeUsers } from '../../../reconcilers/common/in-use.ts';
import { ReferenceIndex, referentChanged } from '../../../reconcilers/common/references.ts';
import { SecretReader, redactSecrets } from '../../../reconcilers/common/secrets.ts';
import { FakeApi } from './fake-api.ts';

/** Just enough of an informer: a cache, handlers, and events a test fires by hand. */
class FakeInformer<T extends KubeObject> {
  readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  addHandler(h: InformerHandler<T>): void {
    this.handlers.push(h);
    for (const o of this.cache.values()) h.onAdd?.(o);
  }
  get(key: string): T | undefined {
    return this.cache.get(key);
  }
  list(): T[] {
    return [...this.cache.values()];
  }
  upsert(obj: T): void {
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const old = this.cache.get(key);
    this.cache.set(key, obj);
    for (const h of this.handlers) old ? h.onUpdate?.(old, obj) : h.onAdd?.(obj);
  }
  remove(obj: T): void {
    this.cache.delete(`${obj.metadata.namespace}/${obj.metadata.name}`);
    for (const h of this.handlers) h.onDelete?.(obj);
  }
  asInformer(): Informer<T> {
    return this as unknown as Informer<T>;
  }
}

const workspace = (name: string, host: string, extra: Record<string, unknown> = {}) => ({
  metadata: { namespace: 'ns', name },
  spec: { owner: name, runtime: { docker: { hostRef: { name: host }, image: 'img:1' } }, ...extra },
});
const route = (name: string, host: string, ws?: string) => ({
  metadata: { namespace: 'ns', name },
  spec: { hostRef: { name: host }, serverNames: [`${name}.example.test`], routes: [{ path: '/', upstream: ws ? { workspaceRef: { name: ws, port: 'editor' } } : { address: '10.0.0.5', port: 80 } }] },
});

describe('the reference index', () => {
  it('maps a referent to exactly the objects that name it, per kind, and follows edits and deletions', () => {
    const index = new ReferenceIndex();
    const workspaces = new FakeInformer<KubeObject>();
    const routes = new FakeInformer<KubeObject>();
    index.track(workspaceKind, workspaces.asInformer());
    index.track(proxyRouteKind, routes.asInformer());
    workspaces.upsert(workspace('alice', 'h1', { env: [{ name: 'TOKEN', secretKeyRef: { name: 'tokens', key: 'a' } }] }) as KubeObject);
    workspaces.upsert(workspace('bob', 'h2') as KubeObject);
    routes.upsert(route('docs', 'h1', 'alice') as KubeObject);
    const host = (name: string) => ({ metadata: { namespace: 'ns', name } }) as KubeObject;
    assert.deepEqual(index.dependantKeys('Workspace', host('h1'), 'Host').map((k) => k.name), ['alice']);
    assert.deepEqual(index.dependantKeys('ProxyRoute', host('h1'), 'Host').map((k) => k.name), ['docs']);
    assert.deepEqual(index.dependantKeys('Workspace', { metadata: { namespace: 'ns', name: 'tokens' } } as KubeObject, 'Secret').map((k) => k.name), ['alice']);
    assert.deepEqual(index.dependantKeys('ProxyRoute', { metadata: { namespace: 'ns', name: 'alice' } } as KubeObject, 'Workspace').map((k) => k.name), ['docs']);
    assert.deepEqual(index.dependantKeys('Workspace', { metadata: { namespace: 'other', name: 'h1' } } as KubeObject, 'Host'), [], 'another namespace is another Host');
    // Moved to h2 (through a re-create, but the index does not care), then deleted.
    workspaces.upsert(workspace('alice', 'h2') as KubeObject);
    assert.deepEqual(index.dependantKeys('Workspace', host('h2'), 'Host').map((k) => k.name), ['alice', 'bob']);
    assert.deepEqual(index.dependantKeys('Workspace', host('h1'), 'Host'), []);
    workspaces.remove(workspace('bob', 'h2') as KubeObject);
    assert.deepEqual(index.dependantKeys('Workspace', host('h2'), 'Host').map((k) => k.name), ['alice']);
  });

  it('marks the references whose cleanup needs the referent as protecting it', () => {
    const index = new ReferenceIndex();
    const hosts = new FakeInformer<KubeObject>();
    const workspaces = new FakeInformer<KubeObject>();
    index.track(hostKind, hosts.asInformer());
    index.track(workspaceKind, workspaces.asInformer());
    hosts.upsert({ metadata: { namespace: 'ns', name: 'h1' }, spec: { address: '10.0.0.2', ssh: { user: 'root', privateKeySecretRef: { name: 'key' }, hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE3B8hhc7oWmJ5KSdvwNmYvjybvAg0EC2OnH5G7iRbQx' } } } as KubeObject);
    workspaces.upsert(workspace('alice', 'h1', { env: [{ name: 'T', secretKeyRef: { name: 'tokens', key: 'a' } }] }) as KubeObject);
    assert.deepEqual(index.dependants('Secret', 'ns', 'key').map((d) => [d.kind, d.key.name, d.protects]), [['Host', 'h1', true]]);
    assert.deepEqual(index.dependants('Host', 'ns', 'h1').map((d) => [d.kind, d.protects]), [['Workspace', true]]);
    assert.deepEqual(index.dependants('Secret', 'ns', 'tokens').map((d) => d.protects), [false], 'a Workspace deletes without reading its env Secrets');
  });

  it('a referent concerns its dependants on spec changes, deletion and Ready flips, not status churn', () => {
    const h = (generation: number, ready: string, rv: string, deleting = false) => ({
      metadata: { namespace: 'ns', name: 'h', generation, resourceVersion: rv, ...(deleting ? { deletionTimestamp: 'x' } : {}) },
      status: { conditions: [{ type: 'Ready', status: ready }], lastProbeTime: rv },
    }) as KubeObject;
    assert.equal(referentChanged(h(1, 'True', '1'), h(1, 'True', '2')), false, 'a probe time rewritten');
    assert.equal(referentChanged(h(1, 'False', '1'), h(1, 'True', '2')), true, 'back from an outage');
    assert.equal(referentChanged(h(1, 'True', '1'), h(2, 'True', '2')), true, 'spec changed');
    assert.equal(referentChanged(h(1, 'True', '1'), h(1, 'True', '2', true)), true, 'deletion started');
    assert.equal(referentChanged({ metadata: { name: 's', resourceVersion: '1' } }, { metadata: { name: 's', resourceVersion: '2' } }), true, 'Secrets have no generation');
  });
});

describe('in-use protection', () => {
  function setup() {
    const api = new FakeApi();
    const index = new ReferenceIndex();
    const hostsApi = api.client();
    const hosts = new FakeInformer<KubeObject>();
    const workspaces = new FakeInformer<KubeObject>();
    index.track(workspaceKind, workspaces.asInformer());
    const events: Array<{ reason: string; note: string }> = [];
    const recorder: EventRecorder = { event: (_o, _t, reason, note) => void events.push({ reason, note }) };
    const extra: string[] = [];
    const protection = new InUseProtection(
      { kind: 'Host', informer: hosts.asInformer(), client: hostsApi as never, hasStatus: true },
      { index, events: recorder, clock: new FakeClock(0), holders: [() => extra] },
    );
    const ctx: ReconcileContext = { signal: new AbortController().signal, log: silentLogger };
    const sync = () => { const h = api.get('ns', 'h1'); if (h) hosts.upsert(h); else hosts.cache.clear(); };
    api.put({ metadata: { namespace: 'ns', name: 'h1' }, spec: {} } as KubeObject);
    sync();
    const run = async () => { await protection.reconcile({ namespace: 'ns', name: 'h1' }, ctx); sync(); };
    return { api, hosts, workspaces, events, extra, run, sync };
  }

  it('adds the finalizer while used and removes it when the last user goes', async () => {
    const t = setup();
    await t.run();
    assert.equal(t.api.get('ns', 'h1')?.metadata.finalizers, undefined, 'unused: nothing to protect');
    t.workspaces.upsert(workspace('alice', 'h1') as KubeObject);
    await t.run();
    assert.deepEqual(t.api.get('ns', 'h1')?.metadata.finalizers, [IN_USE_FINALIZER]);
    t.workspaces.remove(workspace('alice', 'h1') as KubeObject);
    await t.run();
    assert.deepEqual(t.api.get('ns', 'h1')?.metadata.finalizers, []);
  });

  it('deletion waits naming the users (first 10 and the count), then completes by itself', async () => {
    const t = setup();
    for (let i = 0; i < 12; i++) t.workspaces.upsert(workspace(`w${String(i).padStart(2, '0')}`, 'h1') as KubeObject);
    await t.run();
    t.api.delete('ns', 'h1');
    t.sync();
    await t.run();
    const waiting = t.api.get('ns', 'h1');
    assert.ok(waiting, 'still there');
    const ready = (waiting!.status as { conditions: Array<{ type: string; reason: string; message: string }> }).conditions.find((c) => c.type === 'Ready')!;
    assert.equal(ready.reason, 'InUse');
    assert.match(ready.message, /Workspace w00, .*Workspace w09 and 2 more \(12 in all\)/);
    assert.equal(t.events.at(-1)?.reason, 'InUse');
    for (let i = 0; i < 12; i++) t.workspaces.remove(workspace(`w${String(i).padStart(2, '0')}`, 'h1') as KubeObject);
    t.extra.push('ProxyRoute docs (being taken off the host)');
    await t.run();
    assert.ok(t.api.get('ns', 'h1'), 'a holder outside the index keeps it too');
    t.extra.length = 0;
    await t.run();
    assert.equal(t.api.get('ns', 'h1'), undefined, 'gone once nothing uses it');
    assert.equal(t.events.at(-1)?.reason, 'NotInUse');
  });

  it('names at most 10 users', () => {
    assert.equal(describeUsers(['a', 'b']), 'a, b');
    assert.equal(describeUsers(Array.from({ length: 11 }, (_, i) => `u${i}`)), 'u0, u1, u2, u3, u4, u5, u6, u7, u8, u9 and 1 more');
  });
});

describe('secret values never reach a message', () => {
  it('scrubs values read through the SecretReader and raw bytes, whatever quotes them', () => {
    const random = Buffer.from(Array.from({ length: 48 }, (_, i) => (i * 73 + 11) % 256));
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n';
    const secrets = new FakeInformer<KubeObject>();
    secrets.upsert({ metadata: { namespace: 'ns', name: 'k' }, data: { key: Buffer.from(key).toString('base64'), raw: random.toString('base64') } } as KubeObject);
    const reader = new SecretReader(secrets.asInformer() as never);
    const value = reader.text('ns', { name: 'k', key: 'key' }, 'spec.ssh.privateKeySecretRef');
    const raw = reader.value('ns', { name: 'k', key: 'raw' }, 'spec.x');
    const leaked = redactSecrets(`cannot parse ${value} nor line b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ nor ${raw.toString('utf8')}`);
    assert.ok(!leaked.includes('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ'), leaked);
    assert.ok(!leaked.includes(raw.toString('utf8')));
    assert.ok(!/[\uFFFD\u0000-\u0008]/.test(leaked));
    assert.match(leaked, /^cannot parse \[redacted\]/);
  });
});
