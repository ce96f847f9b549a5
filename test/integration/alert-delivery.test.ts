// Alerts delivered to real receivers, on a fake clock against the real kube-apiserver: Mailpit
// (STARTTLS required, a password), Alertmanager (pushed alerts), and HTTP receivers for the
// webhook and Slack contracts. One notification per group per receiver, after group_wait; nothing
// more until something changes or repeat_interval passes; the resolve once; a controller restart
// neither re-sends nor forgets; failing receivers are retried (5xx, 429 after Retry-After, down
// for a minute) and deliver exactly once when they come back, a 4xx is not retried; SMTP with a
// wrong password or an unreachable server is per-receiver status, and the mail goes out once the
// password is fixed. No secret in status, events, logs or message bodies.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { controlPlaneSkipReason } from '../fixtures/controlplane.ts';
import { alertingSkipReason, startAlertmanager, startHttpReceiver, startMailpit, type Alertmanager, type HttpReceiver, type Mailpit } from '../fixtures/alerting.ts';
import { waitFor } from '../fixtures/wait.ts';
import { alertObject, readyOf, secret, startAlertHarness, type AlertHarness } from './alert-harness.ts';
import { assertCataloguedReasons } from './reasons-check.ts';

const skip = controlPlaneSkipReason() ?? alertingSkipReason();
const S = 1000;
const M = 60 * S;

/** A probe target whose answer the test sets. */
async function startTarget(): Promise<{ url: string; status: number; stop(): Promise<void> }> {
  const t = { status: 200, url: '', stop: async () => {} };
  const server = http.createServer((_req, res) => { res.writeHead(t.status); res.end(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
  t.stop = () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
  return t;
}

describe('Alert delivery to real receivers', { skip }, () => {
  let h: AlertHarness;
  let mailpit: Mailpit;
  let am: Alertmanager;
  let hook: HttpReceiver;
  let slack: HttpReceiver;
  const secrets = { token: 'Bearer sekrit-token-4f9a2c', slackPath: '/services/T0SECRET/B0SECRET/slackcredential77' };

  before(async () => {
    [mailpit, am, hook, slack] = await Promise.all([startMailpit(), startAlertmanager(), startHttpReceiver(), startHttpReceiver()]);
    h = await startAlertHarness({ prefix: 'alert-delivery', alert: { ca: [mailpit.caPem] } });
  });
  after(async () => {
    await h?.stop();
    await Promise.all([mailpit?.stop(), am?.stop(), hook?.stop(), slack?.stop()]);
  });

  const receivers = (name: string) => [
    { name: 'mail', smtp: { address: 'localhost', port: mailpit.smtpPort, security: 'StartTLS', from: 'outrigger@example.com', to: ['ops@example.com', 'oncall@example.com'], username: mailpit.username, passwordSecretRef: { name: `${name}-smtp`, key: 'password' } } },
    { name: 'hook', webhook: { urlSecretRef: { name: `${name}-hook` }, authorizationSecretRef: { name: `${name}-hook`, key: 'authorization' }, headers: [{ name: 'X-Team', value: 'ops' }] } },
    { name: 'chat', slack: { urlSecretRef: { name: `${name}-slack` }, channel: '#ops' } },
    { name: 'am', alertmanager: { url: am.url } },
  ];

  async function createSecrets(name: string, password = mailpit.password): Promise<void> {
    await h.secrets.create(secret(h, `${name}-smtp`, { password }));
    await h.secrets.create(secret(h, `${name}-hook`, { url: `${hook.url}/hook/${name}`, authorization: secrets.token }));
    await h.secrets.create(secret(h, `${name}-slack`, { url: `${slack.url}${secrets.slackPath}/${name}` }));
  }

  const hookCalls = (name: string) => hook.requests.filter((r) => r.path === `/hook/${name}`);
  const slackCalls = (name: string) => slack.requests.filter((r) => r.path.endsWith(`/${name}`));
  const mails = async (rule: string) => (await mailpit.messages()).filter((m) => m.Subject.includes(rule));

  it('one notification per receiver after group_wait, the right recipients and contracts, nothing more until a change; the resolve once; no secret anywhere', async (t) => {
    const target = await startTarget();
    t.after(() => target.stop());
    target.status = 500;
    await createSecrets('quick');
    await h.alerts.create(alertObject(h, 'quick', {
      rules: [{ name: 'site-down', severity: 'Critical', httpProbe: { url: target.url, interval: '30s', timeout: '2s' } }],
      receivers: receivers('quick'),
      groupWait: '30s', groupInterval: '5m', repeatInterval: '4h',
    }));
    const firing = await waitFor(async () => {
      const a = await h.alert('quick');
      return a.status?.rules?.[0]?.state === 'Firing' ? a : undefined;
    }, { description: 'the probe rule to fire', timeoutMs: 20_000 });
    assert.equal(readyOf(firing)?.status, 'True', JSON.stringify(readyOf(firing)));
    assert.equal(firing.status?.firingCount, 1);
    assert.equal(firing.status?.notifications?.length, 4, 'one group per receiver, waiting for group_wait');
    assert.equal(hookCalls('quick').length, 0, 'nothing before group_wait');
    // Alertmanager groups by itself: it has the alert at once.
    await waitFor(async () => (await am.alerts()).find((a) => a.labels.alertname === 'site-down'), { description: 'Alertmanager to hold the alert' });

    await h.advance(30 * S);
    await waitFor(async () => hookCalls('quick').length === 1 && slackCalls('quick').length === 1 && (await mails('site-down')).length === 1, { description: 'one notification at each receiver', timeoutMs: 60_000 });

    const body = hookCalls('quick')[0]!.json as { version: string; status: string; groupKey: string; receiver: string; alerts: Array<{ status: string; labels: Record<string, string>; fingerprint: string; startsAt: string; endsAt: string }> };
    assert.equal(body.version, '4');
    assert.equal(body.status, 'firing');
    assert.equal(body.receiver, 'hook');
    assert.equal(body.groupKey, `${h.ns.name}/quick:{}`);
    assert.equal(body.alerts.length, 1);
    assert.deepEqual({ ...body.alerts[0]!.labels }, { alertname: 'site-down', alert: 'quick', namespace: h.ns.name, severity: 'critical', target: target.url, type: 'httpProbe' });
    assert.match(body.alerts[0]!.fingerprint, /^[0-9a-f]{16}$/);
    assert.equal(body.alerts[0]!.endsAt, '0001-01-01T00:00:00Z');
    const headers = hookCalls('quick')[0]!.headers;
    assert.match(String(headers['idempotency-key']), /^[0-9a-f]{32}$/);
    assert.equal(headers.authorization, secrets.token, 'the Authorization header comes from the Secret');
    assert.equal(headers['x-team'], 'ops');
    const chat = slackCalls('quick')[0]!.json as { channel: string; text: string };
    assert.equal(chat.channel, '#ops');
    assert.match(chat.text, /\[FIRING:1\] site-down/);
    const [mail] = await mails('site-down');
    assert.deepEqual(mail!.To.map((t) => t.Address).sort(), ['oncall@example.com', 'ops@example.com']);
    assert.equal(mail!.From.Address, 'outrigger@example.com');
    assert.equal(mail!.Username, mailpit.username, 'authenticated');
    const raw = await mailpit.raw(mail!.ID);
    assert.ok(!raw.includes(mailpit.password), 'no password in the mail');
    const logged = await h.alert('quick');
    const logKey = (r: string) => logged.status?.notifications?.find((n) => n.receiver === r)?.key;
    assert.equal(logKey('hook'), headers['idempotency-key'], 'the notification log records the key sent');
    assert.match(raw, new RegExp(`Message-ID: <${logKey('mail')}@outrigger.invalid>`, 'i'), 'the mail carries its notification key');

    // Minutes pass, nothing changes: no new notification (Alertmanager gets its refreshes).
    for (let i = 0; i < 12; i++) await h.advance(M);
    assert.equal(hookCalls('quick').length, 1);
    assert.equal(slackCalls('quick').length, 1);
    assert.equal((await mails('site-down')).length, 1);

    const ok = await h.alert('quick');
    for (const r of ok.status?.receivers ?? []) assert.equal(r.lastResult, 'Succeeded', JSON.stringify(r));
    assert.deepEqual(ok.status?.receivers?.map((r) => r.name).sort(), ['am', 'chat', 'hook', 'mail']);

    // Resolve: at the next flush, one resolved notification; Alertmanager's copy ends.
    target.status = 200;
    await h.advance(30 * S);
    await waitFor(async () => (await h.alert('quick')).status?.alerts?.[0]?.state === 'Resolved', { description: 'the alert to resolve' });
    for (let i = 0; i < 6 && hookCalls('quick').length < 2; i++) await h.advance(M);
    await waitFor(() => hookCalls('quick').length === 2 && slackCalls('quick').length === 2, { description: 'the resolved notification' });
    const resolved = hookCalls('quick')[1]!.json as { status: string; alerts: Array<{ status: string; endsAt: string }> };
    assert.equal(resolved.status, 'resolved');
    assert.notEqual(resolved.alerts[0]!.endsAt, '0001-01-01T00:00:00Z');
    await waitFor(async () => (await mails('RESOLVED')).length === 1, { description: 'the resolved mail' });
    for (let i = 0; i < 6; i++) await h.advance(M);
    assert.equal(hookCalls('quick').length, 2, 'nothing after the resolve');
    const done = await h.alert('quick');
    assert.equal(done.status?.alerts, undefined, 'the resolved alert is forgotten once told');
    assert.equal(done.status?.firingCount, 0);

    // No secret in status, events or the controller's logs.
    const events = JSON.stringify(await h.events());
    for (const value of [mailpit.password, secrets.token, 'sekrit-token-4f9a2c', 'slackcredential77']) {
      assert.ok(!JSON.stringify(done.status).includes(value), `status carries ${value}`);
      assert.ok(!events.includes(value), `events carry ${value}`);
      assert.ok(!h.logs().includes(value), `logs carry ${value}`);
    }
    await assertCataloguedReasons(h.rest, h.ns.name);
  });

  it('a controller restart between firing and resolve neither re-sends nor forgets the resolve', async (t) => {
    const target = await startTarget();
    t.after(() => target.stop());
    target.status = 503;
    await createSecrets('restart');
    await h.alerts.create(alertObject(h, 'restart', {
      rules: [{ name: 'restart-down', httpProbe: { url: target.url, interval: '30s', timeout: '2s' } }],
      receivers: receivers('restart').filter((r) => r.name === 'hook' || r.name === 'mail'),
      groupWait: '30s', groupInterval: '2m',
    }));
    await waitFor(async () => (await h.alert('restart')).status?.rules?.[0]?.state === 'Firing', { description: 'firing' });
    await h.advance(30 * S);
    await waitFor(async () => hookCalls('restart').length === 1 && (await mails('restart-down')).length === 1, { description: 'the firing notification' });

    await h.stopController();
    await h.startController();
    for (let i = 0; i < 5; i++) await h.advance(M);
    assert.equal(hookCalls('restart').length, 1, 'the new controller did not send the firing notification again');
    assert.equal((await mails('restart-down')).length, 1);

    target.status = 200;
    await h.stopController();
    await h.startController();
    for (let i = 0; i < 4 && hookCalls('restart').length < 2; i++) await h.advance(M);
    await waitFor(() => hookCalls('restart').length === 2, { description: 'the resolve after the restart' });
    assert.equal((hookCalls('restart')[1]!.json as { status: string }).status, 'resolved');
    for (let i = 0; i < 4; i++) await h.advance(M);
    assert.equal(hookCalls('restart').length, 2);
    await waitFor(async () => (await mails('restart-down')).length === 2, { description: 'the resolved mail after the restart' });
  });

  it('a webhook answering 500, then 429 with Retry-After, then down for a minute: one delivery when it comes back, with the same key; a 4xx is not retried', async (t) => {
    const target = await startTarget();
    t.after(() => target.stop());
    target.status = 500;
    await createSecrets('flaky');
    await h.alerts.create(alertObject(h, 'flaky', {
      rules: [{ name: 'flaky-down', httpProbe: { url: target.url, interval: '5m', timeout: '2s' } }],
      receivers: receivers('flaky').filter((r) => r.name === 'hook'),
      groupWait: '10s', groupInterval: '10m',
    }));
    await waitFor(async () => (await h.alert('flaky')).status?.rules?.[0]?.state === 'Firing', { description: 'firing' });
    hook.answer(500, { status: 429, headers: { 'retry-after': '20' } });
    await h.advance(10 * S);
    await waitFor(() => hookCalls('flaky').length === 1, { description: 'the first attempt (500)' });
    const key = hookCalls('flaky')[0]!.headers['idempotency-key'];
    const failed = await h.alert('flaky');
    assert.equal(failed.status?.receivers?.[0]?.lastResult, 'Failed');
    assert.equal(failed.status?.receivers?.[0]?.reason, 'ReceiverServerError');
    assert.equal(failed.status?.notifications?.[0]?.pending?.key, key, 'the outbox holds it');
    await h.advance(2 * S);
    await waitFor(() => hookCalls('flaky').length === 2, { description: 'the retry (429)' });
    for (let i = 0; i < 18; i++) await h.advance(S);
    assert.equal(hookCalls('flaky').length, 2, 'Retry-After 20 s is honoured');
    await hook.down();
    for (let i = 0; i < 60; i++) await h.advance(S);
    await hook.up();
    for (let i = 0; i < 70 && hookCalls('flaky').length < 3; i++) await h.advance(S);
    await waitFor(() => hookCalls('flaky').length === 3, { description: 'delivery once the receiver is back' });
    for (let i = 0; i < 5; i++) await h.advance(M);
    const calls = hookCalls('flaky');
    assert.equal(calls.filter((c) => c.status === 200).length, 1, 'delivered exactly once');
    assert.ok(calls.every((c) => c.headers['idempotency-key'] === key), 'every attempt carries the same key');
    const after = await h.alert('flaky');
    assert.equal(after.status?.receivers?.[0]?.lastResult, 'Succeeded');
    assert.equal(after.status?.notifications?.[0]?.pending, undefined);

    // A refusal: one attempt, reported, not retried.
    const refused = await startTarget();
    t.after(() => refused.stop());
    refused.status = 500;
    await h.alerts.create(alertObject(h, 'refused', {
      rules: [{ name: 'refused-down', httpProbe: { url: refused.url, interval: '5m', timeout: '2s' } }],
      receivers: [{ name: 'hook', webhook: { urlSecretRef: { name: 'flaky-hook' } } }],
      groupWait: '10s', groupInterval: '10m',
    }));
    await waitFor(async () => (await h.alert('refused')).status?.rules?.[0]?.state === 'Firing', { description: 'firing' });
    const before = hookCalls('flaky').length;
    hook.answer(400);
    await h.advance(10 * S);
    await waitFor(() => hookCalls('flaky').length === before + 1, { description: 'the refused attempt' });
    for (let i = 0; i < 120; i++) await h.advance(S);
    assert.equal(hookCalls('flaky').length, before + 1, 'a 400 is not retried before the next flush');
    const r = await h.alert('refused');
    assert.equal(r.status?.receivers?.[0]?.reason, 'ReceiverRejected');
  });

  it('SMTP: an unreachable server and a wrong password are per-receiver status; the mail goes out once, after the password is fixed', async (t) => {
    const target = await startTarget();
    t.after(() => target.stop());
    target.status = 500;
    await createSecrets('mailfix', 'not-the-password');
    const rs = receivers('mailfix');
    const mail = rs.find((r) => r.name === 'mail')!;
    const nowhere = { name: 'nowhere', smtp: { ...mail.smtp!, port: 1 } };
    await h.alerts.create(alertObject(h, 'mailfix', {
      rules: [{ name: 'mailfix-down', httpProbe: { url: target.url, interval: '5m', timeout: '2s' } }],
      receivers: [mail, nowhere],
      groupWait: '10s', groupInterval: '10m',
    }));
    await waitFor(async () => (await h.alert('mailfix')).status?.rules?.[0]?.state === 'Firing', { description: 'firing' });
    await h.advance(10 * S);
    const failed = await waitFor(async () => {
      const a = await h.alert('mailfix');
      const byName = new Map((a.status?.receivers ?? []).map((r) => [r.name, r]));
      return byName.get('mail')?.lastResult === 'Failed' && byName.get('nowhere')?.lastResult === 'Failed' ? byName : undefined;
    }, { description: 'both SMTP receivers to report failure', timeoutMs: 30_000 });
    assert.equal(failed.get('mail')?.reason, 'SmtpAuthFailed', JSON.stringify(failed.get('mail')));
    assert.equal(failed.get('nowhere')?.reason, 'ReceiverUnreachable', JSON.stringify(failed.get('nowhere')));
    assert.ok(!failed.get('mail')?.message?.includes('not-the-password'));
    assert.equal((await mails('mailfix-down')).length, 0);

    await h.secrets.mergePatch({ namespace: h.ns.name, name: 'mailfix-smtp' }, { data: { password: Buffer.from(mailpit.password).toString('base64') } });
    for (let i = 0; i < 90 && (await mails('mailfix-down')).length === 0; i++) await h.advance(S);
    await waitFor(async () => (await mails('mailfix-down')).length === 1, { description: 'the mail once the password is right' });
    for (let i = 0; i < 30; i++) await h.advance(S);
    assert.equal((await mails('mailfix-down')).length, 1, 'exactly one mail');
    assert.equal((await h.alert('mailfix')).status?.receivers?.find((r) => r.name === 'mail')?.lastResult, 'Succeeded');
    assert.ok(!h.logs().includes('not-the-password'));
  });
});

describe('Alert pushed to a real Alertmanager (on the real clock: Alertmanager judges endsAt by its own)', { skip }, () => {
  let h: AlertHarness;
  let am: Alertmanager;

  before(async () => {
    am = await startAlertmanager();
    h = await startAlertHarness({ prefix: 'alert-am', realClock: true });
  });
  after(async () => {
    await h?.stop();
    await am?.stop();
  });

  it('gets the firing alert at once (no group_wait: it groups by itself) and its resolve when it resolves', async (t) => {
    const target = await startTarget();
    t.after(() => target.stop());
    target.status = 500;
    await h.alerts.create(alertObject(h, 'pushed', {
      rules: [{ name: 'pushed-down', severity: 'Info', httpProbe: { url: target.url, interval: '1s', timeout: '1s' } }],
      receivers: [{ name: 'am', alertmanager: { url: am.url } }],
      groupWait: '10m',
    }));
    const firing = await waitFor(async () => (await am.alerts()).find((a) => a.labels.alertname === 'pushed-down' && a.status.state === 'active'), { description: 'Alertmanager to hold the firing alert', timeoutMs: 20_000 });
    assert.deepEqual({ ...firing.labels }, { alertname: 'pushed-down', alert: 'pushed', namespace: h.ns.name, severity: 'info', target: target.url, type: 'httpProbe' });
    assert.ok(Date.parse(firing.endsAt) > Date.now(), 'a firing alert is valid for a while and refreshed');
    assert.match(firing.annotations.summary ?? '', /answered 500/);
    target.status = 200;
    // Alertmanager lists only unresolved alerts: the alert leaving the list well before the
    // endsAt of its last refresh is the resolve arriving.
    await waitFor(async () => !(await am.alerts()).some((x) => x.labels.alertname === 'pushed-down'), { description: 'Alertmanager to take the resolve', timeoutMs: 20_000 });
    assert.ok(Date.now() < Date.parse(firing.endsAt), 'resolved by the push, not by expiry');
    const status = (await h.alert('pushed')).status;
    assert.equal(status?.receivers?.[0]?.lastResult, 'Succeeded');
    assert.ok((status?.receivers?.[0]?.sent ?? 0) >= 2);
  });
});
