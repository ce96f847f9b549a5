// What a notification says, in every receiver's format: the Alertmanager webhook body (version 4:
// status, groupKey, labels, annotations, startsAt/endsAt, fingerprint), a Slack message, a mail,
// and the alerts Alertmanager's API takes. Pure.

export interface NotifiedAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  /** Zero time while firing (Alertmanager's convention), the resolve time once resolved. */
  endsAt: string;
  fingerprint: string;
}

export interface Notification {
  receiver: string;
  /** `<namespace>/<alert>:<group labels>`. */
  groupKey: string;
  groupLabels: Record<string, string>;
  alerts: NotifiedAlert[];
  /** Idempotency key: the same for every attempt of this notification. */
  key: string;
  /** Where a user can look (the Alert as kubectl names it). */
  source: string;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

function common(values: Array<Record<string, string>>): Record<string, string> {
  if (values.length === 0) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values[0]!)) if (values.every((x) => x[k] === v)) out[k] = v;
  return out;
}

export const firingCount = (n: Notification): number => n.alerts.filter((a) => a.status === 'firing').length;
export const groupStatus = (n: Notification): 'firing' | 'resolved' => (firingCount(n) > 0 ? 'firing' : 'resolved');

/** The Alertmanager webhook payload, version 4. */
export function webhookBody(n: Notification): Record<string, unknown> {
  return {
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: 0,
    status: groupStatus(n),
    receiver: n.receiver,
    groupLabels: n.groupLabels,
    commonLabels: common(n.alerts.map((a) => a.labels)),
    commonAnnotations: common(n.alerts.map((a) => a.annotations)),
    externalURL: '',
    alerts: n.alerts.map((a) => ({ status: a.status, labels: a.labels, annotations: a.annotations, startsAt: a.startsAt, endsAt: a.endsAt, generatorURL: '', fingerprint: a.fingerprint })),
  };
}

/** `[FIRING:2] workspace-down (demo/quickstart)`. */
export function subject(n: Notification): string {
  const firing = firingCount(n);
  const names = [...new Set(n.alerts.map((a) => a.labels.alertname ?? ''))].filter(Boolean);
  const head = firing > 0 ? `[FIRING:${firing}]` : '[RESOLVED]';
  return `${head} ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''} (${n.source})`;
}

export function textBody(n: Notification): string {
  const lines: string[] = [subject(n), ''];
  for (const status of ['firing', 'resolved'] as const) {
    const alerts = n.alerts.filter((a) => a.status === status);
    if (alerts.length === 0) continue;
    lines.push(status === 'firing' ? `Firing (${alerts.length}):` : `Resolved (${alerts.length}):`);
    for (const a of alerts) {
      lines.push(`- ${a.labels.alertname} on ${a.labels.target} [${a.labels.severity}] since ${a.startsAt}${status === 'resolved' ? `, resolved ${a.endsAt}` : ''}`);
      if (a.annotations.summary) lines.push(`  ${a.annotations.summary}`);
    }
    lines.push('');
  }
  lines.push(`kubectl describe alert -n ${n.source.replace('/', ' ')}`);
  return `${lines.join('\n')}\n`;
}

export function slackBody(n: Notification, channel?: string): Record<string, unknown> {
  return { ...(channel ? { channel } : {}), text: textBody(n).trimEnd() };
}

/** The alerts as Alertmanager's POST /api/v2/alerts takes them; firing ones valid for `validMs`. */
export function alertmanagerAlerts(n: Notification, now: number, validMs: number): Array<Record<string, unknown>> {
  return n.alerts.map((a) => ({
    labels: a.labels,
    annotations: a.annotations,
    startsAt: a.startsAt,
    endsAt: a.status === 'resolved' ? a.endsAt : new Date(now + validMs).toISOString(),
    generatorURL: '',
  }));
}
