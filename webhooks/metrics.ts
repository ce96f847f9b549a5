// Webhook metrics under controller-runtime's names, so its dashboards show Outrigger's webhook too.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class WebhookMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'webhook' | 'code'>;
  readonly latency: Histogram<'webhook'>;
  readonly inFlight: Gauge<'webhook'>;
  /** Seconds until the serving certificate expires (alert before it does). */
  readonly certificateExpiry: Gauge;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'controller_runtime_webhook_requests_total', help: 'Total number of admission requests by HTTP status code.', labelNames: ['webhook', 'code'], registers });
    this.latency = new Histogram({ name: 'controller_runtime_webhook_latency_seconds', help: 'Histogram of the latency of processing admission requests', labelNames: ['webhook'], registers, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    this.inFlight = new Gauge({ name: 'controller_runtime_webhook_requests_in_flight', help: 'Current number of admission requests being served.', labelNames: ['webhook'], registers });
    this.certificateExpiry = new Gauge({ name: 'outrigger_webhook_certificate_expiry_seconds', help: 'Seconds until the serving certificate expires.', registers });
  }
}
