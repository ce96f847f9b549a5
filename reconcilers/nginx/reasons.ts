// Reasons the nginx layer reports (host-level apply failures and per-route outcomes).
import { defineReasons } from '../../controller/reasons.ts';

export const NginxReasons = defineReasons('nginx', {
  NginxNotFound: 'spec.nginx is set but nginx does not run on the host: install it or fix spec.nginx.testCommand',
  NginxConfigBroken: "The host's nginx configuration fails `nginx -t` without any Outrigger route: fix it on the host",
  NginxConfigUnstable: "The host's nginx configuration changed while Outrigger applied routes; retried",
  NginxReloadFailed: 'nginx refused to reload the validated configuration; the previous one stays live',
  NginxApplyFailed: 'Applying routes to the host failed; the previous configuration stays live and the apply is retried',
  NginxVerifyFailed: 'The applied configuration could not be confirmed as live; retried',
  UpstreamRejected: 'An upstream address was refused (not allowed, or resolving to a forbidden address)',
  Quarantined: 'nginx rejected this route alone: it is left out (others are served) until its spec changes or the retry',
});
