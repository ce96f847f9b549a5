// Kubernetes Events (events.k8s.io/v1), deduplicated: the same event about the same object again
// within the window updates the first one's series count instead of creating a new Event.
import { createHash } from 'node:crypto';
import os from 'node:os';
import { realClock, type Clock } from './clock.ts';
import { errorMessage } from './errors.ts';
import { ResourceClient, type KubeObject } from './kube/resource.ts';
import type { KubeRest } from './kube/rest.ts';
import type { Logger } from './logger.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  event(regarding: KubeObject, type: EventType, reason: string, note: string, action?: string): void;
}

interface SeriesEntry { name: string; namespace: string; count: number; firstSeen: number }

const eventsRef = { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };
const dedupeWindowMs = 30 * 60 * 1000;
const maxTracked = 4096;

export class KubeEventRecorder implements EventRecorder {
  private readonly client: ResourceClient;
  private readonly controllerName: string;
  private readonly instance: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly series = new Map<string, SeriesEntry>();
  private pending: Promise<unknown> = Promise.resolve();

  constructor(rest: KubeRest, opts: { controllerName: string; logger: Logger; clock?: Clock; instance?: string }) {
    this.client = new ResourceClient(rest, eventsRef);
    this.controllerName = opts.controllerName;
    this.instance = opts.instance ?? process.env.POD_NAME ?? os.hostname();
    this.log = opts.logger;
    this.clock = opts.clock ?? realClock;
  }

  /** Records without blocking the reconcile; failures are logged, never thrown. */
  event(regarding: KubeObject, type: EventType, reason: string, note: string, action = reason): void {
    this.pending = this.pending
      .then(() => this.record(regarding, type, reason, note.slice(0, 1024), action))
      .catch((err) => this.log.warn({ reason, err: errorMessage(err) }, 'could not record event'));
  }

  /** Waits for queued event writes, for shutdown and tests. */
  flush(): Promise<unknown> {
    return this.pending;
  }

  private async record(regarding: KubeObject, type: EventType, reason: string, note: string, action: string): Promise<void> {
    const namespace = regarding.metadata.namespace ?? 'default';
    const identity = `${regarding.metadata.uid}|${type}|${reason}|${action}|${note}`;
    const now = this.clock.now();
    const known = this.series.get(identity);
    if (known && now - known.firstSeen < dedupeWindowMs) {
      known.count++;
      await this.client.mergePatch({ namespace: known.namespace, name: known.name }, { series: { count: known.count, lastObservedTime: microTime(now) } });
      return;
    }
    const name = `${regarding.metadata.name}.${createHash('sha256').update(`${identity}|${now}`).digest('hex').slice(0, 16)}`;
    const event: KubeObject & Record<string, unknown> = {
      metadata: { name, namespace },
      eventTime: microTime(now),
      reportingController: this.controllerName,
      reportingInstance: this.instance,
      action,
      reason,
      note,
      type,
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name: regarding.metadata.name,
        namespace: regarding.metadata.namespace,
        uid: regarding.metadata.uid,
        resourceVersion: regarding.metadata.resourceVersion,
      },
    };
    await this.client.create(event);
    if (this.series.size >= maxTracked) this.series.delete(this.series.keys().next().value as string);
    this.series.set(identity, { name, namespace, count: 1, firstSeen: now });
  }
}

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}
