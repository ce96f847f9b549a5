// ProxyRoute upstream names against a real DNS server (dnsmasq, which the controller is pointed at
// with its --dns-server setting) and a real nginx host. The host's own DNS answers the same zone, and
// 169.254.169.254 and 0.0.0.0 are listened on inside the host's namespace: if nginx were ever left
// to resolve a name (at load or per request), a forbidden answer would reach those traps. Names
// with a forbidden answer are never applied; a live route whose answer turns forbidden keeps its
// previous configuration, which still reaches the address vetted before.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ProxyRoute } from '../../crds/index.ts';
import { controlPlaneSkipReason } from '../fixtures/controlplane.ts';
import { dnsSkipReason, startTestDns, type DnsRecords, type TestDns } from '../fixtures/dns.ts';
import { hostsSkipReason, type TestHost } from '../fixtures/hosts.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { createHost, readyOf, routeFilesOnHost, startHarness, type Harness } from './proxyroute-harness.ts';

const skip = controlPlaneSkipReason() ?? (hostsSkipReason() || dnsSkipReason());
const TRAP_LISTENER = fileURLToPath(new URL('./programs/trap-listener.ts', import.meta.url));
/** The good service and the traps inside the host's namespace (no fixture upstream uses these ports). */
const PORT = 8090;
const ZERO_PORT = 8091;
const METADATA = '169.254.169.254';

const zone = (rebind: string): DnsRecords => ({
  'app.guard.test': ['127.0.0.1'],
  'meta.guard.test': [METADATA],
  'mapped.guard.test': [`::ffff:${METADATA}`],
  'mix.guard.test': ['127.0.0.1', METADATA],
  'zero.guard.test': ['0.0.0.0'],
  'll.guard.test': ['fe80::1'],
  'rebind.guard.test': [rebind],
});

interface TrapHit { trap: string; remotePort: number; bytes: number }

describe('ProxyRoute upstream names resolve on the controller, and forbidden answers are never proxied to', { skip }, () => {
  let h: Harness;
  let host: TestHost;
  let dns: TestDns;
  let listener: ChildProcess;
  const hits: TrapHit[] = [];

  /** The zone, served to the controller (dnsmasq) and to the host's own resolver alike. */
  const serve = async (records: DnsRecords) => {
    await dns.setRecords(records);
    await host.setDnsRecords(records);
  };
  const route = (name: string, address: string, port = PORT): ProxyRoute => ({
    apiVersion: 'outrigger.dev/v1alpha1', kind: 'ProxyRoute', metadata: { name, namespace: h.ns.name },
    spec: { hostRef: { name: 'edge' }, serverNames: [`${name}.test`], routes: [{ path: '/', upstream: { address, port } }] },
  } as unknown as ProxyRoute);
  const refused = (name: string) => waitFor(async () => {
    const ready = readyOf(await h.routes.get({ namespace: h.ns.name, name }));
    return ready?.status === 'False' && ready.reason !== 'Applying' ? ready : undefined;
  }, { description: `ProxyRoute ${name} to be refused`, timeoutMs: 30_000 });

  before(async () => {
    dns = await startTestDns({ records: zone('127.0.0.1') });
    h = await startHarness({ hosts: 1, prefix: 'proute-dns', outbound: { dnsServers: [dns.server] }, proxyRoute: { upstreamRefreshMs: 500 } });
    host = h.hosts[0]!;
    await host.setDnsRecords(zone('127.0.0.1'));
    const added = await host.exec(['ip', 'addr', 'add', `${METADATA}/32`, 'dev', 'lo']);
    assert.equal(added.code, 0, added.stderr);
    listener = spawn('/usr/sbin/ip', ['netns', 'exec', host.name, process.execPath, TRAP_LISTENER, `good=127.0.0.1:${PORT}`, `trap=${METADATA}:${PORT}`, `trap=0.0.0.0:${ZERO_PORT}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ready = new Promise<void>((resolve, reject) => {
      listener.once('exit', (code) => reject(new Error(`the trap listener exited (${code})`)));
      createInterface({ input: listener.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as TrapHit & { listening?: boolean };
        if (msg.listening) resolve();
        else hits.push(msg);
      });
    });
    await ready;
    // The host's own resolver really answers the forbidden address (nginx would get it too).
    const seen = await host.exec(['getent', 'ahostsv4', 'meta.guard.test']);
    assert.match(seen.stdout, /169\.254\.169\.254/, `the host resolves the zone: ${seen.stdout}${seen.stderr}`);
    await createHost(h, 'edge', host);
  });
  after(async () => {
    if (listener && listener.exitCode === null) {
      const exited = new Promise((r) => listener.once('exit', r));
      listener.kill('SIGTERM');
      await exited;
    }
    await h?.stop();
    await dns?.stop();
  });

  it('a good name is resolved by the controller and its address pinned into the configuration', async () => {
    await h.routes.create(route('app', 'app.guard.test'));
    await waitForCondition(h.cp.kubeConfig, { kind: 'ProxyRoute', namespace: h.ns.name, name: 'app' }, 'Ready', 'True', { timeoutMs: 60_000 });
    assert.equal((await host.request('http://app.test/')).body, 'good 127.0.0.1');
    const files = routeFilesOnHost(h, host, 'app');
    const dir = `${host.nginx.managedDir}/routes/${h.ns.name}_app`;
    const text = files.map((f) => readFileSync(`${dir}/${f}`, 'utf8')).join('\n');
    assert.match(text, new RegExp(`server 127\\.0\\.0\\.1:${PORT};`));
    assert.ok(!text.includes('app.guard.test'), 'the name is nowhere nginx could resolve it');
    assert.match(await dns.log(), /query\[A\] app\.guard\.test/, 'the controller asked the test DNS server');
  });

  const forbidden: Array<[string, string, number, string, RegExp]> = [
    ['meta', 'meta.guard.test', PORT, 'the metadata address', /"meta\.guard\.test" resolves to 169\.254\.169\.254, a link-local address/],
    ['mapped', 'mapped.guard.test', PORT, 'the metadata address as IPv4-mapped IPv6', /resolves to ::ffff:a9fe:a9fe \(which carries 169\.254\.169\.254\), a link-local address/],
    ['mix', 'mix.guard.test', PORT, 'one good and one forbidden answer', /resolves to 169\.254\.169\.254, a link-local/],
    ['zero', 'zero.guard.test', ZERO_PORT, '0.0.0.0 (the host itself)', /resolves to 0\.0\.0\.0, an unspecified/],
    ['ll', 'll.guard.test', PORT, 'an IPv6 link-local address', /resolves to fe80::1, a link-local/],
  ];
  for (const [name, address, port, why, says] of forbidden) {
    it(`a name resolving to ${why} is not applied: Ready=False ForbiddenAddress, nothing written, nothing served`, async () => {
      await h.routes.create(route(name, address, port));
      const ready = await refused(name);
      assert.equal(ready.reason, 'ForbiddenAddress', ready.message);
      assert.ok(ready.message?.startsWith('spec.routes[0].upstream.address: '), ready.message);
      assert.match(ready.message ?? '', says);
      assert.match(ready.message ?? '', /this version of the route is not applied/);
      assert.deepEqual(routeFilesOnHost(h, host, name), [], 'no file of the route reached the host');
      assert.equal((await host.request(`http://${name}.test/latest/meta-data/`)).status, 404, 'nginx does not serve it');
    });
  }

  it('a live route whose answer turns forbidden keeps its previous configuration, across later applies and reloads', async () => {
    await h.routes.create(route('rebind', 'rebind.guard.test'));
    await waitForCondition(h.cp.kubeConfig, { kind: 'ProxyRoute', namespace: h.ns.name, name: 'rebind' }, 'Ready', 'True', { timeoutMs: 60_000 });
    const live = (await h.routes.get({ namespace: h.ns.name, name: 'rebind' })).status?.appliedConfigHash;
    const filesBefore = routeFilesOnHost(h, host, 'rebind');
    assert.equal((await host.request('http://rebind.test/')).body, 'good 127.0.0.1');

    await serve(zone(METADATA));
    const ready = await refused('rebind'); // the refresh interval re-resolves it
    assert.equal(ready.reason, 'ForbiddenAddress');
    assert.match(ready.message ?? '', /"rebind\.guard\.test" resolves to 169\.254\.169\.254/);

    // Another route's apply reloads nginx (new workers, an empty resolver cache): the refused route's
    // previous version still serves, from the address vetted when it was applied.
    const reloads = h.proxyRoutes.hostNginx.get(`${h.ns.name}/edge`)!.status().reloads;
    await h.routes.create(route('after', 'app.guard.test'));
    await waitForCondition(h.cp.kubeConfig, { kind: 'ProxyRoute', namespace: h.ns.name, name: 'after' }, 'Ready', 'True', { timeoutMs: 60_000 });
    assert.ok(h.proxyRoutes.hostNginx.get(`${h.ns.name}/edge`)!.status().reloads > reloads, 'nginx was reloaded since');
    for (let i = 0; i < 5; i++) assert.equal((await host.request('http://rebind.test/')).body, 'good 127.0.0.1');
    assert.deepEqual(routeFilesOnHost(h, host, 'rebind'), filesBefore, 'its files on the host are unchanged');
    assert.equal((await h.routes.get({ namespace: h.ns.name, name: 'rebind' })).status?.appliedConfigHash, live, 'status still names the live version');

    // The answer turns good again: the route recovers by itself.
    await serve(zone('127.0.0.1'));
    await waitForCondition(h.cp.kubeConfig, { kind: 'ProxyRoute', namespace: h.ns.name, name: 'rebind' }, 'Ready', 'True', { timeoutMs: 60_000 });
  });

  it('no connection reached a forbidden address from the nginx host, though a plain client there reaches both traps', async () => {
    assert.equal(hits.length, 0, `nginx connected to a trap: ${JSON.stringify(hits)}`);
    for (const url of [`http://${METADATA}:${PORT}/`, `http://0.0.0.0:${ZERO_PORT}/`]) {
      const r = await host.exec(['curl', '-s', '-m', '3', '-o', '/dev/null', url]);
      assert.notEqual(r.code, 7, `curl could not connect to ${url}: the trap is not reachable, so it proves nothing`);
    }
    await waitFor(() => hits.length === 2, { description: 'the trap listener to record both control connections', timeoutMs: 10_000 });
    assert.deepEqual(hits.map((x) => x.trap).sort(), [`0.0.0.0:${ZERO_PORT}`, `${METADATA}:${PORT}`]);
  });
});
