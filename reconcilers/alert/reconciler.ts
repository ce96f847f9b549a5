// The Alert reconcile, in named steps:
//   load (informer cache) -> gone or deleting: forget it (nothing outside Kubernetes to clean up)
//   -> parse the spec again (defaults) -> read silences from the annotations
//   -> evaluate the rules that are due (evaluate.ts) -> advance each alert (series.ts)
//   -> inhibit and silence -> plan notifications per receiver and group (dispatch.ts)
//   -> a new notification is written to status (the outbox) BEFORE its first attempt
//   -> deliver what is due (notify/) -> write status (only when changed) -> requeue when the next
//      rule, flush, retry or silence end falls due.
// Exactly once: the outbox write carries the resourceVersion it was computed from, so of two
// controllers (a leader change, a stale cache) only one can decide a notification; each attempt
// reuses the notification's key (Idempotency-Key header, Message-ID), and a restart finds the
// outbox in status and delivers it instead of forgetting it. The only window for a duplicate is a
// crash after the receiver accepted and before the log was written; the key lets the receiver
// drop that duplicate.
//
// Why not reconcileManaged (common/managed.ts): an Alert owns no external object to observe,
// create or delete; its side effects are notifications, which must be recorded in status before
// they are sent, so status is written twice in a reconcile that notifies.
import {
  backoffDelay, errorMessage, isDeleting, readyConditions, progressingConditions, updateStatus,
  type Clock, type ConditionInput, type EventRecorder, type Informer, type ObjectKey, type ReconcileContext, type Reconciler, type ResourceClient, type Result,
} from '../../controller/index.ts';
import { alertSpecSchema, parseDuration, type Alert, type AlertSpec, type AlertStatus } from '../../crds/index.ts';
import { classifyFailure } from '../common/failure.ts';
import { load, parseSpec, type ManagedStatus } from '../common/managed.ts';
import { reportFailure } from '../common/report.ts';
import { redactSecrets, type SecretReader } from '../common/secrets.ts';
import { nextStatus } from '../common/status.ts';
import { DeliveryError, NotifyReasons, ZERO_TIME, type Notification, type Notifier, type ReceiverTarget } from '../notify/index.ts';
import { delivered, entryId, plan, type DispatchEntry, type DispatchTiming } from './dispatch.ts';
import { evaluateRule, newMemory, ruleTypeOf, type AlertMemory, type EvaluationSources, type Rule } from './evaluate.ts';
import { inhibitedFingerprints, type RouteFacts } from './inhibit.ts';
import { alertLabels, fingerprintOf, fingerprintOfId, groupLabelsOf, type AlertIdentity, type GroupByLabel } from './labels.ts';
import type { AlertMetrics } from './metrics.ts';
import { AlertReasons } from './reasons.ts';
import { advance, retire, type AlertRecord } from './series.ts';
import { isSilenced, nextSilenceEnd, silencesOf } from './silences.ts';
import { entriesFromStatus, entriesToStatus, iso, recordsFromStatus, recordsToStatus, rulesToStatus, silencesToStatus, type StatusReceiver } from './status.ts';

export type AlertObject = Omit<Alert, 'status'> & { status?: ManagedStatus & Omit<AlertStatus, 'conditions'> };

export interface AlertReconcilerDeps {
  client: ResourceClient<AlertObject>;
  cache?: Informer<AlertObject>;
  sources: EvaluationSources;
  secrets: SecretReader;
  notifier: Notifier;
  events: EventRecorder;
  clock: Clock;
  metrics: AlertMetrics;
  /** Looked at again at least this often (default 5 min). */
  maxRequeueMs?: number;
  /** lastEvaluationTime is rewritten at least this often (default 10 min). */
  evaluationRecordMs?: number;
  /** First retry of a failed delivery, doubled up to the max (default 1 s .. 60 s, 20% jitter). */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/** Receivers that group alerts themselves get every change at once and a refresh every minute. */
const ALERTMANAGER_TIMING: DispatchTiming = { groupWaitMs: 0, groupIntervalMs: 60_000, repeatIntervalMs: 60_000, sendResolved: true, flushOnChange: true };

interface Memory extends AlertMemory {
  /** Next attempt of an outbox item, by key. */
  retryAt: Map<string, number>;
  /** Keys delivered by this process: a stale cached status still showing them pending is not sent again. */
  delivered: Set<string>;
  firingRules: Set<string>;
}

type ReceiverSpec = AlertSpec['receivers'][number];

export class AlertReconciler implements Reconciler {
  private readonly deps: AlertReconcilerDeps;
  private readonly memory = new Map<string, Memory>();

  constructor(deps: AlertReconcilerDeps) {
    this.deps = deps;
  }

  /** The Alert was deleted: its memory and metrics go. */
  forget(obj: { metadata: { uid?: string; namespace?: string; name?: string } }): void {
    const mem = this.memory.get(obj.metadata.uid ?? '');
    if (mem) this.deps.metrics.forget(obj.metadata.namespace ?? '', obj.metadata.name ?? '', mem.firingRules);
    this.memory.delete(obj.metadata.uid ?? '');
  }

  async reconcile(req: ObjectKey, ctx: ReconcileContext): Promise<Result> {
    const cache = this.deps.cache;
    const loaded = await load({ client: this.deps.client, ...(cache ? { read: (k: ObjectKey) => cache.get(`${k.namespace}/${k.name}`) } : {}) }, req, ctx);
    if (!loaded || isDeleting(loaded)) {
      if (loaded) this.forget(loaded);
      return {};
    }
    let obj = loaded;
    try {
      obj = parseSpec(alertSpecSchema, loaded);
      return await this.run(obj, ctx);
    } catch (err) {
      const failure = classifyFailure(err, ctx.signal);
      await reportFailure({ client: this.deps.client, clock: this.deps.clock, events: this.deps.events }, obj, failure, ctx);
      if (failure.kind === 'conflict') return { requeue: true };
      throw err;
    }
  }

  private memoryOf(uid: string): Memory {
    let mem = this.memory.get(uid);
    if (!mem) this.memory.set(uid, (mem = { ...newMemory(), retryAt: new Map(), delivered: new Set(), firingRules: new Set() }));
    return mem;
  }

  private async run(obj: AlertObject, ctx: ReconcileContext): Promise<Result> {
    const { clock } = this.deps;
    const spec = obj.spec;
    const namespace = obj.metadata.namespace ?? 'default';
    const name = obj.metadata.name ?? '';
    const uid = obj.metadata.uid ?? `${namespace}/${name}`;
    const mem = this.memoryOf(uid);
    const now = clock.now();
    const wakeups: number[] = [];

    // ---- evaluate ------------------------------------------------------------------------------
    const silences = silencesOf(obj.metadata.annotations, now);
    for (const s of silences) if (s.invalid) this.deps.events.event(obj, 'Warning', AlertReasons.InvalidSilence, `annotation ${s.invalid}: "${s.until}" is not an RFC 3339 time such as 2030-01-31T18:00:00Z`);
    const records = recordsFromStatus(obj.status as AlertStatus | undefined, { namespace, alert: name });
    const before = new Map(records);
    const missing: string[] = [];
    const ruleMessages = new Map<string, string>();
    const evaluated = new Set<string>();
    const results = await Promise.all(spec.rules.map((rule, i) => evaluateRule(rule, i, namespace, mem, this.deps.sources, now, ctx.signal).then((r) => [rule, r] as const)));
    for (const [rule, result] of results) {
      missing.push(...result.missing.map((m) => `rule ${rule.name}: ${m} not found`));
      if (result.nextAt !== undefined) wakeups.push(result.nextAt);
      if (!result.evaluations) continue;
      evaluated.add(rule.name);
      const forMs = parseDuration(rule.for);
      const targets = new Set<string>();
      for (const [target, ev] of result.evaluations) {
        const identity: AlertIdentity = { namespace, alert: name, rule: rule.name, type: ruleTypeOf(rule), severity: rule.severity, target };
        const labels = alertLabels(identity);
        const fingerprint = fingerprintOf(labels);
        targets.add(fingerprint);
        const next = advance(records.get(fingerprint), { fingerprint, identity, labels }, ev, now, forMs);
        if (next) records.set(fingerprint, next);
        else records.delete(fingerprint);
        if (next?.state === 'Pending') wakeups.push(next.activeAt + forMs);
      }
      // Alerts of this rule whose target it no longer watches (removed, deleted, severity changed).
      for (const rec of [...records.values()]) {
        if (rec.identity.rule === rule.name && !targets.has(rec.fingerprint)) this.retireRecord(records, rec, now);
      }
      ruleMessages.set(rule.name, ruleMessage(result.evaluations));
    }
    for (const rec of [...records.values()]) {
      if (!spec.rules.some((r) => r.name === rec.identity.rule)) this.retireRecord(records, rec, now);
    }

    // ---- inhibit, silence, plan ----------------------------------------------------------------
    const inhibited = inhibitedFingerprints(records.values(), this.routeFacts(namespace));
    for (const rec of records.values()) {
      rec.inhibited = inhibited.has(rec.fingerprint) || undefined;
      rec.silenced = isSilenced(silences, rec.identity.rule) || undefined;
      if (!rec.inhibited) delete rec.inhibited;
      if (!rec.silenced) delete rec.silenced;
    }
    const silenceEnd = nextSilenceEnd(silences);
    if (silenceEnd !== undefined) wakeups.push(silenceEnd + 1);
    const receiverNames = spec.receivers.map((r) => r.name);
    const rulesByName = new Map(spec.rules.map((r) => [r.name, r]));
    const receiversOf = (rec: AlertRecord) => rulesByName.get(rec.identity.rule)?.receivers ?? receiverNames;
    const receiverSpec = new Map(spec.receivers.map((r) => [r.name, r]));
    const isAlertmanager = (receiver: string) => receiverSpec.get(receiver)?.alertmanager !== undefined;
    const groupBy = (spec.groupBy ?? []) as GroupByLabel[];
    const timing: DispatchTiming = {
      groupWaitMs: parseDuration(spec.groupWait), groupIntervalMs: parseDuration(spec.groupInterval), repeatIntervalMs: parseDuration(spec.repeatInterval), sendResolved: spec.sendResolved,
    };
    // Entries of receivers that left the spec are dropped with whatever they held.
    const entries = entriesFromStatus(obj.status as AlertStatus | undefined).filter((e) => receiverSpec.has(e.receiver));
    // A key this process delivered but a stale cache still shows pending is delivered, not resent.
    for (let i = 0; i < entries.length; i++) if (entries[i]!.pending && mem.delivered.has(entries[i]!.pending!.key)) entries[i] = delivered(entries[i]!, entries[i]!.pending!.since);
    const planned = plan({
      uid, records, entries, now, receiversOf,
      groupByOf: (r) => (isAlertmanager(r) ? [] : groupBy),
      timingOf: (r) => (isAlertmanager(r) ? ALERTMANAGER_TIMING : timing),
    });
    for (const fp of planned.done) records.delete(fp);
    if (planned.nextFlushAt !== undefined) wakeups.push(planned.nextFlushAt);
    let current = planned.entries;

    // ---- receivers -----------------------------------------------------------------------------
    const receiverStatus = new Map<string, StatusReceiver>(((obj.status?.receivers as StatusReceiver[] | undefined) ?? []).filter((r) => receiverSpec.has(r.name)).map((r) => [r.name, { ...r }]));
    const targets = new Map<string, ReceiverTarget | { problem: string }>();
    spec.receivers.forEach((r, i) => targets.set(r.name, this.resolveReceiver(r, i, namespace)));
    const receiverProblems = [...targets].filter(([, t]) => 'problem' in t).map(([n, t]) => `receiver ${n}: ${(t as { problem: string }).problem}`);

    const fields = () => this.statusFields(obj, spec, records, current, receiverStatus, silences, mem, now, ruleMessages, evaluated);
    const conditions = this.conditions(spec, missing, receiverProblems);

    // ---- outbox first, then deliver ------------------------------------------------------------
    if (planned.decided.length > 0) obj = await this.write(obj, fields(), conditions, ctx);
    const due = current.filter((e) => e.pending && (mem.retryAt.get(e.pending.key) ?? 0) <= now);
    const outcomes = await Promise.all(due.map((e) => this.deliver(obj, spec, e, records, targets.get(e.receiver)!, receiverSpec.get(e.receiver)!, ctx)));
    const byId = new Map(current.map((e) => [entryId(e), e]));
    for (const [i, e] of due.entries()) {
      const outcome = outcomes[i]!;
      const rs = receiverStatus.get(e.receiver) ?? { name: e.receiver };
      receiverStatus.set(e.receiver, rs);
      rs.lastAttemptTime = iso(now);
      if (outcome.ok) {
        byId.set(entryId(e), delivered(e, now));
        mem.delivered.add(e.pending!.key);
        mem.retryAt.delete(e.pending!.key);
        if (outcome.sent) {
          rs.lastResult = 'Succeeded';
          rs.lastNotificationTime = iso(now);
          rs.sent = (rs.sent ?? 0) + 1;
          delete rs.reason;
          delete rs.message;
        }
        continue;
      }
      rs.lastResult = 'Failed';
      rs.reason = outcome.reason;
      rs.message = outcome.message;
      if (!outcome.retryable) {
        // Refused for good: the next flush decides again (the log is unchanged).
        const { pending: _p, ...rest } = e;
        byId.set(entryId(e), rest);
        mem.retryAt.delete(e.pending!.key);
        continue;
      }
      const attempts = (e.pending!.attempts ?? 0) + 1;
      byId.set(entryId(e), { ...e, pending: { ...e.pending!, attempts } });
      const delay = Math.max(backoffDelay(attempts - 1, { initialMs: this.deps.retryInitialMs ?? 1_000, maxMs: this.deps.retryMaxMs ?? 60_000, jitter: 0.2 }), outcome.retryAfterMs ?? 0);
      mem.retryAt.set(e.pending!.key, now + delay);
    }
    current = current.map((e) => byId.get(entryId(e)) ?? e);
    for (const e of current) if (e.pending) wakeups.push(mem.retryAt.get(e.pending.key) ?? now);
    this.announce(obj, before, records);
    this.updateMetrics(namespace, name, records, mem);

    obj = await this.write(obj, fields(), conditions, ctx);
    const next = Math.min(...wakeups.filter((t) => Number.isFinite(t)), now + (this.deps.maxRequeueMs ?? 300_000));
    return { requeueAfterMs: Math.max(next - clock.now(), 50) };
  }

  private retireRecord(records: Map<string, AlertRecord>, rec: AlertRecord, now: number): void {
    const next = retire(rec, now);
    if (next) records.set(rec.fingerprint, next);
    else records.delete(rec.fingerprint);
  }

  /** The namespace's ProxyRoutes as inhibition needs them: names served and Workspaces sent to. */
  private routeFacts(namespace: string): RouteFacts[] {
    return this.deps.sources.routes.list()
      .filter((r) => r.metadata.namespace === namespace)
      .map((r) => ({ name: r.metadata.name ?? '', serverNames: r.spec.serverNames, workspaces: r.spec.routes.map((x) => x.upstream.workspaceRef?.name).filter((w): w is string => Boolean(w)) }));
  }

  /** A receiver's settings with its Secrets read, or what keeps it from being used. */
  private resolveReceiver(r: ReceiverSpec, i: number, namespace: string): ReceiverTarget | { problem: string } {
    const secret = (ref: { name: string; key: string }, field: string) => this.deps.secrets.text(namespace, ref, `spec.receivers[${i}].${field}`).trim();
    try {
      if (r.smtp) {
        const s = r.smtp;
        return {
          type: 'smtp',
          smtp: { address: s.address, port: s.port, security: s.security, from: s.from, to: s.to, ...(s.username ? { username: s.username } : {}), ...(s.passwordSecretRef ? { password: secret(s.passwordSecretRef, 'smtp.passwordSecretRef') } : {}) },
        };
      }
      if (r.slack) return { type: 'slack', url: secret(r.slack.urlSecretRef, 'slack.urlSecretRef'), ...(r.slack.channel ? { channel: r.slack.channel } : {}) };
      if (r.webhook) {
        const w = r.webhook;
        return {
          type: 'webhook',
          url: secret(w.urlSecretRef, 'webhook.urlSecretRef'),
          ...(w.authorizationSecretRef ? { authorization: secret(w.authorizationSecretRef, 'webhook.authorizationSecretRef') } : {}),
          ...(w.headers ? { headers: Object.fromEntries(w.headers.map((h) => [h.name, h.value])) } : {}),
        };
      }
      const a = r.alertmanager!;
      return { type: 'alertmanager', url: a.url, ...(a.authorizationSecretRef ? { authorization: secret(a.authorizationSecretRef, 'alertmanager.authorizationSecretRef') } : {}) };
    } catch (err) {
      return { problem: redactSecrets(errorMessage(err)) };
    }
  }

  private async deliver(obj: AlertObject, spec: AlertSpec, e: DispatchEntry, records: Map<string, AlertRecord>, target: ReceiverTarget | { problem: string }, receiver: ReceiverSpec, ctx: ReconcileContext):
    Promise<{ ok: true; sent: boolean } | { ok: false; retryable: boolean; reason: string; message: string; retryAfterMs?: number }> {
    const n = this.notification(obj, e, records, spec.groupBy ?? [], receiver.alertmanager !== undefined);
    if (n.alerts.length === 0) return { ok: true, sent: false };
    if ('problem' in target) return { ok: false, retryable: true, reason: NotifyReasons.ReceiverMisconfigured, message: target.problem };
    const integration = target.type;
    const index = spec.receivers.findIndex((r) => r.name === receiver.name);
    try {
      await this.deps.notifier.deliver(receiver.name, target, n, `spec.receivers[${index}]`, ctx.signal);
      this.deps.metrics.sent.inc({ integration });
      this.deps.events.event(obj, 'Normal', AlertReasons.NotificationSent, `Notified receiver ${receiver.name}: ${n.alerts.filter((a) => a.status === 'firing').length} firing, ${n.alerts.filter((a) => a.status === 'resolved').length} resolved`);
      return { ok: true, sent: true };
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const d = err instanceof DeliveryError ? err : undefined;
      const reason = d ? String(d.code) : NotifyReasons.ReceiverUnreachable;
      const message = redactSecrets(d ? d.message : `${integration} receiver ${receiver.name}: ${errorMessage(err)}`).slice(0, 4096);
      this.deps.metrics.failed.inc({ integration, reason });
      this.deps.events.event(obj, 'Warning', AlertReasons.NotificationFailed, message);
      return { ok: false, retryable: d ? d.retryable : true, reason, message, ...(d?.retryAfterMs !== undefined ? { retryAfterMs: d.retryAfterMs } : {}) };
    }
  }

  /** The outbox item as the receiver sees it, from the alerts it names. */
  private notification(obj: AlertObject, e: DispatchEntry, records: Map<string, AlertRecord>, groupBy: readonly GroupByLabel[], alertmanager: boolean): Notification {
    const p = e.pending!;
    const alerts: Notification['alerts'] = [];
    for (const id of p.firing) {
      const rec = records.get(fingerprintOfId(id));
      if (!rec) continue;
      alerts.push({ status: 'firing', labels: rec.labels, annotations: annotationsOf(rec), startsAt: iso(rec.firingAt ?? rec.activeAt), endsAt: ZERO_TIME, fingerprint: rec.fingerprint });
    }
    for (const fp of p.resolved) {
      const rec = records.get(fp);
      if (!rec) continue;
      alerts.push({ status: 'resolved', labels: rec.labels, annotations: annotationsOf(rec), startsAt: iso(rec.firingAt ?? rec.activeAt), endsAt: iso(rec.resolvedAt ?? rec.activeAt), fingerprint: rec.fingerprint });
    }
    const namespace = obj.metadata.namespace ?? 'default';
    const source = `${namespace}/${obj.metadata.name}`;
    return { receiver: e.receiver, groupKey: `${source}:${e.group}`, groupLabels: alerts[0] ? groupLabelsOf(alertmanager ? [] : groupBy, alerts[0].labels) : {}, alerts, key: p.key, source };
  }

  private conditions(spec: AlertSpec, missing: string[], receiverProblems: string[]): ConditionInput[] {
    if (missing.length > 0) return progressingConditions(AlertReasons.TargetNotFound, `${missing.join('; ')}; the other rules are evaluated`.slice(0, 1024));
    if (receiverProblems.length > 0) return progressingConditions(AlertReasons.ReceiverNotReady, `${receiverProblems.join('; ')}; notifications for it wait`.slice(0, 1024));
    return readyConditions(`Evaluating ${spec.rules.length} rule${spec.rules.length === 1 ? '' : 's'}`);
  }

  private statusFields(obj: AlertObject, spec: AlertSpec, records: Map<string, AlertRecord>, entries: DispatchEntry[], receivers: Map<string, StatusReceiver>, silences: ReturnType<typeof silencesOf>, mem: Memory, now: number, messages: Map<string, string>, evaluated: Set<string>): Record<string, unknown> {
    const previous = obj.status as AlertStatus | undefined;
    const rules = rulesToStatus(
      spec.rules.map((r) => ({ name: r.name, ...(evaluated.has(r.name) || mem.rules.get(r.name)?.lastEvaluationAt !== undefined ? { lastEvaluationAt: mem.rules.get(r.name)?.lastEvaluationAt ?? now } : {}), ...(messages.get(r.name) ?? previous?.rules?.find((x) => x.name === r.name)?.message ? { message: messages.get(r.name) ?? previous?.rules?.find((x) => x.name === r.name)?.message } : {}) })),
      records.values(), previous?.rules, now, this.deps.evaluationRecordMs ?? 600_000,
    );
    const alerts = recordsToStatus(records.values());
    const notifications = entriesToStatus(entries);
    const receiverList = spec.receivers.map((r) => receivers.get(r.name)).filter((r): r is StatusReceiver => r !== undefined && Object.keys(r).length > 1);
    const silenceList = silencesToStatus(silences);
    return {
      rules,
      ...(alerts.length ? { alerts } : {}),
      ...(notifications.length ? { notifications } : {}),
      ...(receiverList.length ? { receivers: receiverList } : {}),
      ...(silenceList.length ? { silences: silenceList } : {}),
      firingCount: rules.filter((r) => r.state === 'Firing').length,
    };
  }

  private async write(obj: AlertObject, fields: Record<string, unknown>, conditions: ConditionInput[], ctx: ReconcileContext): Promise<AlertObject> {
    const status = nextStatus(obj, fields, conditions, new Date(this.deps.clock.now()));
    const { object } = await updateStatus(this.deps.client, obj, status as AlertObject['status'], ctx.signal);
    return { ...object, spec: obj.spec };
  }

  /** Events for alerts that started firing or resolved. */
  private announce(obj: AlertObject, before: Map<string, AlertRecord>, after: Map<string, AlertRecord>): void {
    for (const rec of after.values()) {
      const was = before.get(rec.fingerprint)?.state;
      if (rec.state === was) continue;
      if (rec.state === 'Firing') this.deps.events.event(obj, 'Warning', AlertReasons.AlertFiring, `rule ${rec.identity.rule} fires for ${rec.identity.target}: ${rec.message ?? ''}`.slice(0, 1024));
      if (rec.state === 'Resolved' && was === 'Firing') this.deps.events.event(obj, 'Normal', AlertReasons.AlertResolved, `rule ${rec.identity.rule} resolved for ${rec.identity.target}`);
    }
  }

  private updateMetrics(namespace: string, name: string, records: Map<string, AlertRecord>, mem: Memory): void {
    const counts = new Map<string, number>();
    for (const rec of records.values()) if (rec.state === 'Firing') counts.set(rec.identity.rule, (counts.get(rec.identity.rule) ?? 0) + 1);
    this.deps.metrics.setFiring(namespace, name, counts, mem.firingRules);
    mem.firingRules = new Set(counts.keys());
  }
}

function annotationsOf(rec: AlertRecord): Record<string, string> {
  return { summary: rec.message ?? `${rec.identity.rule} on ${rec.identity.target}` };
}

/** One line for a rule: the first target whose condition holds, else how many are fine. */
function ruleMessage(evaluations: Map<string, { active: boolean | undefined; message: string }>): string {
  const active = [...evaluations].filter(([, e]) => e.active);
  if (active.length > 0) return `${active[0]![0]}: ${active[0]![1].message}${active.length > 1 ? ` (and ${active.length - 1} more)` : ''}`;
  const unknown = [...evaluations].filter(([, e]) => e.active === undefined);
  if (unknown.length > 0) return `${unknown[0]![0]}: ${unknown[0]![1].message}`;
  return `${evaluations.size} target${evaluations.size === 1 ? '' : 's'} fine`;
}

export type { Rule };
