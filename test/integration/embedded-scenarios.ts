// Scenarios of Kubernetes API behaviour a client relies on, written against ApiTarget so the same
// code runs on the embedded API server and on the real kube-apiserver. Each returns observations
// (status codes, reasons, messages, events, kubectl output) already normalized so two servers can
// be compared with deepStrictEqual, and checks its own expectations so it is meaningful alone.
import assert from 'node:assert/strict';
import type { ApiTarget, HttpResult } from './embedded-target.ts';

export type Observations = Record<string, unknown>;

export interface Scenario {
  name: string;
  /** Needs the kubectl binary. */
  kubectl?: boolean;
  run(t: ApiTarget, ns: string): Promise<Observations>;
  /** Expectations on the observations of one server. */
  check(o: Observations): void;
}

const W = (ns: string, rest = '') => `/apis/conformance.outrigger.dev/v1/namespaces/${ns}/widgets${rest}`;
const GV = 'conformance.outrigger.dev/v1';

export interface WidgetObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  spec: Record<string, unknown>;
  [k: string]: unknown;
}

export function widget(name: string, spec: Record<string, unknown> = { size: 'small' }, meta: Record<string, unknown> = {}): WidgetObject {
  return { apiVersion: GV, kind: 'Widget', metadata: { name, ...meta }, spec };
}

const TIME_RE = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g;
const UID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Replaces what differs between any two runs: times, uids, resourceVersions, the namespace. */
export function normalize(value: unknown, ns: string): unknown {
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') {
      if (key === 'resourceVersion') return '<rv>';
      if (key === 'continue') return '<continue>';
      return v
        .split(ns)
        .join('<ns>')
        .replace(TIME_RE, '<time>')
        .replace(UID_RE, '<uid>')
        .replace(/in record \(\d+\)/g, 'in record (<rv>)');
    }
    if (Array.isArray(v)) {
      const items = v.map((x) => walk(x));
      if (key === 'causes') return [...items].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
      // Both servers order managed fields by the second of their time, then by manager: which of
      // two entries comes first depends on whether a second boundary fell between the writes.
      if (key === 'managedFields' || key === 'managers') {
        return [...items].sort((a, b) => {
          const k = (m: unknown) => JSON.stringify([(m as Record<string, unknown>).operation, (m as Record<string, unknown>).manager, (m as Record<string, unknown>).subresource ?? '']);
          return k(a) < k(b) ? -1 : 1;
        });
      }
      return items;
    }
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) out[k] = walk((v as Record<string, unknown>)[k], k);
      return out;
    }
    return v;
  };
  return walk(value);
}

/** Ages (1s, 5m3s) and the namespace in kubectl table output. */
export function normalizeText(text: string, ns: string): string {
  return text
    .split(ns)
    .join('<ns>')
    .replace(TIME_RE, '<time>')
    .replace(/\b\d+(s|m\d*s?|h\d*m?|d\d*h?)\b/g, '<age>')
    .replace(/[ \t]+/g, ' ')
    .replace(/\/tmp\/[^\s]+/g, '<tmp>');
}

/** A failed response reduced to its Status fields (causes compared as a set). */
export function status(r: HttpResult): Record<string, unknown> {
  const b = (r.body ?? {}) as Record<string, unknown>;
  if (b.kind !== 'Status') return { code: r.code, kind: b.kind };
  const details = (b.details ?? {}) as Record<string, unknown>;
  const causes = (details.causes as Record<string, unknown>[] | undefined)?.map((c) => ({ reason: c.reason, field: c.field, message: c.message }));
  return {
    code: r.code,
    status: b.status,
    reason: b.reason,
    message: typeof b.message === 'string' ? sortAggregate(b.message) : b.message,
    details: { ...details, ...(causes ? { causes } : {}) },
  };
}

/** `X is invalid: [a, b]` lists errors in Go map order on kube-apiserver: compare them sorted. */
function sortAggregate(message: string): string {
  const m = /^(.*?is invalid: )\[(.*)\]$/s.exec(message);
  if (!m) return message;
  const parts = m[2]!.split(/, (?=[a-zA-Z<][\w.[\]<>-]*: )/);
  return `${m[1]}[${parts.sort().join(', ')}]`;
}

function meta(r: HttpResult): Record<string, unknown> {
  return ((r.body as Record<string, unknown>)?.metadata ?? {}) as Record<string, unknown>;
}

async function waitUntil<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const scenarios: Scenario[] = [
  {
    name: 'create, read, update with optimistic concurrency, delete',
    async run(t, ns) {
      const created = await t.request('POST', W(ns), { body: widget('w1', { size: 'small' }) });
      const rv1 = Number(meta(created).resourceVersion);
      const dup = await t.request('POST', W(ns), { body: widget('w1') });
      const got = await t.request('GET', W(ns, '/w1'));
      const stale = await t.request('PUT', W(ns, '/w1'), { body: { ...widget('w1', { size: 'large' }), metadata: { name: 'w1', resourceVersion: String(rv1 - 1) } } });
      const updated = await t.request('PUT', W(ns, '/w1'), { body: { ...widget('w1', { size: 'large', replicas: 2 }), metadata: { ...meta(got) } } });
      const rv2 = Number(meta(updated).resourceVersion);
      const noop = await t.request('PUT', W(ns, '/w1'), { body: updated.body });
      const nameMismatch = await t.request('PUT', W(ns, '/w1'), { body: widget('other') });
      const missing = await t.request('PUT', W(ns, '/nope'), { body: widget('nope') });
      const listed = await t.request('GET', W(ns));
      const deleted = await t.request('DELETE', W(ns, '/w1'));
      const gone = await t.request('GET', W(ns, '/w1'));
      const deleteMissing = await t.request('DELETE', W(ns, '/w1'));
      return normalize(
        {
          created: { code: created.code, spec: (created.body as Record<string, unknown>).spec, generation: meta(created).generation },
          duplicate: status(dup),
          got: { code: got.code, body: got.body },
          stale: status(stale),
          updated: { code: updated.code, generation: meta(updated).generation, rvIncreased: rv2 > rv1, spec: (updated.body as Record<string, unknown>).spec },
          noop: { code: noop.code, sameResourceVersion: meta(noop).resourceVersion === meta(updated).resourceVersion, generation: meta(noop).generation },
          nameMismatch: status(nameMismatch),
          missing: status(missing),
          list: { code: listed.code, kind: (listed.body as Record<string, unknown>).kind, names: ((listed.body as { items: { metadata: { name: string } }[] }).items ?? []).map((i) => i.metadata.name) },
          deleted: { code: deleted.code, kind: (deleted.body as Record<string, unknown>).kind },
          gone: status(gone),
          deleteMissing: status(deleteMissing),
        },
        ns,
      ) as Observations;
    },
    check(o) {
      assert.deepEqual((o.created as Record<string, unknown>).spec, { size: 'small', replicas: 1 }, 'schema default applied');
      assert.equal((o.duplicate as Record<string, unknown>).reason, 'AlreadyExists');
      assert.equal((o.stale as Record<string, unknown>).code, 409);
      assert.equal((o.stale as Record<string, unknown>).reason, 'Conflict');
      assert.equal((o.updated as Record<string, unknown>).generation, 2);
      assert.equal((o.noop as Record<string, unknown>).sameResourceVersion, true, 'an update that changes nothing writes nothing');
      assert.equal((o.nameMismatch as Record<string, unknown>).code, 400);
      assert.equal((o.missing as Record<string, unknown>).reason, 'NotFound');
      assert.equal((o.gone as Record<string, unknown>).code, 404);
    },
  },
  {
    name: 'status subresource and generation rules',
    async run(t, ns) {
      await t.request('POST', W(ns), { body: widget('s1', { size: 'small' }) });
      const withStatusOnCreate = await t.request('POST', W(ns), { body: { ...widget('s2'), status: { phase: 'Ignored' } } });
      const statusPatch = await t.request('PATCH', W(ns, '/s1/status'), {
        body: { status: { phase: 'Ready', observedGeneration: 1 }, spec: { size: 'large' } },
        contentType: 'application/merge-patch+json',
      });
      const mainWithStatus = await t.request('PATCH', W(ns, '/s1'), { body: { status: { phase: 'Hacked' } }, contentType: 'application/merge-patch+json' });
      const labelOnly = await t.request('PATCH', W(ns, '/s1'), { body: { metadata: { labels: { a: 'b' } } }, contentType: 'application/merge-patch+json' });
      const specChange = await t.request('PATCH', W(ns, '/s1'), { body: { spec: { replicas: 3 } }, contentType: 'application/merge-patch+json' });
      const pick = (r: HttpResult) => ({
        code: r.code,
        generation: meta(r).generation,
        spec: (r.body as Record<string, unknown>).spec,
        status: (r.body as Record<string, unknown>).status,
      });
      return normalize(
        { createIgnoresStatus: pick(withStatusOnCreate), statusPatch: pick(statusPatch), mainWithStatus: pick(mainWithStatus), labelOnly: pick(labelOnly), specChange: pick(specChange) },
        ns,
      ) as Observations;
    },
    check(o) {
      const g = (k: string) => (o[k] as Record<string, unknown>).generation;
      assert.equal((o.createIgnoresStatus as Record<string, unknown>).status, undefined);
      assert.deepEqual((o.statusPatch as Record<string, unknown>).spec, { size: 'small', replicas: 1 }, 'spec changes through /status are ignored');
      assert.equal(g('statusPatch'), 1);
      assert.deepEqual((o.mainWithStatus as Record<string, unknown>).status, { phase: 'Ready', observedGeneration: 1 }, 'status through the main resource is ignored');
      assert.equal(g('labelOnly'), 1, 'metadata changes do not bump generation');
      assert.equal(g('specChange'), 2);
    },
  },
  {
    name: 'schema validation errors name the fields',
    async run(t, ns) {
      const many = await t.request('POST', W(ns), { body: widget('bad', { size: 'huge', replicas: 20, name: 'ABC', tags: ['a', 'a'] }) });
      const types = await t.request('POST', W(ns), { body: widget('bad', { replicas: 'x', name: 'abcdefghijklmnop' }) });
      const cel = await t.request('POST', W(ns), { body: widget('bad', { size: 'small', start: 5, end: 1 }) });
      const strict = await t.request('POST', `${W(ns)}?fieldValidation=Strict`, { body: widget('bad', { size: 'small', extra: 1, other: { x: 1 } }) });
      const warn = await t.request('POST', W(ns), { body: widget('warned', { size: 'small', extra: 1 }) });
      const badName = await t.request('POST', W(ns), { body: widget('Bad_Name') });
      const noName = await t.request('POST', W(ns), { body: { apiVersion: GV, kind: 'Widget', metadata: {}, spec: { size: 'small' } } });
      const badLabel = await t.request('POST', W(ns), { body: widget('lbl', { size: 'small' }, { labels: { 'bad key!': 'v' } }) });
      const missingSpec = await t.request('POST', W(ns), { body: { apiVersion: GV, kind: 'Widget', metadata: { name: 'nospec' } } });
      return normalize(
        {
          many: status(many),
          types: status(types),
          cel: status(cel),
          strict: status(strict),
          warn: { code: warn.code, warnings: warn.warnings, pruned: (warn.body as { spec?: Record<string, unknown> }).spec },
          badName: status(badName),
          noName: status(noName),
          badLabel: status(badLabel),
          missingSpec: status(missingSpec),
        },
        ns,
      ) as Observations;
    },
    check(o) {
      const many = o.many as { code: number; details: { causes: { field: string }[] } };
      assert.equal(many.code, 422);
      assert.deepEqual(many.details.causes.map((c) => c.field).sort(), ['<nil>', 'spec.name', 'spec.replicas', 'spec.size', 'spec.tags[1]']);
      assert.match(String((o.cel as Record<string, unknown>).message), /start must not be after end/);
      assert.equal((o.strict as Record<string, unknown>).code, 400);
      assert.match(String((o.strict as Record<string, unknown>).message), /strict decoding error: unknown field "spec.extra"/);
      assert.deepEqual((o.warn as Record<string, unknown>).warnings, ['unknown field "spec.extra"']);
      assert.deepEqual((o.warn as Record<string, unknown>).pruned, { size: 'small', replicas: 1 }, 'unknown fields are pruned');
      assert.equal((o.badName as Record<string, unknown>).code, 422);
      assert.match(String((o.noName as Record<string, unknown>).message), /name or generateName is required/);
      assert.equal((o.missingSpec as Record<string, unknown>).code, 422);
    },
  },
  {
    name: 'malformed requests, unknown kinds, oversized objects and content types',
    async run(t, ns) {
      const badJson = await t.request('POST', W(ns), { body: '{"apiVersion": "conformance.outrigger.dev/v1", "kind": "Widget", ', contentType: 'application/json' });
      const yamlOk = await t.request('POST', W(ns), {
        body: `apiVersion: ${GV}\nkind: Widget\nmetadata:\n  name: from-yaml\nspec:\n  size: large\n`,
        contentType: 'application/yaml',
      });
      const badYaml = await t.request('POST', W(ns), { body: 'apiVersion: [unclosed\n', contentType: 'application/yaml' });
      const unknownResource = await t.request('GET', `/apis/conformance.outrigger.dev/v1/namespaces/${ns}/gadgets`);
      const unknownGroup = await t.request('GET', '/apis/nothing.example.com/v1');
      const wrongKind = await t.request('POST', W(ns), { body: { apiVersion: GV, kind: 'Gadget', metadata: { name: 'g' }, spec: { size: 'small' } } });
      const big = await t.request('POST', W(ns), { body: widget('big', { size: 'small', settings: { blob: 'x'.repeat(3 * 1024 * 1024 + 10) } }) });
      const bigObject = await t.request('POST', W(ns), { body: widget('big', { size: 'small', settings: { blob: 'x'.repeat(1.6 * 1024 * 1024) } }) });
      const smp = await t.request('PATCH', W(ns, '/from-yaml'), { body: { spec: { replicas: 2 } }, contentType: 'application/strategic-merge-patch+json' });
      const textPlain = await t.request('POST', W(ns), { body: 'hello', contentType: 'text/plain' });
      const unauthorized = await t.request('GET', W(ns), { token: 'not-the-token' });
      const noNamespace = await t.request('POST', `/apis/conformance.outrigger.dev/v1/namespaces/missing-${ns}/widgets`, { body: widget('x') });
      return normalize(
        {
          badJson: { code: badJson.code, reason: status(badJson).reason },
          yamlOk: { code: yamlOk.code, spec: (yamlOk.body as Record<string, unknown>).spec },
          badYaml: { code: badYaml.code, reason: status(badYaml).reason },
          unknownResource: status(unknownResource),
          unknownGroup: status(unknownGroup),
          wrongKind: { code: wrongKind.code, reason: status(wrongKind).reason },
          big: { code: big.code, reason: status(big).reason },
          bigObject: status(bigObject),
          smp: status(smp),
          textPlain: { code: textPlain.code, reason: status(textPlain).reason },
          unauthorized: status(unauthorized),
          noNamespace: status(noNamespace),
        },
        ns,
      ) as Observations;
    },
    check(o) {
      const code = (k: string) => (o[k] as Record<string, unknown>).code;
      assert.equal(code('badJson'), 400);
      assert.equal(code('yamlOk'), 201);
      assert.equal(code('badYaml'), 400);
      assert.equal(code('unknownResource'), 404);
      assert.equal(code('unknownGroup'), 404);
      assert.equal(code('wrongKind'), 422);
      assert.equal(code('big'), 413);
      assert.deepEqual(o.bigObject, { code: 500, status: 'Failure', reason: undefined, message: 'etcdserver: request is too large', details: {} }, 'etcd’s limit, as kube-apiserver reports it');
      assert.equal(code('smp'), 415);
      assert.equal(code('textPlain'), 415);
      assert.equal(code('unauthorized'), 401);
      assert.equal(code('noNamespace'), 404);
    },
  },
  {
    name: 'delete with finalizers: deletionTimestamp, generation, no new finalizers, release',
    async run(t, ns) {
      await t.request('POST', W(ns), { body: widget('f1', { size: 'small' }, { finalizers: ['example.com/hold'] }) });
      const del = await t.request('DELETE', W(ns, '/f1'));
      const again = await t.request('DELETE', W(ns, '/f1'));
      const addFinalizer = await t.request('PATCH', W(ns, '/f1'), {
        body: { metadata: { finalizers: ['example.com/hold', 'example.com/more'] } },
        contentType: 'application/merge-patch+json',
      });
      const stillThere = await t.request('GET', W(ns, '/f1'));
      const release = await t.request('PATCH', W(ns, '/f1'), { body: [{ op: 'remove', path: '/metadata/finalizers' }], contentType: 'application/json-patch+json' });
      const gone = await t.request('GET', W(ns, '/f1'));
      const m = meta(del);
      return normalize(
        {
          del: { code: del.code, generation: m.generation, deletionTimestampSet: !!m.deletionTimestamp, grace: m.deletionGracePeriodSeconds, finalizers: m.finalizers },
          again: { code: again.code, generation: meta(again).generation },
          addFinalizer: status(addFinalizer),
          stillThere: stillThere.code,
          release: { code: release.code, finalizers: meta(release).finalizers ?? null },
          gone: gone.code,
        },
        ns,
      ) as Observations;
    },
    check(o) {
      const del = o.del as Record<string, unknown>;
      assert.equal(del.code, 200);
      assert.equal(del.deletionTimestampSet, true);
      assert.equal(del.generation, 2, 'marking for deletion bumps generation');
      assert.equal((o.addFinalizer as Record<string, unknown>).code, 422);
      assert.equal(o.stillThere, 200);
      assert.equal(o.gone, 404, 'the object goes when its last finalizer is removed');
    },
  },
  {
    name: 'label and field selectors, pagination',
    async run(t, ns) {
      for (const [name, labels] of [
        ['a1', { tier: 'front', env: 'prod' }],
        ['a2', { tier: 'back', env: 'prod' }],
        ['a3', { tier: 'front' }],
        ['a4', {}],
      ] as const) {
        await t.request('POST', W(ns), { body: widget(name, { size: 'small' }, { labels }) });
      }
      const names = async (q: string) => {
        const r = await t.request('GET', `${W(ns)}?${q}`);
        if (r.code !== 200) return status(r);
        return (r.body as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name);
      };
      const selections = {
        eq: await names('labelSelector=tier%3Dfront'),
        neq: await names('labelSelector=tier!%3Dfront'),
        in: await names('labelSelector=tier+in+(front,back),env'),
        notin: await names('labelSelector=tier+notin+(front)'),
        notExists: await names('labelSelector=!env'),
        badLabel: await names('labelSelector=tier%3D%3D%3Dx'),
        byName: await names('fieldSelector=metadata.name%3Da2'),
        byNameNot: await names('fieldSelector=metadata.name!%3Da2'),
        byNamespace: await names(`fieldSelector=metadata.namespace%3D${ns}`),
        badField: await names('fieldSelector=spec.size%3Dsmall'),
      };
      const page1 = await t.request('GET', `${W(ns)}?limit=3`);
      const cont = (page1.body as { metadata: { continue?: string; remainingItemCount?: number } }).metadata;
      await t.request('POST', W(ns), { body: widget('a0') }); // created after the first page: not in this list
      const page2 = await t.request('GET', `${W(ns)}?limit=3&continue=${encodeURIComponent(cont.continue ?? '')}`);
      const badContinue = await t.request('GET', `${W(ns)}?limit=3&continue=not-a-token`);
      return normalize(
        {
          ...selections,
          page1: { names: (page1.body as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name), remaining: cont.remainingItemCount, hasContinue: !!cont.continue },
          page2: { names: (page2.body as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name), hasContinue: !!(page2.body as { metadata: { continue?: string } }).metadata.continue },
          badContinue: { code: badContinue.code, reason: status(badContinue).reason },
        },
        ns,
      ) as Observations;
    },
    check(o) {
      assert.deepEqual(o.eq, ['a1', 'a3']);
      assert.deepEqual(o.neq, ['a2', 'a4']);
      assert.deepEqual(o.in, ['a1', 'a2']);
      assert.deepEqual(o.notExists, ['a3', 'a4']);
      assert.deepEqual(o.byName, ['a2']);
      assert.equal((o.badField as Record<string, unknown>).code, 400);
      assert.deepEqual(o.page1, { names: ['a1', 'a2', 'a3'], remaining: 1, hasContinue: true });
      assert.deepEqual(o.page2, { names: ['a4'], hasContinue: false }, 'a continued list is consistent with its first page');
      assert.equal((o.badContinue as Record<string, unknown>).code, 400);
    },
  },
  {
    name: 'watch from a resourceVersion, selectors, initial events and bookmarks',
    async run(t, ns) {
      const first = await t.request('POST', W(ns), { body: widget('x1', { size: 'small' }, { labels: { watch: 'yes' } }) });
      const rv = String(meta(first).resourceVersion);
      const all = t.watch(`${W(ns)}?resourceVersion=${rv}`);
      const selected = t.watch(`${W(ns)}?labelSelector=watch%3Dyes&resourceVersion=${rv}`);
      const initial = t.watch(`${W(ns)}?sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`);
      await Promise.all([all.code, selected.code, initial.code]);
      await t.request('POST', W(ns), { body: widget('x2', { size: 'small' }, { labels: { watch: 'yes' } }) });
      await t.request('PATCH', W(ns, '/x1'), { body: { spec: { replicas: 2 } }, contentType: 'application/merge-patch+json' });
      await t.request('PATCH', W(ns, '/x2'), { body: { metadata: { labels: { watch: 'no' } } }, contentType: 'application/merge-patch+json' });
      await t.request('DELETE', W(ns, '/x1'));
      await waitUntil('all five events', () => all.events.length >= 4 && selected.events.length >= 4);
      await waitUntil('initial events end', () => initial.events.some((e) => e.type === 'BOOKMARK'));
      all.stop();
      selected.stop();
      initial.stop();
      const brief = (evs: typeof all.events) =>
        evs.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${String((e.object.metadata as Record<string, unknown>).name)}`);
      const tooOld = t.watch(`${W(ns)}?resourceVersion=1`);
      const tooOldCode = await tooOld.code;
      await waitUntil('the 410 event', () => tooOld.events.length > 0 || undefined, 5000).catch(() => undefined);
      tooOld.stop();
      const bookmark = initial.events.find((e) => e.type === 'BOOKMARK');
      return normalize(
        {
          all: brief(all.events),
          selected: brief(selected.events),
          initialBeforeBookmark: brief(initial.events.slice(0, initial.events.findIndex((e) => e.type === 'BOOKMARK'))),
          bookmark: bookmark && { kind: bookmark.object.kind, annotations: (bookmark.object.metadata as Record<string, unknown>).annotations },
          tooOld: { code: tooOldCode, events: tooOld.events.map((e) => ({ type: e.type, code: e.object.code, reason: e.object.reason })) },
        },
        ns,
      ) as Observations;
    },
    check(o) {
      assert.deepEqual(o.all, ['ADDED x2', 'MODIFIED x1', 'MODIFIED x2', 'DELETED x1']);
      assert.deepEqual(o.selected, ['ADDED x2', 'MODIFIED x1', 'DELETED x2', 'DELETED x1'], 'leaving the selection is a DELETED event');
      assert.deepEqual(o.initialBeforeBookmark, ['ADDED x1']);
      assert.deepEqual(o.bookmark, { kind: 'Widget', annotations: { 'k8s.io/initial-events-end': 'true' } });
      assert.deepEqual(o.tooOld, { code: 200, events: [{ type: 'ERROR', code: 410, reason: 'Expired' }] });
    },
  },
  {
    name: 'server-side apply: ownership, conflicts, force, removal',
    async run(t, ns) {
      const apply = (manager: string, spec: Record<string, unknown>, force = false) =>
        t.request('PATCH', `${W(ns, '/sa')}?fieldManager=${manager}${force ? '&force=true' : ''}`, {
          body: widget('sa', spec),
          contentType: 'application/apply-patch+yaml',
        });
      const created = await apply('alice', { size: 'small', replicas: 2, tags: ['a'], settings: { k: 'v' } });
      const same = await apply('alice', { size: 'small', replicas: 2, tags: ['a'], settings: { k: 'v' } });
      const shared = await apply('bob', { size: 'small' });
      const conflict = await apply('bob', { size: 'large', replicas: 3 });
      const forced = await apply('bob', { size: 'large', replicas: 3 }, true);
      const dropped = await apply('alice', { size: 'large', tags: ['a'] });
      const noManager = await t.request('PATCH', W(ns, '/sa'), { body: widget('sa'), contentType: 'application/apply-patch+yaml' });
      const forceOnMerge = await t.request('PATCH', `${W(ns, '/sa')}?force=true`, { body: { spec: {} }, contentType: 'application/merge-patch+json' });
      const managers = (r: HttpResult) => meta(r).managedFields;
      return normalize(
        {
          created: { code: created.code, managers: managers(created) },
          same: { code: same.code, sameRv: meta(same).resourceVersion === meta(created).resourceVersion },
          shared: { code: shared.code, managers: managers(shared) },
          conflict: status(conflict),
          forced: { code: forced.code, spec: (forced.body as Record<string, unknown>).spec, managers: managers(forced) },
          dropped: { code: dropped.code, spec: (dropped.body as Record<string, unknown>).spec, managers: managers(dropped) },
          noManager: status(noManager),
          forceOnMerge: status(forceOnMerge),
        },
        ns,
      ) as Observations;
    },
    check(o) {
      assert.equal((o.created as Record<string, unknown>).code, 201);
      assert.equal((o.same as Record<string, unknown>).sameRv, true, 're-applying the same configuration changes nothing');
      const c = o.conflict as { code: number; message: string; details: { causes: { reason: string; field: string }[] } };
      assert.equal(c.code, 409);
      assert.equal(c.message, 'Apply failed with 2 conflicts: conflicts with "alice":\n- .spec.replicas\n- .spec.size');
      assert.deepEqual(c.details.causes.map((x) => [x.reason, x.field]).sort(), [
        ['FieldManagerConflict', '.spec.replicas'],
        ['FieldManagerConflict', '.spec.size'],
      ]);
      assert.deepEqual((o.forced as Record<string, unknown>).spec, { size: 'large', replicas: 3, tags: ['a'], settings: { k: 'v' } });
      assert.deepEqual((o.dropped as Record<string, unknown>).spec, { size: 'large', replicas: 3, tags: ['a'] }, 'settings.k was only alice’s: removed');
      const after = ((o.dropped as Record<string, unknown>).managers as { manager: string; fieldsV1: Record<string, unknown> }[]) ?? [];
      assert.deepEqual(after.map((m) => m.manager).sort(), ['alice', 'bob']);
      assert.equal((o.noManager as Record<string, unknown>).code, 422);
      assert.equal((o.forceOnMerge as Record<string, unknown>).code, 422);
    },
  },
  {
    name: 'built-in kinds: secrets, configmaps, namespaces, events, leases',
    async run(t, ns) {
      const secret = await t.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
        body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { password: 'hunter2' }, data: { token: Buffer.from('abc').toString('base64') } },
      });
      const badBase64 = await t.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'b' }, data: { x: 'not base64!' } } });
      const badKey = await t.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { 'bad key': 'v' } } });
      const cm = await t.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1', b: '2' } } });
      const smp = await t.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/c`, {
        body: { data: { a: null, c: '3' }, metadata: { finalizers: ['example.com/x'] } },
        contentType: 'application/strategic-merge-patch+json',
      });
      const smp2 = await t.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/c`, {
        body: { metadata: { finalizers: ['example.com/y'] } },
        contentType: 'application/strategic-merge-patch+json',
      });
      await t.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/c`, { body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json' });
      const delCm = await t.request('DELETE', `/api/v1/namespaces/${ns}/configmaps/c`);
      const event = await t.request('POST', `/api/v1/namespaces/${ns}/events`, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: 'e1' },
          involvedObject: { kind: 'Widget', name: 'w', namespace: ns, apiVersion: GV },
          reason: 'Tested',
          message: 'hello',
          type: 'Normal',
          source: { component: 'suite' },
          count: 1,
        },
      });
      const eventsV1 = await t.request('GET', `/apis/events.k8s.io/v1/namespaces/${ns}/events/e1`);
      const lease = await t.request('POST', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, {
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'leader' }, spec: { holderIdentity: 'me', leaseDurationSeconds: 15, renewTime: '2024-01-01T00:00:00.000000Z' } },
      });
      const body = (r: HttpResult) => r.body as Record<string, unknown>;
      return normalize(
        {
          secret: { code: secret.code, data: body(secret).data, type: body(secret).type, stringData: body(secret).stringData ?? null },
          badBase64: { code: badBase64.code, reason: status(badBase64).reason },
          badKey: status(badKey),
          cm: cm.code,
          smp: { code: smp.code, data: body(smp).data, finalizers: meta(smp).finalizers },
          smp2: { code: smp2.code, finalizers: meta(smp2).finalizers },
          delCm: { code: delCm.code, body: delCm.body },
          event: { code: event.code },
          eventsV1: { code: eventsV1.code, note: body(eventsV1).note, reason: body(eventsV1).reason, regarding: body(eventsV1).regarding, deprecatedCount: body(eventsV1).deprecatedCount },
          lease: { code: lease.code, spec: body(lease).spec },
        },
        ns,
      ) as Observations;
    },
    check(o) {
      const s = o.secret as Record<string, unknown>;
      assert.deepEqual(s.data, { password: Buffer.from('hunter2').toString('base64'), token: Buffer.from('abc').toString('base64') });
      assert.equal(s.type, 'Opaque');
      assert.equal((o.badBase64 as Record<string, unknown>).code, 400);
      assert.equal((o.badKey as Record<string, unknown>).code, 422);
      assert.deepEqual((o.smp as Record<string, unknown>).data, { b: '2', c: '3' });
      assert.deepEqual((o.smp2 as Record<string, unknown>).finalizers, ['example.com/y', 'example.com/x'], 'finalizers merge as a set, patch items first');
      assert.equal(((o.delCm as Record<string, unknown>).body as Record<string, unknown>).kind, 'Status');
      assert.equal((o.eventsV1 as Record<string, unknown>).note, 'hello');
    },
  },
  {
    name: 'namespaces: lifecycle rules for content',
    async run(t, ns) {
      const extra = `${ns}-gone`;
      await t.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: extra } } });
      await t.request('POST', `/api/v1/namespaces/${extra}/configmaps`, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'keep', finalizers: ['example.com/hold'] } } });
      const del = await t.request('DELETE', `/api/v1/namespaces/${extra}`);
      const createInTerminating = await t.request('POST', `/api/v1/namespaces/${extra}/configmaps`, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'new' } } });
      const badName = await t.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'Not.A.Label' } } });
      // Let the namespace go (the real fixture has no namespace controller to do it).
      await t.request('PATCH', `/api/v1/namespaces/${extra}/configmaps/keep`, { body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json' });
      return normalize(
        {
          del: { code: del.code, phase: ((del.body as Record<string, unknown>).status as Record<string, unknown>).phase, deleting: !!meta(del).deletionTimestamp },
          createInTerminating: status(createInTerminating),
          badName: status(badName),
        },
        `${ns}-gone`,
      ) as Observations;
    },
    check(o) {
      assert.deepEqual(o.del, { code: 200, phase: 'Terminating', deleting: true });
      assert.equal((o.createInTerminating as Record<string, unknown>).code, 403);
      assert.equal((o.badName as Record<string, unknown>).code, 422);
    },
  },
  {
    name: 'discovery and table output',
    async run(t, ns) {
      await t.request('POST', W(ns), { body: widget('t1', { size: 'small', replicas: 3 }) });
      await t.request('PATCH', W(ns, '/t1/status'), {
        body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'R', message: 'm', lastTransitionTime: '2024-01-01T00:00:00Z' }] } },
        contentType: 'application/merge-patch+json',
      });
      const tableAccept = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
      const table = await t.request('GET', W(ns), { accept: tableAccept });
      const one = await t.request('GET', W(ns, '/t1'), { accept: tableAccept });
      const cmTable = await t.request('GET', `/api/v1/namespaces/${ns}/configmaps`, { accept: tableAccept });
      const group = await t.request('GET', '/apis/conformance.outrigger.dev');
      const resources = await t.request('GET', '/apis/conformance.outrigger.dev/v1');
      const aggregated = await t.request('GET', '/apis', { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' });
      const tb = table.body as { columnDefinitions: Record<string, unknown>[]; rows: { cells: unknown[]; object?: Record<string, unknown> }[] };
      const aggGroup = ((aggregated.body as { items?: { metadata: { name: string } }[] }).items ?? []).find((g) => g.metadata.name === 'conformance.outrigger.dev');
      return normalize(
        {
          table: {
            code: table.code,
            contentType: table.headers['content-type'],
            columns: tb.columnDefinitions.map((c) => [c.name, c.type, c.format, c.priority]),
            cells: tb.rows.map((r) => r.cells.map((c, i) => (tb.columnDefinitions[i]?.type === 'date' ? '<age>' : c))),
            rowObjectKind: tb.rows[0]?.object?.kind,
          },
          one: { code: one.code, kind: (one.body as Record<string, unknown>).kind },
          cmColumns: (cmTable.body as { columnDefinitions: { name: string }[] }).columnDefinitions.map((c) => c.name),
          group: group.body,
          resources: resources.body,
          aggregated: { contentType: aggregated.headers['content-type'], group: aggGroup },
        },
        ns,
      ) as Observations;
    },
    check(o) {
      const table = o.table as Record<string, unknown>;
      assert.deepEqual(table.columns, [
        ['Name', 'string', 'name', 0],
        ['Size', 'string', '', 0],
        ['Replicas', 'integer', '', 0],
        ['Ready', 'string', '', 0],
        ['Age', 'date', '', 0],
      ]);
      assert.deepEqual(table.cells, [['t1', 'small', 3, 'True', '<age>']]);
      assert.equal(table.rowObjectKind, 'PartialObjectMetadata');
      assert.deepEqual(o.cmColumns, ['Name', 'Data', 'Age']);
      assert.equal((o.aggregated as Record<string, unknown>).contentType, 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    },
  },
  {
    name: 'delete options: preconditions, dry run',
    async run(t, ns) {
      const c = await t.request('POST', W(ns), { body: widget('d1') });
      const wrongUid = await t.request('DELETE', W(ns, '/d1'), { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: '00000000-0000-0000-0000-000000000000' } } });
      const wrongRv = await t.request('DELETE', W(ns, '/d1'), { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion: '1' } } });
      const dryCreate = await t.request('POST', `${W(ns)}?dryRun=All`, { body: widget('dry') });
      const dryGet = await t.request('GET', W(ns, '/dry'));
      const dryDelete = await t.request('DELETE', `${W(ns, '/d1')}?dryRun=All`);
      const stillThere = await t.request('GET', W(ns, '/d1'));
      const rightUid = await t.request('DELETE', W(ns, '/d1'), { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: meta(c).uid } } });
      return normalize(
        {
          wrongUid: status(wrongUid),
          wrongRv: status(wrongRv),
          dryCreate: { code: dryCreate.code, hasUid: !!meta(dryCreate).uid },
          dryGet: dryGet.code,
          dryDelete: dryDelete.code,
          stillThere: stillThere.code,
          rightUid: rightUid.code,
        },
        ns,
      ) as Observations;
    },
    check(o) {
      assert.equal((o.wrongUid as Record<string, unknown>).code, 409);
      assert.match(String((o.wrongUid as Record<string, unknown>).message), /the UID in the precondition \(<uid>\) does not match the UID in record/);
      assert.equal((o.wrongRv as Record<string, unknown>).code, 409);
      assert.equal((o.dryCreate as Record<string, unknown>).code, 201);
      assert.equal(o.dryGet, 404, 'a dry-run create stores nothing');
      assert.equal(o.stillThere, 200, 'a dry-run delete deletes nothing');
      assert.equal(o.rightUid, 200);
    },
  },
];

// ---- kubectl scenarios ----

const WIDGET_YAML = (name: string, size: string, replicas: number) => `apiVersion: ${GV}
kind: Widget
metadata:
  name: ${name}
spec:
  size: ${size}
  replicas: ${replicas}
  tags: [a, b]
`;

export const kubectlScenarios: Scenario[] = [
  {
    name: 'kubectl apply (client-side), get with columns, diff, explain',
    kubectl: true,
    async run(t, ns) {
      const k = (args: string[], input?: string) => t.kubectl(['-n', ns, ...args], input === undefined ? {} : { input });
      const apply1 = await k(['apply', '-f', '-'], WIDGET_YAML('k1', 'small', 2));
      const apply2 = await k(['apply', '-f', '-'], WIDGET_YAML('k1', 'small', 2));
      const apply3 = await k(['apply', '-f', '-'], WIDGET_YAML('k1', 'large', 2));
      const get = await k(['get', 'widgets']);
      const wide = await k(['get', 'wdg', 'k1', '-o', 'wide']);
      const diffSame = await k(['diff', '-f', '-'], WIDGET_YAML('k1', 'large', 2));
      const diffChanged = await k(['diff', '-f', '-'], WIDGET_YAML('k1', 'large', 4));
      const explain = await t.kubectl(['explain', 'widgets.spec.size']);
      const invalid = await k(['apply', '-f', '-'], WIDGET_YAML('k2', 'huge', 2));
      const secretYaml = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ks\nstringData:\n  a: b\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kc\ndata:\n  x: "1"\n`;
      const builtins1 = await k(['apply', '-f', '-'], secretYaml);
      const builtins2 = await k(['apply', '-f', '-'], secretYaml.replace('x: "1"', 'x: "2"'));
      const cmValue = await k(['get', 'cm', 'kc', '-o', 'jsonpath={.data.x}']);
      const text = (r: { code: number; stdout: string; stderr: string }) => ({ code: r.code, out: normalizeText(r.stdout.trim(), ns), err: normalizeText(r.stderr.trim(), ns) });
      return {
        apply1: text(apply1),
        apply2: text(apply2),
        apply3: text(apply3),
        get: text(get),
        wide: text(wide),
        diffSame: { code: diffSame.code, out: diffSame.stdout },
        diffChanged: { code: diffChanged.code, changed: diffChanged.stdout.split('\n').filter((l) => /^[+-] /.test(l)).map((l) => l.replace(/\s+/g, ' ')) },
        explain: text(explain),
        invalid: text(invalid),
        builtins1: text(builtins1),
        builtins2: { code: builtins2.code, out: normalizeText(builtins2.stdout.trim(), ns) },
        cmValue: cmValue.stdout,
      };
    },
    check(o) {
      const out = (k: string) => (o[k] as { out: string }).out;
      assert.equal(out('apply1'), 'widget.conformance.outrigger.dev/k1 created');
      assert.equal(out('apply2'), 'widget.conformance.outrigger.dev/k1 unchanged');
      assert.equal(out('apply3'), 'widget.conformance.outrigger.dev/k1 configured');
      assert.match(out('get'), /^NAME SIZE REPLICAS READY AGE\nk1 large 2 <age>$/);
      assert.equal((o.diffSame as { code: number }).code, 0);
      assert.equal((o.diffChanged as { code: number }).code, 1);
      assert.deepEqual((o.diffChanged as { changed: string[] }).changed, ['- generation: 2', '+ generation: 3', '- replicas: 2', '+ replicas: 4']);
      assert.match(out('explain'), /FIELD: size <string>/);
      assert.match(out('explain'), /How big the widget is/);
      assert.equal((o.invalid as { code: number }).code, 1);
      assert.match((o.invalid as { err: string }).err, /Unsupported value: "huge"/);
      assert.equal(o.cmValue, '2');
    },
  },
  {
    name: 'kubectl server-side apply with conflicts and force',
    kubectl: true,
    async run(t, ns) {
      const k = (args: string[], input?: string) => t.kubectl(['-n', ns, ...args], input === undefined ? {} : { input });
      const first = await k(['apply', '--server-side', '-f', '-'], WIDGET_YAML('ss', 'small', 1));
      const other = await k(['apply', '--server-side', '--field-manager=ops', '-f', '-'], WIDGET_YAML('ss', 'large', 1));
      const forced = await k(['apply', '--server-side', '--field-manager=ops', '--force-conflicts', '-f', '-'], WIDGET_YAML('ss', 'large', 1));
      const csaThenSsa1 = await k(['apply', '-f', '-'], WIDGET_YAML('mix', 'small', 1));
      const csaThenSsa2 = await k(['apply', '--server-side', '-f', '-'], WIDGET_YAML('mix', 'small', 5));
      const managers = await k(['get', 'widget', 'mix', '-o', 'jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation};{end}']);
      const text = (r: { code: number; stdout: string; stderr: string }) => ({ code: r.code, out: normalizeText(r.stdout.trim(), ns), err: normalizeText(r.stderr.trim(), ns) });
      return {
        first: text(first),
        other: text(other),
        forced: text(forced),
        csaThenSsa1: text(csaThenSsa1),
        csaThenSsa2: text(csaThenSsa2),
        managers: managers.stdout.split(';').filter(Boolean).sort(),
      };
    },
    check(o) {
      assert.equal((o.first as { out: string }).out, 'widget.conformance.outrigger.dev/ss serverside-applied');
      assert.equal((o.other as { code: number }).code, 1);
      assert.match((o.other as { err: string }).err, /Apply failed with 1 conflict: conflict with "kubectl": \.spec\.size/);
      assert.equal((o.forced as { out: string }).out, 'widget.conformance.outrigger.dev/ss serverside-applied');
      assert.equal((o.csaThenSsa2 as { code: number }).code, 0, 'kubectl moves client-side ownership to server-side apply');
    },
  },
  {
    name: 'kubectl get -w, wait and delete',
    kubectl: true,
    async run(t, ns) {
      await t.kubectl(['-n', ns, 'apply', '-f', '-'], { input: WIDGET_YAML('kw', 'small', 1) });
      const watch = t.kubectlStream(['-n', ns, 'get', 'widgets', '-w']);
      await waitUntil('kubectl get -w to list kw', () => (watch.output().includes('kw') ? true : undefined));
      const waiter = t.kubectl(['-n', ns, 'wait', '--for=condition=Ready', 'widget/kw', '--timeout=20s']);
      await t.request('PATCH', W(ns, '/kw/status'), {
        body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'R', message: 'ok', lastTransitionTime: '2024-01-01T00:00:00Z' }] } },
        contentType: 'application/merge-patch+json',
      });
      const waited = await waiter;
      await waitUntil('kubectl get -w to show Ready', () => (/kw\s+small\s+1\s+True/.test(watch.output()) ? true : undefined));
      const del = await t.kubectl(['-n', ns, 'delete', 'widget', 'kw', '--wait=true', '--timeout=20s']);
      const after = await t.kubectl(['-n', ns, 'get', 'widget', 'kw']);
      await watch.stop();
      return {
        watchLines: normalizeText(watch.output(), ns).trim().split('\n'),
        waited: { code: waited.code, out: normalizeText(waited.stdout.trim(), ns) },
        del: { code: del.code, out: normalizeText(del.stdout.trim(), ns) },
        after: { code: after.code, err: normalizeText(after.stderr.trim(), ns) },
      };
    },
    check(o) {
      assert.equal((o.waited as { out: string }).out, 'widget.conformance.outrigger.dev/kw condition met');
      assert.equal((o.del as { out: string }).out, 'widget.conformance.outrigger.dev "kw" deleted from <ns> namespace');
      assert.match((o.after as { err: string }).err, /NotFound.*widgets.conformance.outrigger.dev "kw" not found/);
      const lines = o.watchLines as string[];
      assert.equal(lines[0], 'NAME SIZE REPLICAS READY AGE');
      assert.ok(lines.some((l) => l === 'kw small 1 True <age>'), lines.join('\n'));
    },
  },
];
