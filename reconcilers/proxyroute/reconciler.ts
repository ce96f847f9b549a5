// The ProxyRoute reconcile, in named steps:
//   load -> gone? take it off any host that still serves it
//        -> deleting? take it off its host; drop the finalizer of an older version, if it has one
//        -> validate the spec again (zod schema + Secret references stay in the namespace)
//        -> resolve references (Secrets, Workspace ports), then upstream names (pinned, vetted)
//        -> validate the rendered input (every value, TLS pair) -> find the Host and its applier
//        -> host-level failure gate -> ensure (queues a batched apply; never waits for the host)
//        -> write status from the outcome (only when it changed).
// The apply itself finishes later; the applier's onSettled enqueues the route again, so this stays
// level-based: every reconcile starts from the object and the applier's last result.
//
// No finalizer, as with ingress controllers: a host's configuration is a function of the routes
// that name it, so a deleted route is simply absent from the next apply there (spec.hostRef cannot
// change); one that vanished while the controller was down is an orphan the host's startup check
// removes. Deleting a route or its namespace never waits for a host, or for Outrigger to be
// installed at all, and a burst of new routes costs one API write each instead of two. Routes
// created by older versions still carry `outrigger.dev/cleanup`; it is honoured and removed.
//
// Why not reconcileManaged (common/managed.ts): here observe and create are one queued call whose
// result arrives through onSettled, a quarantined route is a normal outcome rather than an error,
// and host failures are gated per host rather than retried per route.
import {
  objectKeyString, errorCode, errorMessage, hasFinalizer, isDeleting, isNotFound, isTerminal, realClock,
  updateStatus, TerminalError,
  type Clock, type EventRecorder, type Informer, type ObjectKey, type ReconcileContext, type Reconciler, type ResourceClient, type Result,
} from '../../controller/index.ts';
import { ErrorCodes } from '../common/reasons.ts';
import { describeFieldErrors, proxyRouteKind, validateSpec, type Host, type ProxyRoute, type ProxyRouteSpec, type ProxyRouteStatus, type Workspace } from '../../crds/index.ts';
import { outriggerFinalizer } from '../common/kinds.ts';
import { classifyFailure } from '../common/failure.ts';
import { releaseFinalizer } from '../common/finalizer.ts';
import { load, type ManagedStatus } from '../common/managed.ts';
import { reportFailure } from '../common/report.ts';
import { routeClient } from './external.ts';
import { ProxyRouteReasons } from './reasons.ts';
import type { SecretReader } from '../common/secrets.ts';
import { resolveHost } from '../hosts.ts';
import { checkTlsPair, routeInputFromSpec, validateRouteInput, validateSpecReferences, type NginxRouteInput } from '../nginx/index.ts';
import type { HostNginx, HostNginxRegistry } from './host-nginx.ts';
import { hostOfRoute } from './references.ts';
import { resolveReferences } from './resolve.ts';
import { pinUpstreamNames } from './upstream-dns.ts';
import type { OutboundGuard } from '../net/index.ts';
import { routeStatus, type RouteOutcome } from './status.ts';

/** How long a new route may wait for its first apply before it reports Applying. */
const NEW_ROUTE_STATUS_DELAY_MS = 5_000;

export interface ProxyRouteReconcilerDeps {
  client: ResourceClient<ProxyRoute>;
  /** The ProxyRoute informer: reconciles read from its cache (without it, a GET each time). */
  cache?: Informer<ProxyRoute>;
  hosts: Informer<Host>;
  workspaces: Informer<Workspace>;
  secrets: SecretReader;
  registry: HostNginxRegistry;
  events: EventRecorder;
  /** A quarantined version is tried again after this long (must match the applier's). */
  quarantineRetryMs: number;
  /** Resolves and vets upstream names (the process's guard: its DNS settings). */
  outbound: OutboundGuard;
  /** A route with upstream names is reconciled again after this long, following DNS changes. */
  upstreamRefreshMs: number;
  clock?: Clock;
}

export class ProxyRouteReconciler implements Reconciler {
  private readonly deps: ProxyRouteReconcilerDeps;
  private readonly clock: Clock;

  constructor(deps: ProxyRouteReconcilerDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? realClock;
  }

  async reconcile(req: ObjectKey, ctx: ReconcileContext): Promise<Result> {
    const loaded = await this.load(req, ctx);
    if (!loaded) {
      // Deleted: nothing of it may stay on a host.
      this.deps.registry.forgetRoute(req);
      return {};
    }
    if (isDeleting(loaded)) return this.finalize(loaded, ctx);
    let route = loaded;
    try {
      const spec = this.validateSpec(route);
      route = { ...route, spec };

      const namespace = route.metadata.namespace ?? 'default';
      const resolution = resolveReferences(namespace, spec, { secrets: this.deps.secrets, workspaces: this.deps.workspaces });
      if (!resolution.ok) {
        // A Workspace watch brings the route back when it changes.
        await this.write(route, { kind: 'waiting', reason: resolution.reason, message: resolution.message }, ctx);
        return {};
      }
      const pinned = await pinUpstreamNames(spec, resolution.resolved, this.deps.outbound, this.deps.upstreamRefreshMs);
      const input = routeInputFromSpec(namespace, route.metadata.name ?? '', spec, pinned.resolved);
      this.validateInput(input);

      const nginx = this.hostNginx(route, spec);
      const gate = nginx.gate();
      const previous = nginx.lastResult(namespace, route.metadata.name ?? '');
      if (gate) {
        await this.write(route, { kind: 'hostFailure', code: gate.code, message: gate.message, ...(previous ? { result: previous } : {}) }, ctx);
        return { requeueAfterMs: Math.max(gate.retryAt - this.clock.now(), 0) + 50 };
      }

      const external = routeClient<ProxyRoute>(nginx, input);
      let seen = await external.observe(route, ctx.signal);
      if (!seen.upToDate) {
        await (seen.exists ? external.update(route, seen, ctx.signal) : external.create(route, ctx.signal));
        seen = await external.observe(route, ctx.signal);
      }
      const obs = seen.facts!.route;
      if (obs.pending && !obs.result && !route.status?.conditions?.length) {
        // A brand-new route: its first status comes with the apply's result (onSettled brings it
        // back), which saves a status write per route in a burst of creations. If the apply takes
        // longer than this, Applying is written then.
        return { requeueAfterMs: NEW_ROUTE_STATUS_DELAY_MS };
      }
      let outcome: RouteOutcome;
      if (obs.pending || !obs.result) {
        // While a failed host is being retried, its failure stays visible instead of flapping to Applying.
        const failed = obs.result?.state === 'Failed' ? obs.result : undefined;
        outcome = failed
          ? { kind: 'hostFailure', code: failed.errorCode ?? 'NginxApplyFailed', message: nginx.failure?.message ?? failed.message ?? 'the apply failed', result: failed }
          : { kind: 'applying', ...(obs.result ? { result: obs.result } : {}) };
      } else {
        outcome = { kind: 'settled', result: obs.result, desiredHash: obs.desiredHash, upstreams: resolution.upstreams, tls: Boolean(spec.tls), ...(obs.certificate ? { certificate: obs.certificate } : {}) };
      }
      await this.write(route, outcome, ctx);
      if (outcome.kind === 'settled' && outcome.result.state === 'Quarantined') return { requeueAfterMs: Math.min(this.deps.quarantineRetryMs + 1_000, pinned.refreshAfterMs ?? Infinity) };
      return pinned.refreshAfterMs === undefined ? {} : { requeueAfterMs: pinned.refreshAfterMs };
    } catch (err) {
      return this.reportFailure(route, err, ctx);
    }
  }

  // ---- steps ------------------------------------------------------------------------------------

  /**
   * From the informer's cache, as controller-runtime's cached client does: no GET per reconcile. A
   * stale copy costs at most a refused write (the resourceVersion guards it) and a retry.
   */
  private load(req: ObjectKey, ctx: ReconcileContext): Promise<ProxyRoute | undefined> {
    const cache = this.deps.cache;
    return load({ client: this.deps.client, ...(cache ? { read: (key: ObjectKey) => cache.get(objectKeyString(key)) } : {}) }, req, ctx);
  }

  /** The schema again (an object may have been written around the CRD) plus the namespace rule for references. */
  private validateSpec(route: ProxyRoute): ProxyRouteSpec {
    const namespace = route.metadata.namespace ?? 'default';
    const parsed = validateSpec(proxyRouteKind, route.spec);
    const errors = [...(parsed.ok ? [] : parsed.errors), ...validateSpecReferences(route.spec, namespace)];
    if (!parsed.ok || errors.length > 0) {
      throw new TerminalError(ErrorCodes.InvalidSpec, describeFieldErrors(errors), { field: errors[0]?.path });
    }
    return parsed.value as ProxyRouteSpec;
  }

  /** Every value that will reach a file, after references were resolved; nothing is queued on failure. */
  private validateInput(input: NginxRouteInput): void {
    const errors = validateRouteInput(input);
    if (errors.length > 0) throw new TerminalError(ErrorCodes.InvalidSpec, describeFieldErrors(errors), { field: errors[0]!.path });
    if (input.tls) checkTlsPair(input.tls, input.serverNames, new Date(this.clock.now()));
  }

  private hostNginx(route: ProxyRoute, spec: ProxyRouteSpec): HostNginx {
    const namespace = route.metadata.namespace ?? 'default';
    const hostKey = `${namespace}/${spec.hostRef.name}`;
    let host: Host;
    try {
      host = resolveHost(this.deps.hosts, namespace, spec.hostRef.name, 'spec.hostRef');
    } catch (err) {
      this.deps.registry.drop(hostKey);
      throw err;
    }
    if (!host.spec.nginx || !host.spec.ssh) {
      throw new TerminalError(ErrorCodes.InvalidSpec, `spec.hostRef: Host "${spec.hostRef.name}" has no spec.nginx and spec.ssh; ProxyRoutes need a Host whose nginx Outrigger reaches over SSH`, { field: 'spec.hostRef' });
    }
    try {
      return this.deps.registry.forHost(host);
    } catch (err) {
      if (errorCode(err) !== ErrorCodes.InvalidSpec) throw err;
      throw new TerminalError(ErrorCodes.InvalidSpec, `spec.hostRef: Host "${spec.hostRef.name}" has unusable nginx settings: ${errorMessage(err)}`, { field: 'spec.hostRef', cause: err });
    }
  }

  private async finalize(route: ProxyRoute, ctx: ReconcileContext): Promise<Result> {
    if (!hasFinalizer(route, outriggerFinalizer)) {
      // Held by someone else's finalizer: it is going, so it goes from its host now.
      this.deps.registry.forgetRoute({ namespace: route.metadata.namespace, name: route.metadata.name ?? '' });
      return {};
    }
    const namespace = route.metadata.namespace ?? 'default';
    const name = route.metadata.name ?? '';
    const hostName = hostOfRoute(route);
    const host = hostName ? this.deps.hosts.get(`${namespace}/${hostName}`) : undefined;
    let nginx: HostNginx | undefined;
    try {
      nginx = host?.spec.nginx && host.spec.ssh ? this.deps.registry.forHost(host) : undefined;
    } catch {
      nginx = undefined; // settings nginx never accepted: nothing can have been applied with them
    }
    if (!nginx) {
      this.deps.events.event(route, 'Warning', ProxyRouteReasons.HostGone, `Host "${hostName ?? ''}" no longer exists or runs no nginx managed by Outrigger; nothing to remove`);
      await releaseFinalizer(this.deps.client, route, outriggerFinalizer, ctx.signal);
      return {};
    }
    const gate = nginx.gate();
    if (gate) {
      const previous = nginx.lastResult(namespace, name);
      await this.write(route, { kind: 'hostFailure', code: gate.code, message: `cannot remove the route yet: ${gate.message}`, ...(previous ? { result: previous } : {}) }, ctx).catch(() => {});
      return { requeueAfterMs: Math.max(gate.retryAt - this.clock.now(), 0) + 50 };
    }
    const { removed } = nginx.ensureRemoved(namespace, name);
    if (!removed) return {}; // the applier's onSettled brings us back
    this.deps.events.event(route, 'Normal', ProxyRouteReasons.Removed, `Removed the route's configuration from Host ${hostName} and reloaded nginx`);
    await releaseFinalizer(this.deps.client, route, outriggerFinalizer, ctx.signal);
    return {};
  }

  // ---- status and events ------------------------------------------------------------------------

  private async write(route: ProxyRoute, outcome: RouteOutcome, ctx: ReconcileContext): Promise<void> {
    const host = `${route.metadata.namespace}/${hostOfRoute(route) ?? ''}`;
    const next = routeStatus(route.status, outcome, { host, generation: route.metadata.generation, now: new Date(this.clock.now()) });
    // A host-level failure concerns every route on the host: the Host's own events and conditions
    // tell it once, instead of one Warning per route.
    if (outcome.kind !== 'hostFailure') this.announce(route, route.status, next);
    const ready = next.conditions?.find((c) => c.type === 'Ready');
    ctx.log.debug({ route: `${route.metadata.namespace}/${route.metadata.name}`, outcome: outcome.kind, ready: ready?.status, reason: ready?.reason, message: ready?.message }, 'route status');
    try {
      await updateStatus(this.deps.client, route, next, ctx.signal);
    } catch (err) {
      if (!isNotFound(err)) throw err; // deleted meanwhile: no status left to write
    }
  }

  /** Events on transitions only: a new configuration live, or Ready turning False for a new reason. */
  private announce(route: ProxyRoute, before: ProxyRouteStatus | undefined, after: ProxyRouteStatus): void {
    const was = before?.conditions?.find((c) => c.type === 'Ready');
    const now = after.conditions?.find((c) => c.type === 'Ready');
    if (!now) return;
    if (now.status === 'True') {
      // An event marks a changed configuration going live. A route's first apply is in its status
      // already, and a recovery after a host outage is the Host's news: a burst of new routes or a
      // host coming back does not cost an event write per route.
      if (before?.appliedConfigHash !== undefined && before.appliedConfigHash !== after.appliedConfigHash) {
        this.deps.events.event(route, 'Normal', ProxyRouteReasons.Applied, `${now.message ?? 'Served by nginx'}; configuration ${after.appliedConfigHash ?? ''}`.trim());
      }
      return;
    }
    const progressing = ['Applying', 'WorkspaceNotFound', 'WorkspaceNotReady', 'WorkspaceEndpointMissing'].includes(now.reason ?? '');
    if (progressing || (was?.status === now.status && was.reason === now.reason)) return;
    this.deps.events.event(route, 'Warning', now.reason ?? ProxyRouteReasons.NotReady, now.message ?? 'The route is not ready');
  }

  /** The kit's classifier and reporter: a wait returns (a watch brings the route back), the rest throws for the queue. */
  private async reportFailure(route: ProxyRoute, caught: unknown, ctx: ReconcileContext): Promise<Result> {
    const failure = classifyFailure(caught, ctx.signal);
    await reportFailure({ client: this.deps.client as ResourceClient<ProxyRoute & { status?: ManagedStatus }>, clock: this.clock, events: this.deps.events }, route as ProxyRoute & { status?: ManagedStatus }, failure, ctx);
    if (failure.kind === 'waiting') return {};
    if (failure.kind === 'conflict') return { requeue: true };
    if (failure.kind === 'terminal' && !isTerminal(caught)) throw new TerminalError(failure.reason, failure.message, { cause: caught });
    throw caught;
  }
}
