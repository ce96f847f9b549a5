// Every reason that reached the API (conditions of Outrigger objects, events) is in a reason
// catalog. Integration tests call this after a scenario. Not a test file itself.
import assert from 'node:assert/strict';
import { KubeApiError, ResourceClient, isKnownReason, type KubeObject, type KubeRest } from '../../controller/index.ts';
import { allKinds, GROUP, VERSION } from '../../crds/index.ts';
import '../../reconcilers/index.ts'; // every layer's catalog

type WithConditions = KubeObject & { status?: { conditions?: Array<{ type: string; reason?: string }> } };

/** A list, retried while the API server answers 429 (a CRD's storage re-initializing). */
async function listAll<T extends KubeObject>(client: ResourceClient<T>, namespace: string): Promise<T[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await client.list(namespace)).items;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.statusCode === 429) || attempt >= 40) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function assertCataloguedReasons(rest: KubeRest, namespace: string): Promise<void> {
  const unknown: string[] = [];
  for (const def of allKinds) {
    const client = new ResourceClient<WithConditions>(rest, { group: GROUP, version: VERSION, plural: def.plural, kind: def.kind, namespaced: true });
    for (const obj of await listAll(client, namespace)) {
      for (const c of obj.status?.conditions ?? []) if (!isKnownReason(c.reason)) unknown.push(`${def.kind} ${obj.metadata.name} condition ${c.type}: ${c.reason}`);
    }
  }
  const events = new ResourceClient<KubeObject & { reason?: string; reportingController?: string }>(rest, { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true });
  for (const e of await listAll(events, namespace)) {
    if (e.reportingController?.startsWith('outrigger') && !isKnownReason(e.reason)) unknown.push(`event ${e.metadata.name}: ${e.reason}`);
  }
  assert.deepEqual(unknown, [], 'reasons outside every catalog');
}
