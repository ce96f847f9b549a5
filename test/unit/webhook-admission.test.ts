// The admission webhook app: AdmissionReviews in (injected, no port), responses out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsonpatch from 'fast-json-patch';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../controller/kube/resource.ts';
import { createWebhookApp } from '../../webhooks/app.ts';
import { inject } from '../../webhooks/inject.ts';
import { StaticLookup, type ObjectLookup } from '../../webhooks/lookup.ts';
import type { AdmissionResponse } from '../../webhooks/review.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NS = 'team-a';

type Obj = { apiVersion?: string; kind: string; metadata: { name: string; namespace?: string; deletionTimestamp?: string }; spec?: any };

function review(operation: 'CREATE' | 'UPDATE' | 'DELETE', object: Obj, oldObject?: Obj, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${Math.random().toString(36).slice(2)}`,
      kind: { group: 'outrigger.dev', version: 'v1alpha1', kind: object.kind },
      resource: { group: 'outrigger.dev', version: 'v1alpha1', resource: `${object.kind.toLowerCase()}s` },
      operation,
      namespace: NS,
      name: object.metadata.name,
      userInfo: { username: 'alice' },
      object: operation === 'DELETE' ? null : object,
      oldObject: oldObject ?? null,
      ...extra,
    },
  };
}

async function send(lookup: ObjectLookup, path: '/validate' | '/mutate', body: unknown): Promise<AdmissionResponse> {
  const app = createWebhookApp({ lookup });
  const res = await inject(app, { method: 'POST', url: path, body });
  assert.equal(res.status, 200, res.body);
  const reviewOut = res.json<{ apiVersion: string; kind: string; response: AdmissionResponse }>();
  assert.equal(reviewOut.apiVersion, 'admission.k8s.io/v1');
  assert.equal(reviewOut.kind, 'AdmissionReview');
  assert.equal(reviewOut.response.uid, (body as { request: { uid: string } }).request.uid, 'the response answers the request uid');
  return reviewOut.response;
}

const validate = (lookup: ObjectLookup, op: 'CREATE' | 'UPDATE' | 'DELETE', obj: Obj, old?: Obj, extra?: Record<string, unknown>) => send(lookup, '/validate', review(op, obj, old, extra));
const mutate = (obj: Obj, op: 'CREATE' | 'UPDATE' = 'CREATE', old?: Obj) => send(new StaticLookup([]), '/mutate', review(op, obj, old));

function patchOf(response: AdmissionResponse): jsonpatch.Operation[] {
  if (!response.patch) return [];
  assert.equal(response.patchType, 'JSONPatch');
  return JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
}

// ---------------------------------------------------------------------------------------------
// Objects

const meta = (name: string) => ({ name, namespace: NS });
const dockerHost = (name = 'local'): Obj => ({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', metadata: meta(name), spec: { docker: { unix: { path: '/var/run/docker.sock' } } } });
const sshHostKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const nginxHost = (name = 'edge'): Obj => ({
  apiVersion: 'outrigger.dev/v1alpha1',
  kind: 'Host',
  metadata: meta(name),
  spec: { address: '192.0.2.10', ssh: { user: 'outrigger', privateKeySecretRef: { name: 'k' }, hostKey: sshHostKey }, nginx: {} },
});
const sshOnlyHost = (name = 'bare'): Obj => ({ ...nginxHost(name), spec: { address: '192.0.2.11', ssh: { user: 'outrigger', privateKeySecretRef: { name: 'k' }, hostKey: sshHostKey } } });
const workspace = (name = 'alice', spec: Record<string, unknown> = {}): Obj => ({
  apiVersion: 'outrigger.dev/v1alpha1',
  kind: 'Workspace',
  metadata: meta(name),
  spec: { owner: 'alice', runtime: { docker: { hostRef: { name: 'local' }, image: 'debian:12' } }, ...spec },
});
const route = (name: string, serverNames: string[], extra: Record<string, unknown> = {}): Obj => ({
  apiVersion: 'outrigger.dev/v1alpha1',
  kind: 'ProxyRoute',
  metadata: meta(name),
  spec: { hostRef: { name: 'edge' }, serverNames, routes: [{ path: '/', upstream: { address: '127.0.0.1', port: 8080 } }], ...extra },
});

// ---------------------------------------------------------------------------------------------

describe('webhook: validation with the zod schemas', () => {
  const lookup = new StaticLookup([dockerHost()]);

  it('accepts a valid Workspace whose Host exists and runs Docker', async () => {
    const r = await validate(lookup, 'CREATE', workspace());
    assert.equal(r.allowed, true);
    assert.equal(r.warnings, undefined);
  });

  it('rejects a schema violation naming the field and what to do', async () => {
    const host: Obj = { kind: 'Host', metadata: meta('h'), spec: { ssh: { user: 'root', privateKeySecretRef: { name: 'k' }, hostKey: sshHostKey } } };
    const r = await validate(lookup, 'CREATE', host);
    assert.equal(r.allowed, false);
    assert.equal(r.status?.code, 422);
    assert.match(r.status!.message, /^spec\.address: address is required when ssh is set/);
    assert.deepEqual(r.status?.details?.causes?.map((c) => c.field), ['spec.address']);
  });

  it('rejects unknown fields by their path', async () => {
    const r = await validate(lookup, 'CREATE', workspace('a', { runtime: { docker: { hostRef: { name: 'local', namespace: 'other' }, image: 'debian:12' } } }));
    assert.equal(r.allowed, false);
    assert.match(r.status!.message, /spec\.runtime\.docker\.hostRef\.namespace: field not declared in schema: remove it/);
  });

  it('requires a spec', async () => {
    const r = await validate(lookup, 'CREATE', { kind: 'Host', metadata: meta('h') });
    assert.equal(r.allowed, false);
    assert.equal(r.status?.message, 'spec: is required');
  });

  it('ignores DELETE and status updates', async () => {
    assert.equal((await validate(lookup, 'DELETE', workspace(), workspace())).allowed, true);
    const broken = workspace('a', { owner: 'not valid!' });
    assert.equal((await validate(lookup, 'UPDATE', broken, workspace(), { subResource: 'status' })).allowed, true);
  });

  it('denies kinds that are not Outrigger kinds, saying the configuration is wrong', async () => {
    const body = review('CREATE', workspace());
    body.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    const r = await send(lookup, '/validate', body);
    assert.equal(r.allowed, false);
    assert.match(r.status!.message, /only admits Outrigger kinds/);
  });
});

describe('webhook: malformed requests', () => {
  const app = createWebhookApp({ lookup: new StaticLookup([]) });

  for (const [reason, body, pattern] of [
    ['invalid JSON', '{"apiVersion":', /AdmissionReview JSON object/],
    ['an admission.k8s.io/v1beta1 review', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }, /admissionReviewVersions: \[v1\]/],
    ['a review without uid', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: { kind: 'Host' }, operation: 'CREATE' } }, /request\.uid is missing/],
  ] as const) {
    it(`answers 400 to ${reason}`, async () => {
      const res = await inject(app, { method: 'POST', url: '/validate', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
      assert.equal(res.status, 400);
      assert.match(res.body, pattern);
    });
  }
});

describe('webhook: defaulting', () => {
  it('fills the home mount path from the user name (a default the CRD cannot express)', async () => {
    const ops = patchOf(await mutate(workspace('a', { user: { name: 'coder', uid: 1000 }, home: {} })));
    assert.deepEqual(ops.sort((a, b) => a.path.localeCompare(b.path)), [
      { op: 'add', path: '/spec/deletionPolicy', value: 'Delete' },
      { op: 'add', path: '/spec/home/mountPath', value: '/home/coder' },
      { op: 'add', path: '/spec/runtime/docker/pullPolicy', value: 'IfNotPresent' },
      { op: 'add', path: '/spec/state', value: 'Running' },
    ]);
  });

  it('never rewrites a value the user set', async () => {
    const set = workspace('a', {
      runtime: { docker: { hostRef: { name: 'local' }, image: 'debian:12', pullPolicy: 'Never' } },
      user: { name: 'coder', uid: 1001 },
      home: { mountPath: '/srv/home' },
      state: 'Stopped',
      deletionPolicy: 'Orphan',
    });
    const r = await mutate(set);
    assert.equal(r.allowed, true);
    assert.equal(r.patch, undefined, `nothing to add, got ${JSON.stringify(patchOf(r))}`);
  });

  it('sends only add operations, and defaulting what it returns adds nothing more (no drift)', async () => {
    for (const obj of [workspace(), route('r', ['a.example.com']), nginxHost(), dockerHost()]) {
      const ops = patchOf(await mutate(obj));
      assert.ok(ops.every((o) => o.op === 'add'), `${obj.kind}: ${JSON.stringify(ops)}`);
      const defaulted = jsonpatch.applyPatch(structuredClone(obj), ops).newDocument;
      assert.deepEqual(patchOf(await mutate(defaulted)), [], `${obj.kind}: a second pass must add nothing`);
    }
  });

  it('leaves invalid objects, objects being deleted and metadata-only updates alone', async () => {
    assert.equal((await mutate(workspace('a', { owner: 'not valid!' }))).patch, undefined);
    const deleting = { ...workspace(), metadata: { ...meta('alice'), deletionTimestamp: '2030-01-01T00:00:00Z' } };
    assert.equal((await mutate(deleting, 'UPDATE', workspace())).patch, undefined);
    assert.equal((await mutate(workspace(), 'UPDATE', workspace())).patch, undefined, 'a finalizer removal must not become a spec write');
  });
});

describe('webhook: immutable fields', () => {
  const lookup = new StaticLookup([dockerHost('local'), dockerHost('other'), nginxHost('edge'), nginxHost('edge2')]);

  it('rejects moving a Workspace to another Host, naming the field and the way out', async () => {
    const moved = workspace('alice', { runtime: { docker: { hostRef: { name: 'other' }, image: 'debian:12' } } });
    const r = await validate(lookup, 'UPDATE', moved, workspace());
    assert.equal(r.allowed, false);
    assert.equal(r.status?.message, 'spec.runtime.docker.hostRef.name: is immutable (the home lives on Host "local"): delete and re-create the resource to change it');
  });

  it('rejects switching a Workspace between docker and proxmox', async () => {
    const switched = workspace('alice', { runtime: { proxmox: { clusterRef: { name: 'pve' }, template: 'debian-12' } } });
    const r = await validate(lookup, 'UPDATE', switched, workspace());
    assert.equal(r.allowed, false);
    assert.match(r.status!.message, /^spec\.runtime: cannot switch from docker to proxmox/);
  });

  it('allows changing mutable fields', async () => {
    const r = await validate(lookup, 'UPDATE', workspace('alice', { state: 'Stopped' }), workspace());
    assert.equal(r.allowed, true);
  });

  it('rejects moving a ProxyRoute to another Host', async () => {
    const r = await validate(lookup, 'UPDATE', route('r', ['a.example.com'], { hostRef: { name: 'edge2' } }), route('r', ['a.example.com']));
    assert.equal(r.allowed, false);
    assert.match(r.status!.message, /^spec\.hostRef\.name: is immutable \(the configuration lives on Host "edge"\)/);
  });

  it('rejects moving a Lab machine, by machine name, while new machines may go anywhere', async () => {
    const lab = (machines: unknown[]): Obj => ({ kind: 'Lab', metadata: meta('lab'), spec: { machines } });
    const m = (name: string, host: string) => ({ name, docker: { hostRef: { name: host }, image: 'debian:12' } });
    const r = await validate(lookup, 'UPDATE', lab([m('new', 'other'), m('db', 'other')]), lab([m('db', 'local')]));
    assert.equal(r.allowed, false);
    assert.equal(r.status?.details?.causes?.length, 1);
    assert.match(r.status!.message, /^spec\.machines\[1\]\.docker\.hostRef\.name: is immutable \(machine "db" lives on Host "local"\)/);
  });

  it('rejects a Lab whose dependsOn forms a cycle, or names a missing machine, and a static address outside its network', async () => {
    const m = (name: string, extra: Record<string, unknown> = {}) => ({ name, docker: { hostRef: { name: 'local' }, image: 'debian:12' }, ...extra });
    const lab = (spec: Record<string, unknown>): Obj => ({ kind: 'Lab', metadata: meta('lab'), spec });
    const cycle = await validate(lookup, 'CREATE', lab({ machines: [m('a', { dependsOn: ['c'] }), m('b', { dependsOn: ['a'] }), m('c', { dependsOn: ['b'] })] }));
    assert.equal(cycle.allowed, false);
    assert.equal(cycle.status?.message, 'spec.machines: dependsOn forms a cycle (a -> c -> b -> a): a machine cannot wait for itself; remove one of these dependencies');
    const missing = await validate(lookup, 'CREATE', lab({ machines: [m('a', { dependsOn: ['ghost'] })] }));
    assert.equal(missing.allowed, false);
    assert.match(missing.status!.message, /^spec\.machines: dependsOn must name other machines of this Lab/);
    const outside = await validate(lookup, 'CREATE', lab({ networks: [{ name: 'lan', cidr: '10.10.0.0/24' }], machines: [m('a', { networks: [{ name: 'lan', address: '10.20.0.5/24' }] })] }));
    assert.equal(outside.allowed, false);
    assert.equal(outside.status?.message, 'spec.machines[0].networks[0].address: 10.20.0.5 is outside network "lan" (10.10.0.0/24)');
    const fine = await validate(lookup, 'CREATE', lab({ machines: [m('a'), m('b', { dependsOn: ['a'] })] }));
    assert.equal(fine.allowed, true, fine.status?.message);
  });
});

describe('webhook: references', () => {
  it('allows a reference to an object that does not exist yet, with a warning naming it', async () => {
    const r = await validate(new StaticLookup([]), 'CREATE', workspace());
    assert.equal(r.allowed, true);
    assert.deepEqual(r.warnings, ['spec.runtime.docker.hostRef: Host "local" does not exist in namespace "team-a" yet; this Workspace stays not Ready until it does']);
  });

  it('only looks in the object\'s own namespace', async () => {
    const elsewhere = { ...dockerHost(), metadata: { name: 'local', namespace: 'team-b' } };
    const r = await validate(new StaticLookup([elsewhere]), 'CREATE', workspace());
    assert.equal(r.warnings?.length, 1);
  });

  it('rejects a Workspace container on a Host without Docker', async () => {
    const r = await validate(new StaticLookup([sshOnlyHost('local')]), 'CREATE', workspace());
    assert.equal(r.allowed, false);
    assert.equal(r.status?.message, 'spec.runtime.docker.hostRef: Host "local" has no spec.docker, so it cannot run a Workspace container: set spec.docker on Host "local" or refer to a Host that has it');
  });

  it('rejects a ProxyRoute on a Host that does not run nginx', async () => {
    const r = await validate(new StaticLookup([sshOnlyHost('edge')]), 'CREATE', route('r', ['a.example.com']));
    assert.equal(r.allowed, false);
    assert.match(r.status!.message, /^spec\.hostRef: Host "edge" has no spec\.nginx, so it cannot serve a ProxyRoute: set spec\.nginx/);
  });

  it('rejects a workspaceRef port the Workspace does not publish, listing the ones it does', async () => {
    const ws = workspace('bob', { ports: [{ name: 'web', port: 3000 }], ssh: { authorizedKeys: [sshHostKey] } });
    const r = await validate(new StaticLookup([nginxHost(), ws]), 'CREATE', route('r', ['a.example.com'], {
      routes: [
        { path: '/', upstream: { workspaceRef: { name: 'bob', port: 'editor' } } },
        { path: '/web', upstream: { workspaceRef: { name: 'bob', port: 'web' } } },
      ],
    }));
    assert.equal(r.allowed, false);
    assert.equal(r.status?.message, 'spec.routes[0].upstream.workspaceRef: Workspace "bob" has no port "editor" (set spec.editor on it): use one of: ssh, web');
  });

  it('rejects an Alert target machine the Lab does not have', async () => {
    const lab: Obj = { kind: 'Lab', metadata: meta('lab'), spec: { machines: [{ name: 'db', docker: { hostRef: { name: 'local' }, image: 'debian:12' } }] } };
    const alert: Obj = {
      kind: 'Alert',
      metadata: meta('a'),
      spec: {
        rules: [{ name: 'down', containerDown: { targets: [{ kind: 'Lab', name: 'lab', machine: 'web' }, { kind: 'Workspace', name: 'ghost' }] } }],
        receivers: [{ name: 'hook', webhook: { urlSecretRef: { name: 's' } } }],
      },
    };
    const r = await validate(new StaticLookup([lab]), 'CREATE', alert);
    assert.equal(r.allowed, false);
    assert.equal(r.status?.message, 'spec.rules[0].containerDown.targets[0]: Lab "lab" has no machine "web": use one of: db');
    assert.deepEqual(r.warnings, ['spec.rules[0].containerDown.targets[1]: Workspace "ghost" does not exist in namespace "team-a" yet; this Alert stays not Ready until it does']);
  });

  it('does not re-check an unchanged reference: an edit is not blocked by a change elsewhere', async () => {
    // The Host lost its Docker engine after the Workspace was created; the owner still may stop it.
    const r = await validate(new StaticLookup([sshOnlyHost('local')]), 'UPDATE', workspace('alice', { state: 'Stopped' }), workspace());
    assert.equal(r.allowed, true);
  });

  it('never blocks metadata-only updates or objects being deleted (finalizer removal)', async () => {
    const lookup = new StaticLookup([sshOnlyHost('local')]);
    assert.equal((await validate(lookup, 'UPDATE', workspace(), workspace())).allowed, true);
    const deleting = { ...workspace('alice', { owner: 'changed' }), metadata: { ...meta('alice'), deletionTimestamp: '2030-01-01T00:00:00Z' } };
    assert.equal((await validate(lookup, 'UPDATE', deleting, workspace())).allowed, true);
  });

  it('answers 503 "try again" when a lookup fails, without guessing', async () => {
    const failing: ObjectLookup = {
      get: async () => { throw new Error('connect ECONNREFUSED'); },
      list: async () => { throw new Error('connect ECONNREFUSED'); },
    };
    const r = await validate(failing, 'CREATE', workspace());
    assert.equal(r.allowed, false);
    assert.equal(r.status?.code, 503);
    assert.match(r.status!.message, /could not look up the objects this Workspace refers to \(connect ECONNREFUSED\); try again/);
  });
});

describe('webhook: server names on one Host', () => {
  const taken = route('shop', ['shop.example.com', 'www.example.com'], {
    routes: [{ path: '/', upstream: { address: '127.0.0.1', port: 8080 } }, { path: '/api', upstream: { address: '127.0.0.1', port: 9090 } }],
  });
  const lookup = new StaticLookup([nginxHost('edge'), nginxHost('edge2'), taken]);

  it('rejects a name another ProxyRoute on the Host serves, whatever the path, saying where to add it', async () => {
    const r = await validate(lookup, 'CREATE', route('blog', ['blog.example.com', 'www.example.com'], { routes: [{ path: '/blog', upstream: { address: '127.0.0.1', port: 2368 } }] }));
    assert.equal(r.allowed, false);
    assert.equal(
      r.status?.message,
      'spec.serverNames[1]: "www.example.com" is already served on Host "edge" by ProxyRoute "shop" (paths /, /api); a server name belongs to one ProxyRoute per Host: add your paths to spec.routes of ProxyRoute "shop" or choose another name',
    );
  });

  it('allows the same name on another Host, and a route re-admitting its own names', async () => {
    assert.equal((await validate(lookup, 'CREATE', route('copy', ['shop.example.com'], { hostRef: { name: 'edge2' } }))).allowed, true);
    const updated = route('shop', ['shop.example.com', 'www.example.com'], { routes: [{ path: '/', upstream: { address: '127.0.0.1', port: 8081 } }] });
    assert.equal((await validate(lookup, 'UPDATE', updated, taken)).allowed, true);
  });

  it('ignores a ProxyRoute that is being deleted', async () => {
    const leaving = { ...taken, metadata: { ...meta('shop'), deletionTimestamp: '2030-01-01T00:00:00Z' } };
    const r = await validate(new StaticLookup([nginxHost('edge'), leaving]), 'CREATE', route('new', ['shop.example.com']));
    assert.equal(r.allowed, true);
  });

  it('checks only names an update adds', async () => {
    const other = route('other', ['a.example.com']);
    // The stored route already shares a name (admitted before this webhook existed); adding b is fine.
    const before = route('mine', ['a.example.com']);
    const after = route('mine', ['a.example.com', 'b.example.com']);
    assert.equal((await validate(new StaticLookup([nginxHost(), other]), 'UPDATE', after, before)).allowed, true);
    const clash = route('mine', ['a.example.com', 'shop.example.com']);
    const r = await validate(new StaticLookup([nginxHost(), other, taken]), 'UPDATE', clash, before);
    assert.equal(r.allowed, false);
    assert.equal(r.status?.details?.causes?.[0]?.field, 'spec.serverNames[1]');
  });
});

describe('webhook: the examples', () => {
  const objects: Obj[] = readdirSync(join(ROOT, 'examples'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(ROOT, 'examples', f), 'utf8')).map((d) => d.toJS() as Obj))
    .filter((o) => o?.apiVersion === 'outrigger.dev/v1alpha1')
    .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: NS } }));

  it('admits every example without errors or warnings when applied together', async () => {
    assert.ok(objects.length >= 6, 'examples found');
    const lookup = new StaticLookup(objects as unknown as KubeObject[]);
    for (const obj of objects) {
      const r = await validate(lookup, 'CREATE', obj);
      assert.equal(r.allowed, true, `${obj.kind} ${obj.metadata.name}: ${r.status?.message}`);
      assert.equal(r.warnings, undefined, `${obj.kind} ${obj.metadata.name}: ${r.warnings}`);
    }
  });
});

describe('webhook: runs nothing on user input', () => {
  it('no module under webhooks/ can start a program', () => {
    const dir = join(ROOT, 'webhooks');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 5);
    for (const file of files) {
      const text = readFileSync(join(dir, file), 'utf8');
      assert.doesNotMatch(text, /node:child_process|from 'child_process'|\bexecFile\b|\bspawn\(|process\.binding/, `${file} must not start programs`);
    }
  });
});
