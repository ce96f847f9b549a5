// ProxyRoute configurations applied to real nginx on real hosts (network namespaces, reached over
// real SSH); every request comes from the root namespace, across the veth, like a user's would.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { SshPool, type SshTarget } from '../../reconcilers/ssh/index.ts';
import { NginxHostApplier } from '../../reconcilers/nginx/applier.ts';
import { applyHost } from '../../reconcilers/nginx/apply.ts';
import { renderRoute, routeKey, sha256, type RenderedRoute } from '../../reconcilers/nginx/render.ts';
import type { NginxHostSettings } from '../../reconcilers/nginx/settings.ts';
import type { NginxRouteInput } from '../../reconcilers/nginx/input.ts';
import { nginxReloads, requestLoop, servedSerial } from '../fixtures/host-observations.ts';
import { createTestCa, hostsSkipReason, startTestHosts, type IssuedCertificate, type TestCa, type TestHost, type TestHosts } from '../fixtures/hosts.ts';
import { waitFor } from '../fixtures/wait.ts';

function settingsFor(h: TestHost): NginxHostSettings {
  return {
    configDir: h.nginx.managedDir,
    mainConfigFile: h.nginx.configFile,
    errorLogFile: h.nginx.errorLog,
    testCommand: h.nginx.testCommand,
    reloadCommand: h.nginx.reloadCommand,
    sudo: false,
    statusPort: h.nginx.statusPort,
    workerGroup: h.nginx.workerGroup,
    resolvConf: '/etc/resolv.conf',
  };
}

function targetFor(h: TestHost, overrides: Partial<SshTarget> = {}): SshTarget {
  return { host: h.address, port: h.sshPort, username: h.username, privateKey: h.clientPrivateKey, hostKey: h.hostPublicKey, ...overrides };
}

function httpRoute(name: string, h: TestHost, mutate: (r: NginxRouteInput) => void = () => {}): NginxRouteInput {
  const r: NginxRouteInput = { namespace: 'team-a', name, serverNames: [`${name}.test`], routes: [{ path: '/', upstream: { address: '127.0.0.1', port: h.upstreams[0]!.port } }] };
  mutate(r);
  return r;
}

describe('nginx applier on a real host', { skip: hostsSkipReason() }, () => {
  let fixture: TestHosts;
  let h: TestHost;
  let pool: SshPool;
  let applier: NginxHostApplier;
  let ca: TestCa;
  let secureCert: IssuedCertificate;
  let strangerCert: IssuedCertificate;

  before(async () => {
    fixture = await startTestHosts(1);
    h = fixture.hosts[0]!;
    pool = new SshPool({ backoff: { initialMs: 100, maxMs: 1_000 } });
    applier = new NginxHostApplier({ connection: () => pool.connection(targetFor(h)), settings: settingsFor(h), quietMs: 50, maxDelayMs: 500 });
    ca = createTestCa();
    secureCert = ca.issue(['secure.test']);
    strangerCert = ca.issue(['secure.test']);
  });
  after(async () => {
    applier?.close();
    pool?.close();
    await fixture?.teardown();
  });

  it('serves an HTTP route through nginx, with forwarding headers and the route\'s own request headers', async () => {
    const result = await applier.apply(httpRoute('app', h, (r) => { r.routes[0]!.requestHeaders = [{ name: 'X-Team', value: 'team a' }] }));
    assert.equal(result.state, 'Applied', result.message);
    assert.equal(result.liveHash, result.desiredHash);
    assert.ok(result.liveSince instanceof Date);
    const r = await h.request('http://app.test/hello?x=1');
    assert.equal(r.status, 200);
    const echoed = JSON.parse(r.body);
    assert.equal(echoed.identity, h.upstreams[0]!.identity);
    assert.equal(echoed.url, '/hello?x=1');
    assert.equal(echoed.headers['x-team'], 'team a');
    assert.equal(echoed.headers['x-forwarded-for'], h.peerAddress);
    assert.equal(echoed.headers['x-forwarded-proto'], 'http');
    assert.equal(echoed.headers.host, 'app.test');
  });

  it('an edit is live once apply returns', async () => {
    const result = await applier.apply(httpRoute('app', h, (r) => { r.routes[0]!.upstream.port = h.upstreams[1]!.port }));
    assert.equal(result.state, 'Applied');
    for (let i = 0; i < 5; i++) assert.equal(JSON.parse((await h.request('http://app.test/')).body).identity, h.upstreams[1]!.identity);
  });

  it('a restarted controller takes off the host the routes whose ProxyRoute is gone, and only those', async () => {
    assert.equal((await applier.apply(httpRoute('leftover', h))).state, 'Applied');
    assert.equal((await applier.apply(httpRoute('bystander', h))).state, 'Applied');
    assert.equal((await h.request('http://leftover.test/')).status, 200);
    // A new applier knows nothing of what is live: as after a restart, with leftover deleted while
    // no controller ran.
    const restarted = new NginxHostApplier({ connection: () => pool.connection(targetFor(h)), settings: settingsFor(h), quietMs: 50, maxDelayMs: 500, orphaned: (key) => key === routeKey('team-a', 'leftover') });
    try {
      const app = await restarted.apply(httpRoute('app', h, (r) => { r.routes[0]!.upstream.port = h.upstreams[1]!.port }));
      assert.equal(app.state, 'Applied');
    } finally {
      restarted.close();
    }
    assert.equal((await h.request('http://leftover.test/')).status, 404, 'the orphan is no longer served');
    assert.equal(existsSync(join(h.nginx.managedDir, 'routes', routeKey('team-a', 'leftover'))), false, 'its files are gone');
    assert.equal(JSON.parse((await h.request('http://app.test/')).body).identity, h.upstreams[1]!.identity, 'the route it was asked for stays');
    assert.equal((await h.request('http://bystander.test/')).status, 200, 'a route it was not asked for but whose owner exists stays');
    // The first applier still wants leftover: tell it too, so later tests start from app alone.
    await applier.remove('team-a', 'leftover');
    await applier.remove('team-a', 'bystander');
  });

  it('proxies a named upstream to the addresses pinned for it: nginx resolves no name, not even one the host cannot', async () => {
    const result = await applier.apply(httpRoute('dns', h, (r) => {
      r.routes = [
        { path: '/', upstream: { address: h.resolvableName, port: h.upstreams[0]!.port, addresses: ['127.0.0.1'] } },
        // The host's DNS has never heard of this name: only the pinned address can make it work.
        { path: '/pinned', upstream: { address: h.unresolvableName, port: h.upstreams[1]!.port, addresses: ['127.0.0.1'] } },
      ];
    }));
    assert.equal(result.state, 'Applied', result.message);
    assert.equal(JSON.parse((await h.request('http://dns.test/')).body).identity, h.upstreams[0]!.identity);
    assert.equal(JSON.parse((await h.request('http://dns.test/pinned/x')).body).identity, h.upstreams[1]!.identity);
    assert.equal((await h.request('http://app.test/')).status, 200);
  });

  it('passes WebSocket upgrades through to the upstream', async () => {
    await applier.apply(httpRoute('ws', h, (r) => { r.routes[0]!.websocket = true }));
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(80, h.address);
      let data = '';
      socket.on('data', (d) => {
        data += d;
        if (data.includes('\r\n\r\n') && !data.includes('ping-pong')) socket.write('ping-pong');
        if (data.includes('ping-pong')) { socket.destroy(); resolve(data); }
      });
      socket.on('error', reject);
      socket.setTimeout(3_000, () => { socket.destroy(); reject(new Error(`no upgrade; got ${data}`)); });
      socket.write('GET /socket HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    assert.match(reply, /^HTTP\/1\.1 101 /);
    assert.match(reply, new RegExp(`X-Upstream-Identity: ${h.upstreams[0]!.identity}`, 'i'));
  });

  it('serves HTTPS with a certificate from the test CA, redirects HTTP, sends HSTS; keys are 0600 on the host', async () => {
    const result = await applier.apply({
      namespace: 'team-a', name: 'secure', serverNames: ['secure.test'],
      tls: { ...secureCert, hsts: { maxAgeSeconds: 600 } },
      routes: [{ path: '/', upstream: { address: '127.0.0.1', port: h.upstreams[0]!.port } }],
    });
    assert.equal(result.state, 'Applied', result.message);
    const r = await h.request('https://secure.test/tls', { ca: ca.caPem });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).headers['x-forwarded-proto'], 'https');
    assert.equal(r.headers['strict-transport-security'], 'max-age=600');
    const plain = await h.request('http://secure.test/tls?a=b');
    assert.equal(plain.status, 308);
    assert.equal(plain.headers.location, 'https://secure.test/tls?a=b');
    // Wrong trust: the TLS handshake is really verified.
    await assert.rejects(h.request('https://secure.test/', { ca: createTestCa('Other CA').caPem }), /self-signed|unable to verify|certificate/);
    assert.equal((await servedSerial(h, 'secure.test', ca)).toLowerCase(), secureCert.serialNumber.toLowerCase());
    // A renewed certificate (what cert-manager does to the Secret) is served after the next apply.
    const renewed = ca.issue(['secure.test']);
    const rotated = await applier.apply({
      namespace: 'team-a', name: 'secure', serverNames: ['secure.test'],
      tls: { ...renewed, hsts: { maxAgeSeconds: 600 } },
      routes: [{ path: '/', upstream: { address: '127.0.0.1', port: h.upstreams[0]!.port } }],
    });
    assert.equal(rotated.state, 'Applied');
    assert.notEqual(rotated.liveHash, result.liveHash);
    assert.equal((await servedSerial(h, 'secure.test', ca)).toLowerCase(), renewed.serialNumber.toLowerCase());
    const dir = join(h.nginx.managedDir, 'routes', 'team-a_secure');
    const files = readdirSync(dir);
    assert.equal(files.filter((f) => f.endsWith('.key')).length, 1, 'the old key was collected');
    const key = files.find((f) => f.endsWith('.key'))!;
    const crt = files.find((f) => f.endsWith('.crt'))!;
    assert.equal((await stat(join(dir, key))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, crt))).mode & 0o777, 0o600);
  });

  it('refuses a certificate whose key does not match before anything reaches the host', () => {
    assert.throws(() => applier.ensure({
      namespace: 'team-a', name: 'mismatch', serverNames: ['secure.test'],
      tls: { certificate: secureCert.certificate, privateKey: strangerCert.privateKey },
      routes: [{ path: '/', upstream: { address: '127.0.0.1', port: 8081 } }],
    }), (err: Error & { code?: string }) => err.code === 'CertificateInvalid' && !err.message.includes('PRIVATE KEY'));
    assert.equal(existsSync(join(h.nginx.managedDir, 'routes', 'team-a_mismatch')), false);
  });

  it('enforces basic auth (htpasswd 0640 for the workers\' group), allow/deny networks and the rate limit', async () => {
    const hash = createHash('sha1').update('s3cret').digest('base64');
    await applier.apply(httpRoute('auth', h, (r) => { r.access = { basicAuth: { htpasswd: `alice:{SHA}${hash}\n`, realm: 'Team A' } } }));
    await applier.apply(httpRoute('closed', h, (r) => { r.access = { allowCIDRs: ['192.0.2.0/24'] } }));
    await applier.apply(httpRoute('open', h, (r) => { r.access = { allowCIDRs: [`${h.peerAddress.split('.').slice(0, 3).join('.')}.0/24`] } }));
    for (const name of ['auth', 'closed', 'open']) assert.equal(applier.lastResult('team-a', name)?.state, 'Applied');
    assert.equal((await applier.apply(httpRoute('limited', h, (r) => { r.rateLimit = { requestsPerSecond: 1, burst: 0 } }))).state, 'Applied');

    const denied = await h.request('http://auth.test/');
    assert.equal(denied.status, 401);
    assert.match(String(denied.headers['www-authenticate']), /Basic realm="Team A"/);
    const good = await h.request('http://auth.test/', { headers: { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` } });
    assert.equal(good.status, 200);
    const wrong = await h.request('http://auth.test/', { headers: { authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` } });
    assert.equal(wrong.status, 401);
    const htpasswd = readdirSync(join(h.nginx.managedDir, 'routes', 'team-a_auth')).find((f) => f.startsWith('htpasswd'))!;
    const st = await stat(join(h.nginx.managedDir, 'routes', 'team-a_auth', htpasswd));
    assert.equal(st.mode & 0o777, 0o640);
    assert.equal(st.gid, 33, 'group www-data');

    assert.equal((await h.request('http://closed.test/')).status, 403);
    assert.equal((await h.request('http://open.test/')).status, 200);

    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await h.request('http://limited.test/')).status);
    assert.ok(statuses.includes(429), `expected a 429 among ${statuses.join(',')}`);
    assert.equal(statuses[0], 200);
  });

  it('quarantines a route that fails nginx -t while 50 others keep answering (no failed request during the change)', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `q${i}`);
    const started = Date.now();
    const results = await Promise.all(names.map((n, i) => applier.apply(httpRoute(n, h, (r) => { r.routes[0]!.upstream.port = h.upstreams[i % 2]!.port }))));
    const applyMs = Date.now() - started;
    assert.deepEqual(new Set(results.map((r) => r.state)), new Set(['Applied']));
    console.log(`# 50 routes applied in ${applyMs} ms`);

    const loop = requestLoop(h, names.map((n) => `${n}.test`));
    await waitFor(() => loop.stats.ok >= 100, { description: 'the request loop to get going' });
    const reloadsBefore = applier.status().reloads;
    // The key does not match the certificate: only nginx finds out (rendering does not check pairs).
    const broken = renderRoute({
      namespace: 'team-b', name: 'broken', serverNames: ['broken.test'],
      tls: { certificate: secureCert.certificate, privateKey: strangerCert.privateKey },
      routes: [{ path: '/', upstream: { address: '127.0.0.1', port: h.upstreams[0]!.port } }],
    }, { configDir: h.nginx.managedDir });
    const [brokenResult, edited] = await Promise.all([
      applier.applyRendered(broken),
      applier.apply(httpRoute('q0', h, (r) => { r.routes[0]!.requestHeaders = [{ name: 'X-Edited', value: 'yes' }] })),
    ]);
    const loopOkAtChange = loop.stats.ok;
    await waitFor(() => loop.stats.ok >= loopOkAtChange + 100, { description: 'more requests after the change' });
    await loop.stop();

    assert.equal(brokenResult.state, 'Quarantined');
    assert.match(brokenResult.message ?? '', /^\[emerg\] SSL_CTX_use_PrivateKey\(".*team-b_broken\/tls\.[0-9a-f]+\.key"\) failed .*key values mismatch/);
    assert.equal(brokenResult.liveHash, undefined, 'nothing of it is live');
    assert.ok(!brokenResult.message!.includes(strangerCert.privateKey.split('\n')[1]!), 'no key material in the message');
    assert.equal(edited.state, 'Applied', 'the other change in the same apply went through');
    assert.equal(JSON.parse((await h.request('http://q0.test/')).body).headers['x-edited'], 'yes');
    assert.deepEqual(loop.stats.failures, [], 'no request failed during the change');
    assert.ok(loop.stats.ok > 200);
    assert.equal(applier.status().reloads - reloadsBefore, 1, 'one reload for the batch');
    assert.equal((await h.request('https://broken.test/', { ca: ca.caPem }).catch((e: Error) => ({ status: 0, body: e.message }))).status === 200, false);
    await applier.remove('team-b', 'broken');
  });

  it('a live route whose new version fails keeps serving its previous version', async () => {
    const keeperCert = ca.issue(['keeper.test']);
    const good = await applier.apply({ namespace: 'team-a', name: 'keeper', serverNames: ['keeper.test'], tls: { ...keeperCert }, routes: [{ path: '/', upstream: { address: '127.0.0.1', port: h.upstreams[0]!.port } }] });
    assert.equal(good.state, 'Applied');
    const broken = renderRoute({ namespace: 'team-a', name: 'keeper', serverNames: ['keeper.test'], tls: { certificate: keeperCert.certificate, privateKey: strangerCert.privateKey }, routes: [{ path: '/', upstream: { address: '127.0.0.1', port: h.upstreams[1]!.port } }] }, { configDir: h.nginx.managedDir });
    const result = await applier.applyRendered(broken);
    assert.equal(result.state, 'Quarantined');
    assert.equal(result.desiredHash, broken.hash);
    assert.equal(result.liveHash, good.liveHash, 'the previous version is still live');
    const r = await h.request('https://keeper.test/', { ca: ca.caPem });
    assert.equal(JSON.parse(r.body).identity, h.upstreams[0]!.identity, 'the old version still answers');

    // The quarantine retry: the same failing version again is tested, and nginx is not reloaded.
    const reloadsBefore = nginxReloads(h);
    const retry = await applyHost({ conn: pool.connection(targetFor(h)), settings: settingsFor(h) }, new Map([[broken.key, { rendered: broken }]]));
    assert.equal(retry.routes.get(broken.key)?.state, 'Quarantined');
    assert.equal(retry.routes.get(broken.key)?.liveHash, good.liveHash);
    assert.equal(retry.reloaded, false, 'nothing new to load');
    assert.ok(retry.tests >= 2, 'the version was tested again');
    assert.equal(nginxReloads(h), reloadsBefore, 'nginx saw no reload');
    assert.equal(JSON.parse((await h.request('https://keeper.test/', { ca: ca.caPem })).body).identity, h.upstreams[0]!.identity);
  });

  it('restores a configuration file edited by hand, and never touches files Outrigger did not write', async () => {
    const dir = join(h.nginx.managedDir, 'routes', routeKey('team-a', 'app'));
    const serverFile = readdirSync(dir).find((f) => f.startsWith('server.'))!;
    const path = join(dir, serverFile);
    const original = await readFile(path, 'utf8');
    await writeFile(path, original.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:9'));
    // Strangers: a file in Outrigger's directories, the host's own config files.
    await writeFile(join(dir, 'notes.txt'), 'written by an admin\n');
    await writeFile(join(h.nginx.managedDir, 'README.admin'), 'hands off\n');
    const unmanaged = join(h.nginx.prefix, 'unmanaged.conf');
    await appendFile(unmanaged, '# admin edit\n');
    const before = { unmanaged: await readFile(unmanaged, 'utf8'), mtime: (await stat(unmanaged)).mtimeMs, main: await readFile(h.nginx.configFile, 'utf8') };

    await applier.resync();
    assert.equal(await readFile(path, 'utf8'), original, 'the hand edit was overwritten');
    assert.equal(JSON.parse((await h.request('http://app.test/')).body).identity, h.upstreams[1]!.identity);
    assert.equal(await readFile(join(dir, 'notes.txt'), 'utf8'), 'written by an admin\n');
    assert.equal(await readFile(join(h.nginx.managedDir, 'README.admin'), 'utf8'), 'hands off\n');
    assert.equal(await readFile(unmanaged, 'utf8'), before.unmanaged);
    assert.equal((await stat(unmanaged)).mtimeMs, before.mtime);
    assert.equal(await readFile(h.nginx.configFile, 'utf8'), before.main);

    // Deleting the route removes its files but leaves the admin's note (and so its directory).
    await applier.remove('team-a', 'app');
    assert.equal((await h.request('http://app.test/')).status, 404);
    assert.deepEqual(readdirSync(dir), ['notes.txt']);
    const state = JSON.parse(await readFile(join(h.nginx.managedDir, 'state.json'), 'utf8'));
    assert.equal(state.routes['team-a_app'], undefined);
    assert.equal((await stat(join(h.nginx.managedDir, 'state.json'))).mode & 0o777, 0o600);
  });

  it('a server name already served by another namespace\'s route is a Conflict, never a takeover', async () => {
    const owner = await applier.apply({ ...httpRoute('claim', h), namespace: 'team-x', serverNames: ['shared.test'] });
    assert.equal(owner.state, 'Applied');
    const intruder = await applier.apply({ ...httpRoute('claim', h, (r) => { r.routes[0]!.upstream.port = h.upstreams[1]!.port }), namespace: 'team-y', serverNames: ['shared.test'] });
    assert.equal(intruder.state, 'Conflict');
    assert.match(intruder.message ?? '', /server name shared\.test on port 80 is already served by ProxyRoute team-x\/claim/);
    assert.equal(JSON.parse((await h.request('http://shared.test/')).body).identity, h.upstreams[0]!.identity);
    // When the owner goes, the waiting route gets the name in the same apply.
    await applier.remove('team-x', 'claim');
    assert.equal(applier.lastResult('team-y', 'claim')?.state, 'Applied');
    assert.equal(JSON.parse((await h.request('http://shared.test/')).body).identity, h.upstreams[1]!.identity);
    await applier.remove('team-y', 'claim');
  });

  it('a reload nginx does not take is rolled back to the last good generation', async () => {
    const generation = applier.status().generation;
    // Passes `nginx -t` (which binds nothing) but the reload cannot bind a port the upstream holds.
    const content = `server {\n    listen ${h.upstreams[0]!.port};\n    server_name bind.test;\n    return 200 "x";\n}\n`;
    const file = join(h.nginx.managedDir, 'routes', 'team-c_bind', `server.${sha256(content).slice(0, 16)}.conf`);
    const rendered: RenderedRoute = { key: 'team-c_bind', serverNames: ['bind.test'], ports: [h.upstreams[0]!.port], files: [{ path: file, kind: 'server', content, sha256: sha256(content) }], serverInclude: file, hash: `sha256:${sha256(file)}` };
    const result = await applier.applyRendered(rendered);
    assert.equal(result.state, 'Failed');
    assert.equal(result.errorCode, 'NginxReloadFailed');
    assert.match(result.message ?? '', /bind\(\) to 0\.0\.0\.0:8081 failed.*the last good configuration is live again/);
    assert.notEqual(applier.status().generation, generation, 'the good set went back under a new generation');
    assert.equal((await h.request('http://q5.test/')).status, 200, 'the last good generation serves');
    await applier.remove('team-c', 'bind');
  });

  it('coalesces a burst of 40 edits into at most 2 reloads', async () => {
    const before = applier.status().reloads;
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => applier.apply(httpRoute(`q${i}`, h, (r) => { r.routes[0]!.requestHeaders = [{ name: 'X-Burst', value: String(i) }] }))));
    assert.deepEqual(new Set(results.map((r) => r.state)), new Set(['Applied']), results[0]!.message);
    const reloads = applier.status().reloads - before;
    console.log(`# 40 edits: ${reloads} reload(s), last apply ${applier.status().lastApply?.durationMs} ms`);
    assert.ok(reloads >= 1 && reloads <= 2, `${reloads} reloads`);
    assert.equal(JSON.parse((await h.request('http://q39.test/')).body).headers['x-burst'], '39');
  });

  it('reloads with a HUP to nginx\'s master when the reload command is nginx -s reload, and runs a wrapper command as given', async () => {
    const conn = pool.connection(targetFor(h));
    const route = (port: number) => renderRoute(httpRoute('hup', h, (r) => { r.routes[0]!.upstream.port = port }), { configDir: h.nginx.managedDir });
    const first = route(h.upstreams[0]!.port);
    const reloadsBefore = nginxReloads(h);
    const bySignal = await applyHost({ conn, settings: settingsFor(h) }, new Map([[first.key, { rendered: first }]]));
    assert.equal(bySignal.hostError, undefined, bySignal.hostError?.message);
    assert.equal(bySignal.reloadedVia, 'signal');
    assert.equal(nginxReloads(h), reloadsBefore + 1, 'the master logged one SIGHUP');
    assert.equal(JSON.parse((await h.request('http://hup.test/')).body).identity, h.upstreams[0]!.identity, 'the new generation serves once applyHost returns');

    // `env nginx -s reload ...` is not nginx itself: whatever it does, it runs as written.
    const wrapped = { ...settingsFor(h), reloadCommand: ['env', ...h.nginx.reloadCommand, '-c', h.nginx.configFile] };
    const second = route(h.upstreams[1]!.port);
    const byCommand = await applyHost({ conn, settings: wrapped }, new Map([[second.key, { rendered: second }]]));
    assert.equal(byCommand.hostError, undefined, byCommand.hostError?.message);
    assert.equal(byCommand.reloadedVia, 'command');
    assert.equal(nginxReloads(h), reloadsBefore + 2);
    assert.equal(JSON.parse((await h.request('http://hup.test/')).body).identity, h.upstreams[1]!.identity);
    await applyHost({ conn, settings: settingsFor(h) }, new Map([[second.key, { remove: true }]]));
  });
});

describe('nginx applier when the host cannot be reached safely', { skip: hostsSkipReason() }, () => {
  let fixture: TestHosts;
  let a: TestHost;
  let b: TestHost;
  let pool: SshPool;

  before(async () => {
    fixture = await startTestHosts(2);
    [a, b] = fixture.hosts as [TestHost, TestHost];
    pool = new SshPool({ backoff: { initialMs: 100, maxMs: 500 } });
  });
  after(async () => {
    pool?.close();
    await fixture?.teardown();
  });

  it('refuses a host key mismatch: the route fails with HostKeyMismatch and nothing is written', async () => {
    const applier = new NginxHostApplier({ connection: () => pool.connection(targetFor(a, { hostKey: b.hostPublicKey })), settings: settingsFor(a), quietMs: 20 });
    const result = await applier.apply(httpRoute('pinned', a));
    applier.close();
    assert.equal(result.state, 'Failed');
    assert.equal(result.errorCode, 'HostKeyMismatch');
    assert.match(result.message ?? '', /host key mismatch/);
    assert.deepEqual(readdirSync(a.nginx.managedDir), []);
  });

  it('reports sshd being down, and applies the route once sshd is back (the pool reconnects)', async () => {
    const applier = new NginxHostApplier({ connection: () => pool.connection(targetFor(b)), settings: settingsFor(b), quietMs: 20 });
    assert.equal((await applier.apply(httpRoute('first', b))).state, 'Applied');
    await b.stopSshd();
    const down = await applier.apply(httpRoute('second', b));
    assert.equal(down.state, 'Failed');
    assert.ok(['Unreachable', 'SshConnectionLost'].includes(down.errorCode ?? ''), down.errorCode);
    assert.equal((await b.request('http://first.test/')).status, 200, 'nginx keeps serving while SSH is down');
    await b.startSshd();
    const up = await waitFor(async () => {
      const r = await applier.apply(httpRoute('second', b));
      return r.state === 'Applied' ? r : undefined;
    }, { description: 'the route to apply after sshd came back', timeoutMs: 15_000, intervalMs: 200 });
    assert.equal(up.state, 'Applied');
    assert.equal((await b.request('http://second.test/')).status, 200);
    applier.close();
  });
});
