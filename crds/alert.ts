// Alert: rules watched by the controller (containers down or restart-looping, certificates about
// to expire, HTTP probes failing, 5xx rates too high) and the receivers told when they fire.
import { z } from 'zod';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { KindDefinition } from './kind.ts';
import {
  address,
  countSet,
  dnsLabel,
  duration,
  email,
  exactlyOneCel,
  listMap,
  listSet,
  objectName,
  port,
  secretKeyRef,
  statusSchema,
  text,
  timestamp,
  withRules,
} from './common.ts';
import { labWithMachine, secretRefTo, type ReferableKind, type Reference } from './references.ts';

const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const URL_HOST = `(${LABEL}\\.)*[a-z]([-a-z0-9]*[a-z0-9])?|[0-9]{1,3}(\\.[0-9]{1,3}){3}|\\[[0-9A-Fa-f:]+\\]`;
/** http(s) URL without credentials: scheme, host, optional port, path and query. */
export const PROBE_URL = new RegExp(
  `^https?://(${URL_HOST})(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$`,
);
/** Probe URLs the controller must never fetch: link-local, unspecified and cloud metadata hosts. */
export const FORBIDDEN_PROBE_URL =
  /^https?:\/\/(169\.254\.[0-9.]*|0+(\.0+){0,3}|100\.100\.100\.200|\[[fF][eE][89aAbB][0-9a-fA-F]:[0-9A-Fa-f:]*\]|\[[0:]*\]|\[[fF][dD]00:[eE][cC]2::254\]|metadata|metadata\.google\.internal|metadata\.azure\.internal|instance-data|instance-data\.ec2\.internal)([:/?].*)?$/;
const SLACK_CHANNEL = /^[#@]?[a-z0-9][a-z0-9._-]*$/;
/** An HTTP header name (a subset of RFC 9110 token characters). */
const HEADER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
/** A header value: printable ASCII without quotes, backslash or control characters (no header injection). */
const HEADER_VALUE = /^[A-Za-z0-9 _.,:/=+*!?@%&()<>[\]^|~#;-]*$/;
const RESERVED_HEADERS = new Set(['authorization', 'content-type', 'idempotency-key', 'content-length', 'host']);

function targets<K extends readonly [string, ...string[]]>(kinds: K, what: string) {
  const target = withRules(
    z
      .strictObject({
        kind: z.enum(kinds).describe(`Kind of the target: ${kinds.join(' or ')}.`),
        name: objectName().describe('Name of the target in the same namespace.'),
        machine: dnsLabel().optional().describe('For a Lab: one machine of it (default: all of its machines).'),
      })
      .describe(`A ${kinds.join(' or ')} in the same namespace.`),
    [
      {
        rule: "!has(self.machine) || self.kind == 'Lab'",
        message: 'machine applies only to a Lab target',
        fieldPath: '.machine',
        holds: (t) => t.machine === undefined || t.kind === 'Lab',
      },
    ],
  );
  return z.array(target).min(1).max(32).describe(what);
}

const containerKinds = ['Workspace', 'Lab'] as const;

const rule = withRules(
  z
    .strictObject({
      name: dnsLabel().describe('Rule name, unique in the Alert; shown in notifications and status.'),
      for: duration()
        .default('0s')
        .describe('How long the condition must hold before the rule fires (pending until then), such as 2m. Default 0s: fire at once.'),
      severity: z.enum(['Critical', 'Warning', 'Info']).default('Warning').describe('Critical, Warning (default) or Info, shown in notifications.'),
      receivers: listSet(dnsLabel(), 16)
        .optional()
        .describe('Names of receivers in spec.receivers to notify (default: all of them).'),
      containerDown: z.strictObject({ targets: targets(containerKinds, 'Workspaces or Labs whose containers must be running.') })
        .optional()
        .describe('Fires while a target\'s container is not running although its spec says it should be.'),
      restartLooping: z
        .strictObject({
          targets: targets(containerKinds, 'Workspaces or Labs whose containers are watched.'),
          restarts: z.number().int().min(1).max(1000).default(3).describe('Restarts within window that count as a loop (default 3).'),
          window: duration().default('10m').describe('Window the restarts are counted over (default 10m).'),
        })
        .optional()
        .describe('Fires while a target\'s container restarts too often.'),
      certificateExpiring: z
        .strictObject({
          targets: targets(['ProxyRoute', 'Secret'] as const, 'ProxyRoutes (their served certificate) or kubernetes.io/tls Secrets.'),
          withinDays: z.number().int().min(1).max(365).default(14).describe('Fire when the certificate expires within this many days (default 14).'),
          renotifyAtDays: listSet(z.number().int().min(1).max(365), 8)
            .default([7, 3])
            .describe('While firing, notify again as soon as the expiry comes within each of these many days (default 7 and 3), besides repeatInterval.'),
        })
        .optional()
        .describe('Fires while a certificate is about to expire (or has expired).'),
      httpProbe: withRules(
        z
          .strictObject({
            url: withRules(
              text(2048, PROBE_URL, 'must be an http or https URL without credentials, such as https://app.example.com/healthz').describe(
                'URL to request, from the controller\'s network. No user:password in it.',
              ),
              [
                {
                  rule: `!self.matches(${JSON.stringify(FORBIDDEN_PROBE_URL.source)})`,
                  message: 'must not point at a link-local, unspecified or cloud metadata address',
                  holds: (u) => !FORBIDDEN_PROBE_URL.test(u),
                },
              ],
            ),
            method: z.enum(['GET', 'HEAD']).default('GET').describe('GET (default) or HEAD.'),
            expectedStatus: z
              .strictObject({
                min: z.number().int().min(100).max(599).default(200).describe('Lowest acceptable status (default 200).'),
                max: z.number().int().min(100).max(599).default(399).describe('Highest acceptable status (default 399).'),
              })
              .default({ min: 200, max: 399 })
              .describe('Range of HTTP status codes that count as success.'),
            interval: duration().default('30s').describe('Time between probes (default 30s).'),
            timeout: duration().default('5s').describe('Time a probe may take (default 5s).'),
            insecureSkipVerify: z.boolean().default(false).describe('Do not verify the server certificate (a failing certificate otherwise fails the probe).'),
          })
          .describe('Fires while requests to the URL fail, time out or return a status outside expectedStatus.'),
        [
          {
            rule: 'self.expectedStatus.min <= self.expectedStatus.max',
            message: 'expectedStatus.min must not be greater than expectedStatus.max',
            fieldPath: '.expectedStatus',
            holds: (p) => p.expectedStatus.min <= p.expectedStatus.max,
          },
        ],
      ).optional(),
      errorRate: z
        .strictObject({
          targets: targets(['ProxyRoute'] as const, 'ProxyRoutes whose responses are counted (from the nginx access log on their Host).'),
          thresholdPercent: z.number().min(0).max(100).describe('Fire when more than this percentage of responses in window are 5xx.'),
          window: duration().default('5m').describe('Window the rate is computed over (default 5m).'),
          minRequests: z.number().int().min(1).max(1000000).default(20).describe('Fewer requests than this in window never fire (default 20).'),
        })
        .optional()
        .describe('Fires while the share of 5xx responses is over a threshold.'),
    })
    .describe('One alerting rule: exactly one of containerDown, restartLooping, certificateExpiring, httpProbe or errorRate.'),
  [
    {
      rule: exactlyOneCel(['containerDown', 'restartLooping', 'certificateExpiring', 'httpProbe', 'errorRate']),
      message: 'set exactly one of containerDown, restartLooping, certificateExpiring, httpProbe or errorRate in each rule',
      holds: (r) => countSet(r.containerDown, r.restartLooping, r.certificateExpiring, r.httpProbe, r.errorRate) === 1,
    },
  ],
);

const webhookHeader = z
  .strictObject({
    name: text(128, HEADER_NAME, 'must be an HTTP header name: letters, digits and "-"').describe('Header name.'),
    value: text(1024, HEADER_VALUE, 'may hold only printable characters without quotes, backslash or control characters').describe('Header value (not a secret: use authorizationSecretRef for credentials).'),
  })
  .describe('An extra header sent with every notification.');

const receiver = withRules(
  z
    .strictObject({
      name: dnsLabel().describe('Receiver name, unique in the Alert.'),
      smtp: z
        .strictObject({
          address: address().describe('Host name or IP address of the SMTP server.'),
          port: port().default(587).describe('SMTP port (default 587).'),
          security: z
            .enum(['StartTLS', 'TLS', 'None'])
            .default('StartTLS')
            .describe('StartTLS (default, usually port 587), TLS (implicit, usually port 465) or None (a trusted local relay only).'),
          from: email().describe('Sender address.'),
          to: listSet(email(), 32).min(1).describe('Recipient addresses.'),
          username: text(256, /^[A-Za-z0-9._@+-]+$/, 'may hold only letters, digits and . _ @ + -').optional().describe('User name for SMTP authentication.'),
          passwordSecretRef: secretKeyRef().optional().describe('Password for SMTP authentication, from a Secret in the same namespace.'),
        })
        .optional()
        .describe('Send e-mail through an SMTP server.'),
      slack: z
        .strictObject({
          urlSecretRef: secretKeyRef('url').describe('The Slack incoming webhook URL, from a Secret in the same namespace (default key url): the URL itself is a credential.'),
          channel: text(80, SLACK_CHANNEL, 'must be a Slack channel name such as #ops').optional().describe('Channel override, such as #ops (default: the webhook\'s channel).'),
        })
        .optional()
        .describe('Post to Slack through an incoming webhook.'),
      webhook: z
        .strictObject({
          urlSecretRef: secretKeyRef('url').describe('URL to POST the notification (JSON) to, from a Secret in the same namespace (default key url).'),
          authorizationSecretRef: secretKeyRef()
            .optional()
            .describe('Value of the Authorization header (for example "Bearer ..."), from a Secret in the same namespace.'),
          headers: listMap(webhookHeader, ['name'], 16)
            .optional()
            .describe('Extra headers (not Authorization, Content-Type or Idempotency-Key, which Outrigger sets).'),
        })
        .optional()
        .describe('POST an Alertmanager-compatible JSON notification (version 4) to a URL, with an Idempotency-Key header.'),
      alertmanager: z
        .strictObject({
          url: withRules(
            text(2048, PROBE_URL, 'must be an http or https URL without credentials, such as https://alertmanager.example.com').describe(
              'Base URL of an existing Alertmanager; alerts are pushed to its /api/v2/alerts.',
            ),
            [
              {
                rule: `!self.matches(${JSON.stringify(FORBIDDEN_PROBE_URL.source)})`,
                message: 'must not point at a link-local, unspecified or cloud metadata address',
                holds: (u) => !FORBIDDEN_PROBE_URL.test(u),
              },
            ],
          ),
          authorizationSecretRef: secretKeyRef()
            .optional()
            .describe('Value of the Authorization header, from a Secret in the same namespace.'),
        })
        .optional()
        .describe('Push alerts to an Alertmanager you already run (it groups and routes them itself).'),
    })
    .describe('Where notifications go: exactly one of smtp, slack, webhook or alertmanager.'),
  [
    {
      rule: exactlyOneCel(['smtp', 'slack', 'webhook', 'alertmanager']),
      message: 'set exactly one of smtp, slack, webhook or alertmanager in each receiver',
      holds: (r) => countSet(r.smtp, r.slack, r.webhook, r.alertmanager) === 1,
    },
    {
      rule: "!has(self.webhook) || !has(self.webhook.headers) || self.webhook.headers.all(h, !(h.name.lowerAscii() in ['authorization', 'content-type', 'idempotency-key', 'content-length', 'host']))",
      message: 'webhook.headers must not set Authorization, Content-Type, Idempotency-Key, Content-Length or Host',
      fieldPath: '.webhook.headers',
      holds: (r) => (r.webhook?.headers ?? []).every((h) => !RESERVED_HEADERS.has(h.name.toLowerCase())),
    },
  ],
);

export const alertSpecSchema = withRules(
  z
    .strictObject({
      rules: listMap(rule, ['name'], 64).min(1).describe('The rules to evaluate.'),
      receivers: listMap(receiver, ['name'], 16).min(1).describe('Where notifications go.'),
      groupBy: listSet(z.enum(['rule', 'severity', 'target']), 3)
        .optional()
        .describe('Labels that split the Alert\'s alerts into notification groups: rule, severity, target (default: none, one group per receiver, as Alertmanager\'s default).'),
      groupWait: duration().default('30s').describe('How long to wait after the first rule fires before notifying, to send rules firing together in one notification (default 30s).'),
      groupInterval: duration().default('5m').describe('How long to wait before notifying about new or resolved alerts of a group already notified (default 5m).'),
      repeatInterval: duration().default('4h').describe('How often to repeat a notification while rules keep firing (default 4h).'),
      sendResolved: z.boolean().default(true).describe('Also notify when a firing rule resolves (default true).'),
    })
    .describe('Desired state of an Alert.'),
  [
    {
      rule: 'self.rules.all(r, !has(r.receivers) || r.receivers.all(n, self.receivers.exists(x, x.name == n)))',
      message: 'rule receivers must name receivers in spec.receivers',
      fieldPath: '.rules',
      holds: (s) => s.rules.every((r) => (r.receivers ?? []).every((n) => s.receivers.some((x) => x.name === n))),
    },
  ],
);

const alertState = z.enum(['Pending', 'Firing', 'Resolved']);

export const alertStatusSchema = statusSchema('Observed state of an Alert.', {
  rules: z
    .array(
      z
        .strictObject({
          name: text(63).describe('Rule name.'),
          state: z.enum(['Ok', 'Pending', 'Firing']).optional().describe('Ok, Pending (condition holds, waiting for the for duration) or Firing.'),
          since: timestamp().optional().describe('When the rule entered its current state.'),
          lastEvaluationTime: timestamp().optional().describe('When the rule was last evaluated.'),
          firingTargets: z.array(text(2048)).max(32).optional().describe('Targets for which the condition holds, as kind/name[/machine] or the probe URL.'),
          message: text(4096).optional().describe('What the last evaluation saw.'),
        })
        .describe('State of one rule.'),
    )
    .max(64)
    .optional()
    .describe('Per-rule state.'),
  alerts: z
    .array(
      z
        .strictObject({
          fingerprint: text(16).describe('Stable identity of the alert: a hash of its labels (as Alertmanager computes one).'),
          rule: text(63).describe('Rule name.'),
          type: z.enum(['containerDown', 'restartLooping', 'certificateExpiring', 'httpProbe', 'errorRate']).describe('The rule\'s condition.'),
          severity: z.enum(['Critical', 'Warning', 'Info']).describe('The rule\'s severity when the alert started.'),
          target: text(2048).describe('What the rule watched: kind/name[/machine] or the probe URL.'),
          state: alertState.describe('Pending (waiting for the rule\'s for), Firing, or Resolved (kept until the resolve is notified).'),
          activeAt: timestamp().describe('When the condition started to hold.'),
          firingAt: timestamp().optional().describe('When it fired.'),
          resolvedAt: timestamp().optional().describe('When it resolved.'),
          stage: text(32).optional().describe('A step of a firing alert that is notified again (a certificate within 7 days, then 3).'),
          inhibited: z.boolean().optional().describe('Not notified: its target is down (containerDown fires for it).'),
          silenced: z.boolean().optional().describe('Not notified: a silence annotation covers it.'),
          message: text(1024).optional().describe('What the evaluation saw.'),
        })
        .describe('One alert: a rule and one of its targets, while not Ok.'),
    )
    .max(2048)
    .optional()
    .describe('Alerts that are pending, firing, or resolved and not yet notified. The notification state below refers to them.'),
  notifications: z
    .array(
      z
        .strictObject({
          receiver: text(63).describe('Receiver name.'),
          group: text(512).describe('Group key: the groupBy labels (empty: the whole Alert).'),
          groupSince: timestamp().optional().describe('When the group got its first firing alert (group_wait counts from here).'),
          nextFlushAt: timestamp().optional().describe('When the group is next looked at for a notification.'),
          flushedAt: timestamp().optional().describe('When the group was last looked at.'),
          sentAt: timestamp().optional().describe('When the last notification of this group went out.'),
          key: text(64).optional().describe('Idempotency key of the last notification sent.'),
          firing: z.array(text(64)).max(2048).optional().describe('Fingerprints (with stage) the last notification told as firing.'),
          resolved: z.array(text(16)).max(2048).optional().describe('Fingerprints the last notification told as resolved.'),
          pending: z
            .strictObject({
              key: text(64).describe('Idempotency key, reused by every attempt.'),
              since: timestamp().describe('When this notification was decided.'),
              firing: z.array(text(64)).max(2048).optional().describe('Fingerprints (with stage) it tells as firing.'),
              resolved: z.array(text(16)).max(2048).optional().describe('Fingerprints it tells as resolved.'),
              attempts: z.number().int().min(0).optional().describe('Delivery attempts so far.'),
            })
            .optional()
            .describe('A notification decided but not confirmed delivered: written before the first attempt, so a restart sends it (with the same key) instead of losing it.'),
        })
        .describe('The notification log of one group and receiver (what was sent, when, its key).'),
    )
    .max(512)
    .optional()
    .describe('Notification log and outbox, per group and receiver.'),
  receivers: z
    .array(
      z
        .strictObject({
          name: text(63).describe('Receiver name.'),
          lastNotificationTime: timestamp().optional().describe('When the last notification was sent.'),
          lastAttemptTime: timestamp().optional().describe('When delivery was last tried.'),
          lastResult: z.enum(['Succeeded', 'Failed']).optional().describe('Whether the last delivery succeeded.'),
          reason: text(64).optional().describe('Why the last delivery failed, as a reason code.'),
          message: text(4096).optional().describe('Why the last delivery failed (never secret values or URLs).'),
          sent: z.number().int().min(0).optional().describe('Notifications delivered.'),
        })
        .describe('Delivery state of one receiver.'),
    )
    .max(16)
    .optional()
    .describe('Per-receiver delivery state.'),
  silences: z
    .array(
      z
        .strictObject({
          rule: text(63).optional().describe('The silenced rule (absent: every rule).'),
          until: text(64).describe('When the silence ends.'),
          active: z.boolean().describe('Whether it silences now (false: expired, or the value is not a time).'),
          comment: text(256).optional().describe('The text after the time in the annotation.'),
        })
        .describe('A silence from an annotation.'),
    )
    .max(65)
    .optional()
    .describe('Silences read from the annotations outrigger.dev/silence-until and silence.outrigger.dev/<rule>.'),
  firingCount: z.number().int().min(0).optional().describe('Number of rules firing.'),
});

export type AlertSpec = z.infer<typeof alertSpecSchema>;
export type AlertStatus = z.infer<typeof alertStatusSchema>;
export interface Alert {
  apiVersion: 'outrigger.dev/v1alpha1';
  kind: 'Alert';
  metadata: V1ObjectMeta;
  spec: AlertSpec;
  status?: AlertStatus;
}

const ALERT_TARGET_RULES = ['containerDown', 'restartLooping', 'certificateExpiring', 'errorRate'] as const;

/** What an Alert names: the objects its rules watch and the Secrets its receivers use. */
export function alertReferences(spec: AlertSpec): Reference[] {
  const refs: Reference[] = [];
  spec.rules.forEach((rule, i) => {
    for (const type of ALERT_TARGET_RULES) {
      const targets = (rule[type] as { targets?: Array<{ kind: string; name: string; machine?: string }> } | undefined)?.targets ?? [];
      targets.forEach((t, j) => {
        const field = `spec.rules[${i}].${type}.targets[${j}]`;
        const check = t.kind === 'Lab' && t.machine ? labWithMachine(t.name, t.machine) : undefined;
        refs.push({ field, kind: t.kind as ReferableKind, name: t.name, ...(t.machine ? { detail: t.machine } : {}), ...(check ? { check } : {}) });
      });
    }
  });
  (spec.receivers ?? []).forEach((r, i) => {
    refs.push(...secretRefTo(`spec.receivers[${i}].smtp.passwordSecretRef`, r.smtp?.passwordSecretRef));
    refs.push(...secretRefTo(`spec.receivers[${i}].slack.urlSecretRef`, r.slack?.urlSecretRef));
    refs.push(...secretRefTo(`spec.receivers[${i}].webhook.urlSecretRef`, r.webhook?.urlSecretRef));
    refs.push(...secretRefTo(`spec.receivers[${i}].webhook.authorizationSecretRef`, r.webhook?.authorizationSecretRef));
    refs.push(...secretRefTo(`spec.receivers[${i}].alertmanager.authorizationSecretRef`, r.alertmanager?.authorizationSecretRef));
  });
  return refs;
}

export const alertKind: KindDefinition<typeof alertSpecSchema, typeof alertStatusSchema> = {
  kind: 'Alert',
  plural: 'alerts',
  singular: 'alert',
  listKind: 'AlertList',
  shortNames: ['oalert'],
  description:
    'An Alert watches rules (containers down or restart-looping, certificates expiring, HTTP probes failing, 5xx rates over a threshold) and notifies receivers (SMTP, Slack, webhooks) when they fire and resolve.',
  spec: alertSpecSchema,
  status: alertStatusSchema,
  references: alertReferences,
  printerColumns: [
    { name: 'Firing', type: 'integer', jsonPath: '.status.firingCount', description: 'Rules firing.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition.' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
};
