// The container cache the watcher keeps: events and lists arrive in any order, and the newer news
// must win; files placed on the tmpfs are forgotten whenever the container may have restarted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ContainerCache, observedFromList, type DockerEvent, type ObservedContainer } from '../../reconcilers/docker/cache.ts';
import { Labels, ownerLabels } from '../../reconcilers/docker/labels.ts';

const owner = { kind: 'Workspace', namespace: 'ns', name: 'ws', uid: 'uid-1' };
const labels = { ...ownerLabels(owner, 'inst', 'workspace'), [Labels.specHash]: 'h1' };

function event(action: string, id = 'c1', extra: Record<string, string> = {}): DockerEvent {
  return { Type: 'container', Action: action, Actor: { ID: id, Attributes: { ...labels, name: 'outrigger-ns-ws-uid1', image: 'img', ...extra } } };
}

function listed(state: ObservedContainer['state'], id = 'c1', hash = 'h1'): ObservedContainer {
  return observedFromList({
    Id: id,
    Names: ['/outrigger-ns-ws-uid1'],
    Image: 'img',
    Labels: { ...labels, [Labels.specHash]: hash },
    State: state,
    Status: state === 'exited' ? 'Exited (137) 2 seconds ago' : 'Up 1 second',
    Ports: [{ IP: '127.0.0.1', PrivatePort: 22, PublicPort: 32768, Type: 'tcp' }],
  } as never)!;
}

describe('ContainerCache events', () => {
  it('tracks a container from create to destroy and reports each step for its owner', () => {
    const cache = new ContainerCache();
    const actions = ['create', 'start', 'die', 'destroy'].map((a, i) => cache.applyEvent(event(a, 'c1', a === 'die' ? { exitCode: '137' } : {}), i));
    assert.deepEqual(actions.map((c) => c?.key), ['ns/ws', 'ns/ws', 'ns/ws', 'ns/ws']);
    assert.equal(cache.get('c1'), undefined);
  });
  it('records the exit code of a die event', () => {
    const cache = new ContainerCache();
    cache.applyEvent(event('start'), 1);
    cache.applyEvent(event('die', 'c1', { exitCode: '137' }), 2);
    assert.deepEqual([cache.get('c1')!.state, cache.get('c1')!.exitCode], ['exited', 137]);
  });
  it('ignores exec and archive events (activity probes must not trigger reconciles)', () => {
    const cache = new ContainerCache();
    assert.equal(cache.applyEvent(event('exec_start: sh -c true'), 1), undefined);
    assert.equal(cache.applyEvent(event('exec_die'), 1), undefined);
    assert.equal(cache.applyEvent(event('extract-to-dir'), 1), undefined);
  });
  it('ignores containers without owner labels', () => {
    const cache = new ContainerCache();
    assert.equal(cache.applyEvent({ Type: 'container', Action: 'start', Actor: { ID: 'x', Attributes: { name: 'other' } } }, 1), undefined);
  });
  it('reads the health status out of "health_status: healthy"', () => {
    const cache = new ContainerCache();
    cache.applyEvent(event('start'), 1);
    cache.applyEvent(event('health_status: unhealthy'), 2);
    assert.equal(cache.get('c1')!.health, 'unhealthy');
  });
  it('marks a container unverified after docker update, so observe inspects it again', () => {
    const cache = new ContainerCache();
    cache.remember({ ...listed('running'), verified: true }, 1);
    cache.applyEvent(event('update'), 2);
    assert.equal(cache.get('c1')!.verified, false);
  });
  it('forgets placed files when the container dies (its tmpfs is gone)', () => {
    const cache = new ContainerCache();
    cache.applyEvent(event('start'), 1);
    cache.markFilesPlaced('c1', 'd1');
    cache.applyEvent(event('die'), 2);
    assert.equal(cache.filesDigest('c1'), undefined);
  });
  it('Podman\'s "remove" ends a container like Docker\'s "destroy", and its init, cleanup and exec events are ignored', () => {
    const cache = new ContainerCache();
    cache.applyEvent(event('start'), 1);
    for (const action of ['init', 'cleanup', 'exec', 'exec_died']) assert.equal(cache.applyEvent(event(action), 2), undefined, action);
    assert.equal(cache.get('c1')!.state, 'running');
    const removed = cache.applyEvent(event('remove'), 3);
    assert.deepEqual([removed?.action, cache.get('c1')], ['destroy', undefined]);
    assert.equal(cache.applyEvent(event('die'), 4), undefined, 'a late event after remove does not bring it back');
  });
  it('a late event for a destroyed container does not bring it back', () => {
    const cache = new ContainerCache();
    cache.applyEvent(event('destroy'), 5);
    assert.equal(cache.applyEvent(event('die'), 6), undefined);
    assert.equal(cache.get('c1'), undefined);
  });
});

describe('ContainerCache lists', () => {
  it('the first list fills the cache silently and marks it synced', () => {
    const cache = new ContainerCache();
    assert.equal(cache.synced, false);
    assert.deepEqual(cache.applyList([listed('running')], 10, false), []);
    assert.equal(cache.synced, true);
    assert.deepEqual(cache.get('c1')!.ports, [{ containerPort: 22, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 32768 }]);
  });
  it('reports a state change the events missed, and the exit code from the status text', () => {
    const cache = new ContainerCache();
    cache.applyList([listed('running')], 10, false);
    const changes = cache.applyList([listed('exited')], 20, true);
    assert.deepEqual(changes.map((c) => [c.key, c.action]), [['ns/ws', 'resync']]);
    assert.equal(cache.get('c1')!.exitCode, 137);
  });
  it('reports a container that vanished', () => {
    const cache = new ContainerCache();
    cache.applyList([listed('running')], 10, false);
    assert.deepEqual(cache.applyList([], 20, true).map((c) => c.action), ['vanished']);
    assert.equal(cache.get('c1'), undefined);
  });
  it('reports nothing when nothing changed (steady state costs no reconcile)', () => {
    const cache = new ContainerCache();
    cache.applyList([listed('running')], 10, false);
    assert.deepEqual(cache.applyList([listed('running')], 20, true), []);
  });
  it('an event newer than the list request wins over the list answer', () => {
    const cache = new ContainerCache();
    cache.applyList([listed('running')], 10, false);
    cache.applyEvent(event('die'), 25); // arrived while the list below was in flight
    const changes = cache.applyList([listed('running')], 20, true);
    assert.deepEqual(changes, []);
    assert.equal(cache.get('c1')!.state, 'exited');
  });
  it('a container destroyed after the list was sent is not revived by it', () => {
    const cache = new ContainerCache();
    cache.applyList([listed('running')], 10, false);
    cache.applyEvent(event('destroy'), 25);
    cache.applyList([listed('running')], 20, true);
    assert.equal(cache.get('c1'), undefined);
  });
  it('a container created after the list was sent is kept although the list lacks it', () => {
    const cache = new ContainerCache();
    cache.applyList([], 10, false);
    cache.applyEvent(event('create', 'c2'), 25);
    assert.deepEqual(cache.applyList([], 20, true), []);
    assert.equal(cache.get('c2')!.state, 'created');
  });
  it('a spec-hash change seen in a list is reported (re-created behind our back)', () => {
    const cache = new ContainerCache();
    cache.applyList([listed('running')], 10, false);
    assert.equal(cache.applyList([listed('running', 'c1', 'h2')], 20, true).length, 1);
  });
  it('finds containers by owner uid', () => {
    const cache = new ContainerCache();
    cache.applyList([listed('running', 'c1'), listed('exited', 'c2')], 10, false);
    assert.deepEqual(cache.byOwner('uid-1').map((c) => c.id).sort(), ['c1', 'c2']);
    assert.deepEqual(cache.byOwner('uid-2'), []);
  });
});
