// events.k8s.io/v1 Events are a second view of core/v1 Events (one storage, two shapes), as in
// kube-apiserver. Objects are stored in the core form.
import type { KubeObject } from '../storage/store.ts';

type Obj = Record<string, unknown>;

function copyIfSet(from: Obj, fromKey: string, to: Obj, toKey: string): void {
  if (from[fromKey] !== undefined) to[toKey] = from[fromKey];
}

export function coreToEventsV1(core: KubeObject): KubeObject {
  const out: Obj = { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: core.metadata };
  copyIfSet(core, 'eventTime', out, 'eventTime');
  copyIfSet(core, 'series', out, 'series');
  copyIfSet(core, 'reportingComponent', out, 'reportingController');
  copyIfSet(core, 'reportingInstance', out, 'reportingInstance');
  copyIfSet(core, 'action', out, 'action');
  copyIfSet(core, 'reason', out, 'reason');
  copyIfSet(core, 'involvedObject', out, 'regarding');
  copyIfSet(core, 'related', out, 'related');
  copyIfSet(core, 'message', out, 'note');
  copyIfSet(core, 'type', out, 'type');
  copyIfSet(core, 'source', out, 'deprecatedSource');
  copyIfSet(core, 'firstTimestamp', out, 'deprecatedFirstTimestamp');
  copyIfSet(core, 'lastTimestamp', out, 'deprecatedLastTimestamp');
  copyIfSet(core, 'count', out, 'deprecatedCount');
  if (out.eventTime === undefined) out.eventTime = null;
  return out as KubeObject;
}

export function eventsV1ToCore(ev: KubeObject): KubeObject {
  const out: Obj = { apiVersion: 'v1', kind: 'Event', metadata: ev.metadata };
  copyIfSet(ev, 'eventTime', out, 'eventTime');
  copyIfSet(ev, 'series', out, 'series');
  copyIfSet(ev, 'reportingController', out, 'reportingComponent');
  copyIfSet(ev, 'reportingInstance', out, 'reportingInstance');
  copyIfSet(ev, 'action', out, 'action');
  copyIfSet(ev, 'reason', out, 'reason');
  copyIfSet(ev, 'regarding', out, 'involvedObject');
  copyIfSet(ev, 'related', out, 'related');
  copyIfSet(ev, 'note', out, 'message');
  copyIfSet(ev, 'type', out, 'type');
  copyIfSet(ev, 'deprecatedSource', out, 'source');
  copyIfSet(ev, 'deprecatedFirstTimestamp', out, 'firstTimestamp');
  copyIfSet(ev, 'deprecatedLastTimestamp', out, 'lastTimestamp');
  copyIfSet(ev, 'deprecatedCount', out, 'count');
  if (out.involvedObject === undefined) out.involvedObject = {};
  return out as KubeObject;
}
