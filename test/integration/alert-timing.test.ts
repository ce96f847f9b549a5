// Alert timing and bad input on a fake clock against the real kube-apiserver: a certificate in a
// Secret fires 30 days before it expires and is notified again at 7 and 3 days (not in between);
// `for` keeps a rule Pending; a silence annotation mutes a rule until it expires, shown in
// status; a target that does not exist is Ready=False naming it and evaluated once it appears;
// malformed receiver settings are refused by the API server (the CRD's schema) before anything runs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import { controlPlaneSkipReason } from '../fixtures/controlplane.ts';
import { alertingSkipReason, startHttpReceiver, type HttpReceiver } from '../fixtures/alerting.ts';
import { waitFor } from '../fixtures/wait.ts';
import { alertObject, readyOf, secret, startAlertHarness, type AlertHarness } from './alert-harness.ts';
import { assertCataloguedReasons } from './reasons-check.ts';

const skip = controlPlaneSkipReason() ?? alertingSkipReason();
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const DAY = 24 * H;

function pem(notAfter: Date): string {
  const keys = forge.pki.rsa.generateKeyPair(1024);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '77';
  cert.validity.notBefore = new Date(notAfter.getTime() - 90 * DAY);
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: 'app.example.com' }]);
  cert.setIssuer([{ name: 'commonName', value: 'app.example.com' }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

describe('Alert timing and bad input (fake clock)', { skip }, () => {
  let h: AlertHarness;
  let hook: HttpReceiver;
  const start = Date.parse('2031-03-01T00:00:00Z');

  before(async () => {
    hook = await startHttpReceiver();
    h = await startAlertHarness({ prefix: 'alert-timing', startMs: start });
    await h.secrets.create(secret(h, 'hook', { url: `${hook.url}/hook` }));
  });
  after(async () => {
    await h?.stop();
    await hook?.stop();
  });

  const calls = (name: string) => hook.requests.filter((r) => (r.json as { groupKey?: string } | undefined)?.groupKey?.startsWith(`${h.ns.name}/${name}:`));
  const receivers = [{ name: 'hook', webhook: { urlSecretRef: { name: 'hook' } } }];

  it('a certificate fires within 30 days and is notified again at 7 and at 3 days, not in between', async () => {
    const notAfter = new Date(start + 31 * DAY);
    await h.secrets.create({ ...secret(h, 'app-tls', {}), type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(pem(notAfter)).toString('base64'), 'tls.key': '' } } as never);
    await h.alerts.create(alertObject(h, 'certs', {
      rules: [{ name: 'expiring', certificateExpiring: { targets: [{ kind: 'Secret', name: 'app-tls' }], withinDays: 30, renotifyAtDays: [7, 3] } }],
      receivers, groupWait: '30s', groupInterval: '5m', repeatInterval: '1000h',
    }));
    await waitFor(async () => (await h.alert('certs')).status?.rules?.[0]?.state === 'Ok', { description: 'the rule evaluated: Ok at 31 days' });
    const stages: Array<[number, string]> = [];
    // Step through the month a day at a time (each day: the threshold wake-up, then group flushes).
    for (let day = 1; day <= 30; day++) {
      await h.advance(DAY);
      await h.advance(30 * S);
      await h.advance(5 * M);
      for (const c of calls('certs').slice(stages.length)) {
        const alert = (c.json as { alerts: Array<{ annotations: { summary: string } }> }).alerts[0]!;
        stages.push([day, alert.annotations.summary]);
      }
    }
    assert.deepEqual(stages.map(([d]) => d), [1, 24, 28], `notified at 30, 7 and 3 days left: ${JSON.stringify(stages)}`);
    assert.match(stages[0]![1], /expires at 2031-04-01T00:00:00Z, in 29 days/);
    const s = (await h.alert('certs')).status!;
    assert.equal(s.alerts?.[0]?.stage, 'within-3d');
  });

  it('for: the rule stays Pending until it has held that long; a silence mutes it until it expires (shown in status)', async () => {
    const server = http.createServer((_q, r) => { r.writeHead(503); r.end(); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const until = new Date(h.clock.now() + 20 * M).toISOString();
      await h.alerts.create(alertObject(h, 'muted', {
        rules: [{ name: 'probe', httpProbe: { url, interval: '30s', timeout: '2s' }, for: '2m' }],
        receivers, groupWait: '10s', groupInterval: '1m',
      }, { 'silence.outrigger.dev/probe': `${until} planned maintenance` }));
      await waitFor(async () => (await h.alert('muted')).status?.rules?.[0]?.state === 'Pending', { description: 'Pending' });
      for (let i = 0; i < 3; i++) await h.advance(30 * S);
      assert.equal((await h.alert('muted')).status?.rules?.[0]?.state, 'Pending', 'not before 2m');
      await h.advance(30 * S);
      await h.advance(30 * S);
      const firing = (await h.alert('muted')).status!;
      assert.equal(firing.rules?.[0]?.state, 'Firing');
      assert.equal(firing.alerts?.[0]?.silenced, true);
      assert.deepEqual(firing.silences, [{ rule: 'probe', until, active: true, comment: 'planned maintenance' }]);
      for (let i = 0; i < 10; i++) await h.advance(M);
      assert.equal(calls('muted').length, 0, 'silenced: nothing sent');
      // The silence ends at 20 min: the firing alert is told at the next group flush.
      for (let i = 0; i < 10 && calls('muted').length === 0; i++) await h.advance(M);
      await waitFor(() => calls('muted').length === 1, { description: 'the notification once the silence ended' });
      const after = (await h.alert('muted')).status!;
      assert.equal(after.silences?.[0]?.active, false);
      assert.equal(after.alerts?.[0]?.silenced, undefined);
    } finally {
      await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
    }
  });

  it('a target that does not exist: Ready=False naming it; the rule starts when it appears; a missing receiver Secret is named too', async () => {
    await h.alerts.create(alertObject(h, 'ghosts', {
      rules: [{ name: 'cert', certificateExpiring: { targets: [{ kind: 'Secret', name: 'later-tls' }] } }],
      receivers: [{ name: 'hook', webhook: { urlSecretRef: { name: 'no-such-secret' } } }],
    }));
    const waiting = await waitFor(async () => {
      const a = await h.alert('ghosts');
      return readyOf(a)?.reason === 'TargetNotFound' ? a : undefined;
    }, { description: 'Ready=False TargetNotFound' });
    assert.equal(readyOf(waiting)?.status, 'False');
    assert.match(readyOf(waiting)?.message ?? '', /rule cert: Secret "later-tls" not found/);
    await h.secrets.create({ ...secret(h, 'later-tls', {}), type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(pem(new Date(h.clock.now() + 100 * DAY))).toString('base64'), 'tls.key': '' } } as never);
    const next = await waitFor(async () => {
      const a = await h.alert('ghosts');
      return readyOf(a)?.reason === 'ReceiverNotReady' ? a : undefined;
    }, { description: 'the target found; the receiver Secret named next' });
    assert.match(readyOf(next)?.message ?? '', /spec\.receivers\[0\]\.webhook\.urlSecretRef: Secret "no-such-secret" not found/);
    assert.equal(next.status?.rules?.[0]?.state, 'Ok');
    await h.secrets.create(secret(h, 'no-such-secret', { url: `${hook.url}/x` }));
    await waitFor(async () => readyOf(await h.alert('ghosts'))?.status === 'True', { description: 'Ready once everything exists' });
    await assertCataloguedReasons(h.rest, h.ns.name);
  });

  it('malformed receiver settings are refused by the API server, naming the field', async () => {
    const bad = (receiver: unknown) => h.cp.kubectl(['apply', '-n', h.ns.name, '-f', '-'], {
      input: JSON.stringify(alertObject(h, 'bad', { rules: [{ name: 'r', httpProbe: { url: 'https://example.com/' } }], receivers: [receiver] })),
    });
    const header = await bad({ name: 'w', webhook: { urlSecretRef: { name: 'x' }, headers: [{ name: 'X-A', value: 'ok\r\nInjected: yes' }] } });
    assert.notEqual(header.code, 0);
    assert.match(header.stderr, /spec\.receivers\[0\]\.webhook\.headers\[0\]\.value/);
    const reserved = await bad({ name: 'w', webhook: { urlSecretRef: { name: 'x' }, headers: [{ name: 'Authorization', value: 'Bearer x' }] } });
    assert.notEqual(reserved.code, 0);
    assert.match(reserved.stderr, /must not set Authorization/);
    const amUrl = await bad({ name: 'a', alertmanager: { url: 'http://user:pw@am.example.com' } });
    assert.notEqual(amUrl.code, 0);
    assert.match(amUrl.stderr, /spec\.receivers\[0\]\.alertmanager\.url/);
    const metadata = await bad({ name: 'a', alertmanager: { url: 'http://169.254.169.254/' } });
    assert.notEqual(metadata.code, 0);
    assert.match(metadata.stderr, /link-local, unspecified or cloud metadata/);
  });
});
