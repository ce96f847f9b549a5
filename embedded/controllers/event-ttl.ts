// Events expire, as they do in etcd with kube-apiserver's --event-ttl (default one hour), so a
// long-running standalone server does not accumulate them forever.
import { coreEventType } from '../kinds/builtin.ts';
import { ApiError } from '../api/errors.ts';
import { controllerWriteOptions, type Controller, type ControllerContext } from './context.ts';

type Obj = Record<string, unknown>;

export function lastActivity(ev: Obj): number {
  const m = (ev.metadata ?? {}) as Obj;
  const candidates = [(ev.series as Obj | undefined)?.lastObservedTime, ev.lastTimestamp, ev.eventTime, m.creationTimestamp];
  let latest = 0;
  for (const c of candidates) {
    const t = typeof c === 'string' ? Date.parse(c) : NaN;
    if (!Number.isNaN(t) && t > latest) latest = t;
  }
  return latest;
}

export function eventExpiry(ctx: ControllerContext, ttlMs = 60 * 60 * 1000, everyMs = 60 * 1000): Controller {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const sweep = async (): Promise<void> => {
    const cutoff = ctx.service.now().getTime() - ttlMs;
    const expired = [...ctx.store.values(coreEventType.storageResource)].filter((e) => lastActivity(e) < cutoff);
    for (const e of expired) {
      const m = e.metadata as Obj;
      try {
        await ctx.service.delete({ rt: coreEventType, namespace: String(m.namespace), name: String(m.name) }, {}, controllerWriteOptions());
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) ctx.warn(`event expiry failed: ${(err as Error).message}`);
      }
    }
  };
  return {
    start() {
      timer = setInterval(() => {
        running = running.then(sweep);
      }, everyMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
    },
    idle: () => running,
  };
}
