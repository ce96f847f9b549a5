// Upstream names of a ProxyRoute to pinned, vetted addresses (the reconcile step before rendering),
// with a scripted resolver; the real DNS server and test hosts are in proxyroute-dns.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ForbiddenAddressError, NameNotResolvedError, NameResolver, OutboundGuard, outboundPolicy, type ResolvedName } from '../../reconcilers/net/index.ts';
import { pinUpstreamNames } from '../../reconcilers/proxyroute/upstream-dns.ts';
import type { ProxyRouteSpec } from '../../crds/index.ts';

class ZoneResolver extends NameResolver {
  readonly asked: string[] = [];
  private readonly zone: Record<string, string[]>;
  constructor(zone: Record<string, string[]>) {
    super();
    this.zone = zone;
  }
  override async resolve(name: string): Promise<ResolvedName> {
    this.asked.push(name);
    return { addresses: (this.zone[name] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 as const : 4 as const })) };
  }
}

const spec = (routes: ProxyRouteSpec['routes']): ProxyRouteSpec => ({ hostRef: { name: 'edge' }, serverNames: ['a.test'], routes } as ProxyRouteSpec);
// The controller's own outbound policy refuses private addresses: the upstream policy must be the one used.
const guardWith = (zone: Record<string, string[]>) => {
  const resolver = new ZoneResolver(zone);
  return { resolver, guard: new OutboundGuard({ policy: outboundPolicy(), resolver }) };
};

describe('pinUpstreamNames', () => {
  it('pins every address of a name, under the upstream policy (loopback and private are fine there)', async () => {
    const { guard } = guardWith({ 'api.internal': ['10.0.0.7', '127.0.0.1', 'fd00::7'] });
    const s = spec([{ path: '/', upstream: { address: 'api.internal', port: 80 } }] as ProxyRouteSpec['routes']);
    const pinned = await pinUpstreamNames(s, { upstreams: [{ address: 'api.internal', port: 80 }] }, guard, 60_000);
    assert.deepEqual(pinned.resolved.upstreams, [{ address: 'api.internal', port: 80, addresses: ['10.0.0.7', '127.0.0.1', 'fd00::7'] }]);
    assert.equal(pinned.refreshAfterMs, 60_000);
  });
  it('leaves IP literals alone and asks for no refresh when there is no name', async () => {
    const { guard, resolver } = guardWith({});
    const pinned = await pinUpstreamNames(spec([{ path: '/', upstream: { address: '10.0.0.5', port: 80 } }] as ProxyRouteSpec['routes']), { upstreams: [{ address: '10.0.0.5', port: 80 }] }, guard, 60_000);
    assert.deepEqual(pinned, { resolved: { upstreams: [{ address: '10.0.0.5', port: 80 }] } });
    assert.deepEqual(resolver.asked, []);
  });
  it('refuses a name with one forbidden answer, naming the field; the message says the live version stays', async () => {
    const { guard } = guardWith({ 'ok.test': ['10.0.0.1'], 'mix.test': ['10.0.0.1', '::ffff:169.254.169.254'] });
    const s = spec([{ path: '/', upstream: { address: 'ok.test', port: 80 } }, { path: '/b', upstream: { address: 'mix.test', port: 80 } }] as ProxyRouteSpec['routes']);
    await assert.rejects(pinUpstreamNames(s, { upstreams: [{ address: 'ok.test', port: 80 }, { address: 'mix.test', port: 80 }] }, guard, 60_000), (err: unknown) => {
      assert.ok(err instanceof ForbiddenAddressError);
      assert.equal(err.field, 'spec.routes[1].upstream.address');
      assert.equal(err.addressClass, 'link-local');
      assert.match(err.message, /^spec\.routes\[1\]\.upstream\.address: "mix\.test" resolves to ::ffff:a9fe:a9fe \(which carries 169\.254\.169\.254\), a link-local address .* which ProxyRoute upstreams may not reach .*; this version of the route is not applied; nginx keeps serving the version applied before, if any$/);
      return true;
    });
  });
  it('names the workspaceRef when the name came from a Workspace endpoint, and an unresolvable name is NameNotResolved', async () => {
    const { guard } = guardWith({});
    const s = spec([{ path: '/', upstream: { workspaceRef: { name: 'w', port: 'editor' } } }] as ProxyRouteSpec['routes']);
    await assert.rejects(pinUpstreamNames(s, { upstreams: [{ address: 'box.lan', port: 8080 }] }, guard, 60_000), (err: unknown) => err instanceof NameNotResolvedError && err.field === 'spec.routes[0].upstream.workspaceRef');
  });
  it('resolves a name once per reconcile, so two locations to it pin the same answer', async () => {
    const { guard, resolver } = guardWith({ 'api.internal': ['10.0.0.7'] });
    const s = spec([{ path: '/a', upstream: { address: 'api.internal', port: 80 } }, { path: '/b', upstream: { address: 'api.internal', port: 81 } }] as ProxyRouteSpec['routes']);
    await pinUpstreamNames(s, { upstreams: [{ address: 'api.internal', port: 80 }, { address: 'api.internal', port: 81 }] }, guard, 1_000);
    assert.deepEqual(resolver.asked, ['api.internal']);
  });
});
