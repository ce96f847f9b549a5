// The admission webhook as an express app, built by a factory and never bound to a socket here:
// tests POST AdmissionReviews to it in-process, webhooks/server.ts serves it over TLS.
//
//   POST /validate   validating webhook for every Outrigger kind
//   POST /mutate     defaulting (mutating) webhook for every Outrigger kind
//   GET  /healthz    the process is alive
//   GET  /readyz     a serving certificate is loaded (the TLS server can answer)
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../controller/logger.ts';
import { silentLogger } from '../controller/logger.ts';
import { mutateRequest, validateRequest } from './admit.ts';
import type { ObjectLookup } from './lookup.ts';
import { WebhookMetrics } from './metrics.ts';
import { MalformedReviewError, parseReview, reviewOf, type AdmissionRequest, type AdmissionResponse } from './review.ts';

export interface WebhookAppOptions {
  lookup: ObjectLookup;
  logger?: Logger;
  metrics?: WebhookMetrics;
  /** Whether the server has a certificate to serve with (default: always ready). */
  ready?: () => boolean;
  /** Budget for the lookups of one request (kube-apiserver waits at most timeoutSeconds). */
  lookupTimeoutMs?: number;
}

/** Objects up to etcd's 1.5 MiB arrive twice (object and oldObject) plus the envelope. */
const BODY_LIMIT = '4mb';

type Handler = (request: AdmissionRequest, signal: AbortSignal) => AdmissionResponse | Promise<AdmissionResponse>;

export function createWebhookApp(opts: WebhookAppOptions): express.Express {
  const log = opts.logger ?? silentLogger;
  const metrics = opts.metrics ?? new WebhookMetrics();
  const timeoutMs = opts.lookupTimeoutMs ?? 5_000;
  const app = express();
  app.disable('x-powered-by');

  const admission = (path: string, handler: Handler) => {
    app.post(path, express.json({ limit: BODY_LIMIT, type: () => true }), async (req: Request, res: Response) => {
      const stop = metrics.latency.startTimer({ webhook: path });
      metrics.inFlight.inc({ webhook: path });
      let code = 200;
      try {
        const request = parseReview(req.body);
        const response = await handler(request, AbortSignal.timeout(timeoutMs));
        if (!response.allowed) {
          log.info({ webhook: path, kind: request.kind.kind, namespace: request.namespace, name: request.name, operation: request.operation, user: request.userInfo?.username, reason: response.status?.message }, 'denied');
        }
        res.json(reviewOf(response));
      } catch (err) {
        code = err instanceof MalformedReviewError ? 400 : 500;
        if (code === 500) log.error({ webhook: path, err: err instanceof Error ? err.message : String(err) }, 'admission failed');
        res.status(code).type('text/plain').send(err instanceof Error ? err.message : 'internal error');
      } finally {
        metrics.requests.inc({ webhook: path, code: String(code) });
        metrics.inFlight.dec({ webhook: path });
        stop();
      }
    });
  };

  admission('/validate', (request, signal) => validateRequest(request, { lookup: opts.lookup, signal }));
  admission('/mutate', (request) => mutateRequest(request));

  app.get('/healthz', (_req, res) => { res.type('text/plain').send('ok'); });
  app.get('/readyz', (_req, res) => {
    if (opts.ready?.() ?? true) res.type('text/plain').send('ok');
    else res.status(503).type('text/plain').send('no serving certificate yet');
  });

  // Body-parser errors (invalid JSON, too large) as plain 4xx answers, never a stack trace.
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    metrics.requests.inc({ webhook: _req.path, code: String(status) });
    res.status(status).type('text/plain').send(status === 413 ? `AdmissionReview larger than ${BODY_LIMIT}` : 'the body must be an AdmissionReview JSON object');
  });
  return app;
}

/** The metrics endpoint, on the plain-HTTP health port (not on the TLS webhook port). */
export function createWebhookMetricsApp(metrics: WebhookMetrics, ready: () => boolean): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => { res.type('text/plain').send('ok'); });
  app.get('/readyz', (_req, res) => {
    if (ready()) res.type('text/plain').send('ok');
    else res.status(503).type('text/plain').send('no serving certificate yet');
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return app;
}
