// Labels, fingerprints and group keys, as Alertmanager has them: an alert is a set of labels; its
// fingerprint is a hash of them (the same labels always give the same alert, across restarts and
// controller replicas); a group is the alerts sharing the values of the groupBy labels.
import { createHash } from 'node:crypto';

export type RuleType = 'containerDown' | 'restartLooping' | 'certificateExpiring' | 'httpProbe' | 'errorRate';
export type GroupByLabel = 'rule' | 'severity' | 'target';

export interface AlertIdentity {
  namespace: string;
  /** The Alert object's name. */
  alert: string;
  rule: string;
  type: RuleType;
  severity: string;
  /** kind/name[/machine] or the probe URL. */
  target: string;
}

export function alertLabels(id: AlertIdentity): Record<string, string> {
  return {
    alertname: id.rule,
    alert: id.alert,
    namespace: id.namespace,
    severity: id.severity.toLowerCase(),
    target: id.target,
    type: id.type,
  };
}

/** 16 hex digits over the sorted labels (Alertmanager's fingerprints are 64-bit, shown as 16 hex). */
export function fingerprintOf(labels: Record<string, string>): string {
  const h = createHash('sha256');
  for (const k of Object.keys(labels).sort()) h.update(`${k}\u0000${labels[k]}\u0001`);
  return h.digest('hex').slice(0, 16);
}

/** `{rule="x",target="y"}` (empty groupBy: `{}`), the group part of a group key. */
export function groupLabelsKey(groupBy: readonly GroupByLabel[], id: Pick<AlertIdentity, 'rule' | 'severity' | 'target'>): string {
  const value = (l: GroupByLabel) => (l === 'rule' ? id.rule : l === 'severity' ? id.severity.toLowerCase() : id.target);
  return `{${[...groupBy].sort().map((l) => `${l}=${JSON.stringify(value(l))}`).join(',')}}`;
}

/** The labels a group key stands for (for notifications' groupLabels). */
export function groupLabelsOf(groupBy: readonly GroupByLabel[], labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of groupBy) {
    const name = l === 'rule' ? 'alertname' : l;
    if (labels[name] !== undefined) out[name] = labels[name]!;
  }
  return out;
}

/** A firing alert as the notification log remembers it: fingerprint, and its stage when it has one. */
export const firingId = (fingerprint: string, stage?: string): string => (stage ? `${fingerprint}@${stage}` : fingerprint);
export const fingerprintOfId = (id: string): string => id.split('@')[0]!;
