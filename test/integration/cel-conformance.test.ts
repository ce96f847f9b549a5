// CEL validation rules, side by side: the same CRDs (cel-conformance/cases.ts: rules over every
// Kubernetes CEL library, CRDs refused for their rules or their cost, the Gateway API CRDs) and
// the same objects go to the embedded API server and to the real kube-apiserver, and both must
// decide alike with the same message: status code, message and causes. Each case's expected
// decision is checked on kube-apiserver as well, so the cases stay meaningful.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { controlPlaneSkipReason, createNamespace, kubeApiserverTarget, startEmbeddedTarget, type ApiTarget, type HttpResult } from './embedded-target.ts';
import { waitFor } from '../fixtures/wait.ts';
import { crdCases, type CrdCase, type Decision, type ObjectCase } from './cel-conformance/cases.ts';

interface Seen {
  code: number;
  message?: string;
  causes?: unknown[];
}

/**
 * kube-apiserver visits an object's fields in Go map order, so when several fields fail the
 * bracketed list of errors comes in any order: compare it, and the causes, sorted.
 */
function seen(res: HttpResult): Seen {
  const body = res.body as { message?: string; details?: { causes?: unknown[] } } | undefined;
  if (res.code < 300) return { code: res.code };
  let message = body?.message ?? res.text;
  const list = /^(.* is invalid: )\[(.*)\]$/s.exec(message);
  if (list) {
    const parts = list[2]!.split(/, (?=(?:<nil>|[A-Za-z][\w.\-[\]()']*): )/);
    message = `${list[1]}[${parts.sort().join(', ')}]`;
  }
  const causes = body?.details?.causes ? [...body.details.causes].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) : undefined;
  return { code: res.code, message, ...(causes ? { causes } : {}) };
}

/** Accepted is a 2xx, rejected a 422 Invalid; anything else is neither. */
function decision(s: Seen): Decision | `HTTP ${number}` {
  if (s.code >= 200 && s.code < 300) return 'accepted';
  return s.code === 422 ? 'rejected' : `HTTP ${s.code}`;
}

const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

function crdName(c: CrdCase): string {
  return (c.crd.metadata as { name: string }).name;
}

async function removeCrd(t: ApiTarget, name: string): Promise<void> {
  const res = await t.request('DELETE', `${CRDS}/${name}`);
  if (res.code === 404) return;
  await waitFor(async () => (await t.request('GET', `${CRDS}/${name}`)).code === 404, { timeoutMs: 30_000, description: `${name} deleted on ${t.name}` });
}

async function createCrd(t: ApiTarget, c: CrdCase): Promise<Seen> {
  await removeCrd(t, crdName(c));
  const res = await t.request('POST', CRDS, { body: c.crd });
  if (res.code < 300 && c.resource) {
    const { group, version, plural } = c.resource;
    await waitFor(async () => (await t.request('GET', `/apis/${group}/${version}/${plural}`)).code === 200, { timeoutMs: 30_000, description: `${plural} served on ${t.name}` });
  }
  return seen(res);
}

async function writeObject(t: ApiTarget, ns: string, c: CrdCase, o: ObjectCase): Promise<Seen> {
  const { group, version, plural } = c.resource!;
  const base = `/apis/${group}/${version}/namespaces/${ns}/${plural}`;
  if (!o.old) return seen(await t.request('POST', base, { body: o.object }));
  const created = await t.request('POST', base, { body: o.old });
  if (created.code !== 201) return { code: -created.code, message: `creating the old object failed: ${created.text}` };
  const name = (o.object.metadata as { name: string }).name;
  const rv = (created.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  const body = { ...o.object, metadata: { ...(o.object.metadata as object), resourceVersion: rv } };
  return seen(await t.request('PUT', `${base}/${name}`, { body }));
}

describe('CEL conformance: x-kubernetes-validations on the embedded API server vs kube-apiserver', { skip: controlPlaneSkipReason() }, () => {
  let embedded: ApiTarget;
  let real: ApiTarget;
  before(async () => {
    [embedded, real] = await Promise.all([startEmbeddedTarget(), kubeApiserverTarget()]);
  });
  after(async () => {
    if (real) for (const c of crdCases) await removeCrd(real, crdName(c));
    await Promise.all([embedded?.stop(), real?.stop()]);
  });

  for (const c of crdCases) {
    describe(c.name, () => {
      let ns: { real: string; embedded: string };
      const installed = { real: false, embedded: false };
      before(async () => {
        const [r, e] = await Promise.all([createNamespace(real, 'cel'), createNamespace(embedded, 'cel')]);
        ns = { real: r, embedded: e };
      });

      it(`the CRD is ${c.expect}`, async () => {
        const onReal = await createCrd(real, c);
        const onEmbedded = await createCrd(embedded, c);
        installed.real = decision(onReal) === 'accepted';
        installed.embedded = decision(onEmbedded) === 'accepted';
        assert.equal(decision(onReal), c.expect, `kube-apiserver: ${onReal.message ?? ''}`);
        assert.deepStrictEqual(onEmbedded, onReal, 'the embedded API server must answer like kube-apiserver');
      });

      for (const o of c.objects ?? []) {
        it(`${o.name}: ${o.expect}`, async () => {
          assert.ok(installed.real && installed.embedded, `the CRD must be installed on both servers (kube-apiserver: ${installed.real}, embedded: ${installed.embedded})`);
          const onReal = await writeObject(real, ns.real, c, o);
          const onEmbedded = await writeObject(embedded, ns.embedded, c, o);
          assert.equal(decision(onReal), o.expect, `kube-apiserver: ${onReal.message ?? ''}`);
          assert.deepStrictEqual(onEmbedded, onReal, 'the embedded API server must answer like kube-apiserver');
        });
      }
    });
  }
});
