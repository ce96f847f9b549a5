// The Proxmox client against fakepve: TLS per cluster, token and ticket auth, typed errors without
// secrets, retries only where PVE cannot have acted, outcome-unknown for a mutating request whose
// answer was lost, the concurrency limit, and the socket lookup hook.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { createServer } from 'node:net';
import { ProxmoxClient, type ProxmoxClientOptions } from '../../reconcilers/proxmox/client.ts';
import {
  ProxmoxApiError,
  ProxmoxErrorCodes,
  ProxmoxForbiddenError,
  ProxmoxOutcomeUnknownError,
  ProxmoxUnauthorizedError,
  ProxmoxUnreachableError,
} from '../../reconcilers/proxmox/errors.ts';
import { maybeUpid, versionAnswer, vmConfig, vmResources } from '../../reconcilers/proxmox/schemas.ts';
import { waitForTask } from '../../reconcilers/proxmox/tasks.ts';
import { realClock } from '../../controller/clock.ts';
import { FAKEPVE_HOSTNAME, fakepveSkipReason, startFakePve, type FakePve } from '../fixtures/fakepve.ts';
import { waitFor } from '../fixtures/wait.ts';

const TEMPLATE = 9000;

describe('Proxmox client against fakepve', { skip: fakepveSkipReason() }, () => {
  let pve: FakePve;
  const clients: ProxmoxClient[] = [];
  const client = (opts: Partial<ProxmoxClientOptions> = {}) => {
    const c = new ProxmoxClient({
      endpoint: pve.endpoint,
      credentials: { kind: 'token', tokenId: pve.token.id, secret: pve.token.secret },
      tls: { caBundle: pve.caPem },
      retry: { initialMs: 20, maxMs: 100 },
      ...opts,
    });
    clients.push(c);
    return c;
  };
  const requests = async (method: string, suffix: string) =>
    (await pve.state()).requests.filter(([m, p]) => m === method && p.endsWith(suffix)).length;

  before(async () => {
    pve = await startFakePve();
    await pve.control('add_template', { vmid: TEMPLATE, name: 'debian-13' });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await pve?.stop();
  });

  it('verifies the certificate against the caBundle, and refuses it without (no retry, nothing sent)', async () => {
    assert.equal((await client().get('/version', {}, versionAnswer)).version, '9.0.10');
    await pve.control('reset_counters');
    const untrusted = client({ tls: undefined });
    await assert.rejects(untrusted.post('/nodes/{node}/qemu/{vmid}/clone', { path: { node: 'pve1', vmid: TEMPLATE }, params: { newid: 150 } }, maybeUpid),
      (err: ProxmoxUnreachableError) => err.code === ProxmoxErrorCodes.ProxmoxTlsVerifyFailed && /set tls\.caBundle/.test(err.message));
    assert.equal((await pve.state()).requests.length, 0, 'no request reached the server');
  });

  it('skips verification only for the cluster that asks, not for the process', async () => {
    const insecure = client({ tls: { insecureSkipVerify: true } });
    const strict = client({ tls: undefined });
    assert.equal((await insecure.get('/version', {}, versionAnswer)).version, '9.0.10');
    await assert.rejects(strict.get('/version', {}, versionAnswer), (err: ProxmoxUnreachableError) => err.code === ProxmoxErrorCodes.ProxmoxTlsVerifyFailed);
  });

  it('reports a refused token as 401 with what to check, never the secret', async () => {
    const secret = 'f00dfeed-0000-4000-8000-00000000cafe';
    const bad = client({ credentials: { kind: 'token', tokenId: pve.token.id, secret } });
    const err = await bad.get('/version', {}, versionAnswer).catch((e: unknown) => e);
    assert.ok(err instanceof ProxmoxUnauthorizedError);
    assert.equal(err.status, 401);
    assert.match(err.message, /authentication failure.*tokenSecretRef/);
    assert.ok(!JSON.stringify({ m: err.message, s: err.stack }).includes(secret));
  });

  it('scrubs its secrets from messages PVE echoes', async () => {
    await pve.control('fail', { method: 'GET', suffix: '/nodes/pve1/status', status: 500, message: `bad token ${pve.token.secret} here`, times: 1 });
    const err = await client({ retry: { attempts: 1 } }).get('/nodes/{node}/status', { path: { node: 'pve1' } }, versionAnswer).catch((e: unknown) => e);
    assert.ok(err instanceof ProxmoxApiError);
    assert.match(err.message, /bad token \*\*\* here/);
    assert.ok(!err.message.includes(pve.token.secret));
  });

  it('returns PVE\'s status, message and per-field errors', async () => {
    const err = await client().put('/nodes/{node}/qemu/{vmid}/config', { path: { node: 'pve1', vmid: TEMPLATE }, params: { cores: -1, sockets: 0 } }, maybeUpid)
      .catch((e: unknown) => e);
    assert.ok(err instanceof ProxmoxApiError);
    assert.equal(err.status, 400);
    assert.equal(err.pveMessage, 'Parameter verification failed.');
    assert.deepEqual(Object.keys(err.fieldErrors).sort(), ['cores', 'sockets']);
    assert.match(err.message, /cores: value must have a minimum value of 1/);
    const gone = await client().get('/nodes/{node}/qemu/{vmid}/config', { path: { node: 'pve1', vmid: 4242 } }, vmConfig).catch((e: unknown) => e);
    assert.ok(gone instanceof ProxmoxApiError && gone.status === 500 && /does not exist/.test(gone.pveMessage));
  });

  it('names the missing privilege of a 403', async () => {
    const weak = await pve.addToken(['VM.Audit']);
    const c = client({ credentials: { kind: 'token', tokenId: weak.id, secret: weak.secret } });
    const err = await c.post('/nodes/{node}/qemu/{vmid}/clone', { path: { node: 'pve1', vmid: TEMPLATE }, params: { newid: 151 } }, maybeUpid).catch((e: unknown) => e);
    assert.ok(err instanceof ProxmoxForbiddenError);
    assert.equal(err.privilege, 'VM.Clone');
    assert.equal(err.aclPath, `/vms/${TEMPLATE}`);
    assert.match(err.message, new RegExp(`grant the token VM\\.Clone on /vms/${TEMPLATE}`));
  });

  it('retries GETs after gateway errors and dropped connections', async () => {
    await pve.control('reset_counters');
    await pve.control('fail', { method: 'GET', suffix: '/version', status: 502, message: 'Bad Gateway', times: 2, html: true });
    assert.equal((await client().get('/version', {}, versionAnswer)).version, '9.0.10');
    assert.equal(await requests('GET', '/version'), 3, 'two failures, then the answer');

    // fakepve resets half the connections before answering (seeded, so the run is repeatable).
    await pve.control('flaky_network', { drop_rate: 0.5, seed: 7 });
    try {
      const attempts: Array<string | undefined> = [];
      // 20 attempts: with half the connections dropped, a GET failing them all is a one-in-a-million event.
      const c = client({ retry: { attempts: 20, initialMs: 5, maxMs: 20 }, onAttempt: (a) => attempts.push(a.error) });
      // Which request meets a drop depends on how requests share pooled connections: ask until one
      // has (bounded), every answer correct.
      for (let i = 0; i < 40 && (i < 4 || !attempts.some((e) => e !== undefined)); i++) assert.equal((await c.get('/version', {}, versionAnswer)).version, '9.0.10');
      assert.ok(attempts.some((e) => e !== undefined), 'some attempts met a reset connection and were retried');
    } finally {
      await pve.control('flaky_network', {});
    }
  });

  it('sends a POST again only after a refusal that means nothing was done', async () => {
    await pve.control('reset_counters');
    await pve.control('fail', { method: 'POST', suffix: `/qemu/${TEMPLATE}/clone`, status: 500, message: 'got no worker upid - start worker failed', times: 1 });
    const c = client();
    const upid = await c.post('/nodes/{node}/qemu/{vmid}/clone', { path: { node: 'pve1', vmid: TEMPLATE }, params: { newid: 152, name: 'refused-once' } }, maybeUpid);
    await waitForTask(c, upid!, 'clone', { clock: realClock, timeoutMs: 10_000 });
    assert.equal(await requests('POST', `/qemu/${TEMPLATE}/clone`), 2);
    assert.equal((await pve.state()).vms.filter((v) => v.name === 'refused-once').length, 1);
  });

  it('never sends a POST again when its answer is lost: outcome unknown, the VM made once', async () => {
    await pve.control('reset_counters');
    await pve.control('stall', { method: 'POST', suffix: `/qemu/${TEMPLATE}/clone`, secs: 3, times: 1 });
    const c = client({ requestTimeoutMs: 500 });
    const err = await c.post('/nodes/{node}/qemu/{vmid}/clone', { path: { node: 'pve1', vmid: TEMPLATE }, params: { newid: 153, name: 'stalled' } }, maybeUpid)
      .catch((e: unknown) => e);
    assert.ok(err instanceof ProxmoxOutcomeUnknownError, String(err));
    assert.match(err.message, /may have taken effect/);
    assert.equal(await requests('POST', `/qemu/${TEMPLATE}/clone`), 1, 'sent once');
    await waitFor(async () => (await pve.vm(153))?.lock === null, { description: 'the stalled clone to finish', timeoutMs: 10_000 });
    assert.equal((await pve.state()).vms.filter((v) => v.name === 'stalled').length, 1);
  });

  it('a mutating request that cannot connect is sent again (nothing can have arrived)', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as { port: number }).port;
        srv.close(() => resolve(port));
      });
    });
    const attempts: string[] = [];
    const c = client({ endpoint: `https://127.0.0.1:${closed}`, retry: { attempts: 3, initialMs: 5, maxMs: 10 }, onAttempt: (a) => attempts.push(a.error ?? String(a.status)) });
    const err = await c.post('/nodes/{node}/qemu/{vmid}/status/start', { path: { node: 'pve1', vmid: 100 } }, maybeUpid).catch((e: unknown) => e);
    assert.ok(err instanceof ProxmoxUnreachableError, String(err));
    assert.equal(err.code, ProxmoxErrorCodes.Unreachable);
    assert.equal(attempts.length, 3, 'retried: the connection was refused, so nothing was sent');
  });

  it('logs in with a ticket, sends the CSRF token on writes, and logs in again when the ticket is refused', async () => {
    await pve.control('add_user', { userid: 'ops@pve', password: 'op-secret-pw', privs: ['VM.Audit', 'VM.Config.Options'] });
    const c = client({ credentials: { kind: 'ticket', username: 'ops@pve', password: 'op-secret-pw' } });
    assert.ok((await c.get('/cluster/resources', { params: { type: 'vm' } }, vmResources)).some((r) => r.vmid === TEMPLATE));
    await c.put('/nodes/{node}/qemu/{vmid}/config', { path: { node: 'pve1', vmid: TEMPLATE }, params: { description: 'by ticket' } }, maybeUpid);
    assert.equal((await pve.vm(TEMPLATE))?.config.description, 'by ticket', 'the write passed the CSRF check');
    await pve.control('revoke_tickets');
    assert.ok(await c.get('/version', {}, versionAnswer));
    assert.equal(c.logins, 2, 'a refused ticket is replaced by a fresh login');
  });

  it('keeps at most `concurrency` requests in flight over one pool', async () => {
    await pve.control('set', { values: { latency: 20 } });
    try {
      await waitFor(async () => (await pve.state()).inflight === 0, { description: 'no request of an earlier test in flight' , timeoutMs: 10_000 });
      await pve.control('reset_counters');
      const c = client({ concurrency: 3 });
      await Promise.all(Array.from({ length: 12 }, () => c.get('/version', {}, versionAnswer)));
      const { max_inflight: max } = await pve.state();
      assert.ok(max <= 3, `at most 3 at once, saw ${max}`);
      assert.ok(max >= 2, `requests did run in parallel (saw ${max})`);
    } finally {
      await pve.control('set', { values: { latency: 0 } });
    }
  });

  it('connects through the lookup it is given, and sends nothing when the lookup refuses', async () => {
    const asked: string[] = [];
    const lookup = ((hostname: string, options: object, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
      asked.push(hostname);
      if (hostname !== FAKEPVE_HOSTNAME) return dnsLookup(hostname, options, callback as never);
      const all = (options as { all?: boolean }).all;
      if (all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    }) as never;
    const c = client({ endpoint: `https://${FAKEPVE_HOSTNAME}:${pve.port}`, lookup });
    assert.equal((await c.get('/version', {}, versionAnswer)).version, '9.0.10');
    assert.deepEqual([...new Set(asked)], [FAKEPVE_HOSTNAME]);

    const refusing = ((_h: string, _o: object, callback: (err: Error | null) => void) => {
      callback(Object.assign(new Error('address not allowed'), { code: 'EADDRBLOCKED', lookupRefused: true }));
    }) as never;
    const attempts: string[] = [];
    const r = client({ endpoint: `https://${FAKEPVE_HOSTNAME}:${pve.port}`, lookup: refusing, retry: { attempts: 2, initialMs: 5, maxMs: 5 }, onAttempt: (a) => attempts.push(a.error ?? '') });
    const err = await r.post('/nodes/{node}/qemu/{vmid}/status/start', { path: { node: 'pve1', vmid: 100 } }, maybeUpid).catch((e: unknown) => e);
    assert.ok(err instanceof ProxmoxUnreachableError, String(err));
    assert.match(err.message, /address not allowed/);
  });
});
