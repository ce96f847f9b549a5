// A throwaway kind and a reconciler for it, used to prove the runtime against a real API server
// without depending on any Outrigger kind.
import type { KubeConfig } from '@kubernetes/client-node';
import {
  addFinalizer, removeFinalizer, isDeleting, isNotFound, readyConditions, setConditions, updateStatus,
  type Condition, type KubeObject, type Manager, type ObjectKey, type ReconcileContext, type ResourceRef,
} from '../../../controller/index.ts';
import { KubeRest, ResourceClient } from '../../../controller/index.ts';

export const widgetRef: ResourceRef = { group: 'runtime.test.outrigger.dev', version: 'v1', plural: 'widgets', kind: 'Widget', namespaced: true };
export const widgetFinalizer = 'runtime.test.outrigger.dev/cleanup';

export interface Widget extends KubeObject {
  spec?: { size?: number };
  status?: { conditions?: Condition[]; observedGeneration?: number; reconciledBy?: string; size?: number };
}

const crd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `widgets.${widgetRef.group}` },
  spec: {
    group: widgetRef.group,
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [{
      name: 'v1', served: true, storage: true,
      subresources: { status: {} },
      schema: { openAPIV3Schema: { type: 'object', properties: {
        spec: { type: 'object', properties: { size: { type: 'integer' } } },
        status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      } } },
    }],
  },
};

/** Creates the Widget CRD if it is not there and waits until it is Established. */
export async function installWidgetCrd(kc: KubeConfig): Promise<void> {
  const rest = new KubeRest(kc);
  const crds = new ResourceClient(rest, { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false });
  try {
    await crds.create(JSON.parse(JSON.stringify(crd)));
  } catch (err) {
    if (!(err as { statusCode?: number }).statusCode || (err as { statusCode: number }).statusCode !== 409) throw err;
  }
  for (let i = 0; i < 100; i++) {
    const got = await crds.get({ name: crd.metadata.name }) as KubeObject & { status?: { conditions?: Condition[] } };
    if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) {
      // Discovery can lag Established by a moment; a list proves the endpoint serves.
      try {
        await new ResourceClient(rest, widgetRef).list('default');
        rest.close();
        return;
      } catch { /* not served yet */ }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  rest.close();
  throw new Error('the Widget CRD did not become Established');
}

export interface ReconcileRecord { key: string; exists: boolean; generation?: number; identity: string }

/** Registers a Widget controller that marks each widget Ready and records every reconcile. */
export function addWidgetController(manager: Manager, identity: string, records: ReconcileRecord[], opts: { namespace?: string } = {}) {
  const client = manager.client<Widget>(widgetRef);
  const informer = manager.informer<Widget>(widgetRef, { namespace: opts.namespace });
  return manager.addController({
    name: 'widget',
    informer,
    reconciler: {
      async reconcile(req: ObjectKey, ctx: ReconcileContext) {
        const key = `${req.namespace}/${req.name}`;
        let widget: Widget;
        try {
          widget = await client.get(req, ctx.signal);
        } catch (err) {
          if (isNotFound(err)) { records.push({ key, exists: false, identity }); return; }
          throw err;
        }
        records.push({ key, exists: true, generation: widget.metadata.generation, identity });
        if (isDeleting(widget)) {
          await removeFinalizer(client, widget, widgetFinalizer, ctx.signal);
          return;
        }
        widget = await addFinalizer(client, widget, widgetFinalizer, ctx.signal);
        const generation = widget.metadata.generation;
        await updateStatus(client, widget, {
          conditions: setConditions(widget.status?.conditions, readyConditions(), generation, new Date()),
          observedGeneration: generation,
          reconciledBy: identity,
          size: widget.spec?.size,
        }, ctx.signal);
      },
    },
  });
}
