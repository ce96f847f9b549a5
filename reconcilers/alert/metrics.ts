// What Grafana shows of Outrigger's alerting: firing alerts per Alert and rule, and notifications
// sent and failed per receiver type (Alertmanager's metric shapes, under Outrigger's prefix).
import { Counter, Gauge, type Registry } from 'prom-client';

export class AlertMetrics {
  readonly firing: Gauge<'namespace' | 'alert' | 'rule'>;
  readonly sent: Counter<'integration'>;
  readonly failed: Counter<'integration' | 'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.firing = new Gauge({ name: 'outrigger_alerts_firing', help: 'Firing alerts (rule and target pairs) per Alert and rule', labelNames: ['namespace', 'alert', 'rule'], registers });
    this.sent = new Counter({ name: 'outrigger_notifications_total', help: 'Notifications delivered, per receiver type', labelNames: ['integration'], registers });
    this.failed = new Counter({ name: 'outrigger_notifications_failed_total', help: 'Failed notification delivery attempts, per receiver type and reason', labelNames: ['integration', 'reason'], registers });
  }

  setFiring(namespace: string, alert: string, counts: Map<string, number>, previousRules: Iterable<string>): void {
    for (const rule of previousRules) if (!counts.has(rule)) this.firing.remove({ namespace, alert, rule });
    for (const [rule, n] of counts) this.firing.set({ namespace, alert, rule }, n);
  }

  forget(namespace: string, alert: string, rules: Iterable<string>): void {
    for (const rule of rules) this.firing.remove({ namespace, alert, rule });
  }
}
