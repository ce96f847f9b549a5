// A Lab's life over time, on the real kube-apiserver and dockerd, with the controller's clock in
// the test's hands: the daily stop and start in a time zone stop and start the machines (kept as
// they are), status names the next action and why; ttl expiry removes machines and networks (or
// stops them with expiryAction Stop) and keeps the Lab as Expired; snapshotOnReady commits every
// machine once all are Ready, and the revert annotation brings every machine's filesystem back to
// it, once per value; a revert without a snapshot is refused with a reason.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Labels } from '../../reconcilers/docker/index.ts';
import { REVERT_ANNOTATION } from '../../reconcilers/lab/index.ts';
import { controlPlaneSkipReason, createTestNamespace, useControlPlane, type ControlPlane, type TestNamespace } from '../fixtures/controlplane.ts';
import { dockerSkipReason, setUpDockerTest, type DockerTestEnv } from '../fixtures/docker.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { execIn, labContainers, labImages, labNetworks, localHost, onlyContainer, startLabController, type LabHarness, type Obj } from './lab-harness.ts';
import { assertCataloguedReasons } from './reasons-check.ts';

const skip = controlPlaneSkipReason() ?? (await dockerSkipReason());
if (skip) process.stderr.write(`lab-lifecycle: skipping: ${skip}\n`);

describe('Lab schedules, expiry, snapshots and revert', { skip }, () => {
  let cp: ControlPlane;
  let env: DockerTestEnv;
  let ns: TestNamespace;
  let h: LabHarness;
  // The controller's clock: schedules and expiry read it; the test moves it.
  let now = Date.parse('2026-03-27T10:00:00Z');

  before(async () => {
    cp = await useControlPlane();
    env = await setUpDockerTest('lab-lifecycle');
    ns = await createTestNamespace(cp.kubeConfig, 'lab-life');
    h = await startLabController(cp.kubeConfig, ns.name, env, { now: () => now, stepWaitMs: 3_000 });
    await h.clients.hosts.create(localHost(ns.name, 'local', env.socketPath));
  });

  after(async () => {
    await h?.stop();
    await env?.cleanup();
    await ns?.delete();
    await cp?.stop();
  });

  const get = (name: string) => h.clients.labs.get({ namespace: ns.name, name });
  const poke = (name: string) => h.labs.controller.enqueue({ namespace: ns.name, name });
  const machine = (name: string, extra: Record<string, unknown> = {}) => ({ name, docker: { hostRef: { name: 'local' }, image: env.image }, ...extra });
  const states = async (uid: string) => [...(await labContainers(env.docker, uid)).values()].map((l) => l[0]!.State).sort();
  async function until(name: string, check: (l: Obj) => boolean, description: string, timeoutMs = 60_000): Promise<Obj> {
    return waitFor(async () => {
      poke(name);
      const l = await get(name);
      return check(l) ? l : undefined;
    }, { description, timeoutMs, intervalMs: 500 });
  }
  const readyReason = (l: Obj) => (l.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready');

  it('stops and starts with the daily schedule in its time zone, keeping every machine, and says what comes next', async () => {
    now = Date.parse('2026-03-27T10:00:00Z'); // 11:00 in Berlin: inside 07:30-19:00
    await h.clients.labs.create({ metadata: { name: 'daily', namespace: ns.name }, spec: {
      machines: [machine('a'), machine('b', { dependsOn: ['a'] })],
      schedule: { dailyStop: '19:00', dailyStart: '07:30', timeZone: 'Europe/Berlin' },
    } });
    const up = await until('daily', (l) => l.status?.readyMachines === '2/2', 'daily up');
    const uid = up.metadata.uid!;
    assert.equal(up.status.nextAction, 'Stop');
    assert.equal(up.status.nextActionTime, '2026-03-27T18:00:00Z');
    assert.match(up.status.stateReason, /^Running: inside the daily hours \(07:30 to 19:00 Europe\/Berlin\)/);
    const ids = [...(await labContainers(env.docker, uid)).values()].map((l) => l[0]!.Id).sort();

    now = Date.parse('2026-03-27T18:00:30Z'); // just past 19:00 CET
    const stopped = await until('daily', (l) => l.status?.phase === 'Stopped', 'daily stopped by the schedule');
    assert.equal(readyReason(stopped).reason, 'LabStopped');
    assert.equal(stopped.status.nextAction, 'Start');
    assert.equal(stopped.status.nextActionTime, '2026-03-28T06:30:00Z');
    assert.equal(stopped.status.stateReason, 'Stopped by the daily schedule at 19:00 Europe/Berlin; starts again at 2026-03-28T06:30:00Z');
    assert.deepEqual(await states(uid), ['exited', 'exited']);

    // The clocks go forward that weekend: Sunday's start is 07:30 CEST, 05:30 UTC.
    now = Date.parse('2026-03-29T05:00:00Z');
    const sunday = await until('daily', (l) => l.status?.nextActionTime === '2026-03-29T05:30:00Z', 'Sunday\'s start planned in summer time');
    assert.equal(sunday.status.phase, 'Stopped');
    now = Date.parse('2026-03-29T05:31:00Z');
    await until('daily', (l) => l.status?.readyMachines === '2/2' && l.status?.nextActionTime === '2026-03-29T17:00:00Z', 'started again, the next stop at 19:00 CEST');
    assert.deepEqual(await states(uid), ['running', 'running']);
    assert.deepEqual([...(await labContainers(env.docker, uid)).values()].map((l) => l[0]!.Id).sort(), ids, 'the same machines');
  });

  it('expires after its ttl: Delete removes machines and networks and keeps the Lab as Expired; Stop stops them', async () => {
    now = Date.parse('2026-04-01T12:00:00Z');
    await h.clients.labs.create({ metadata: { name: 'brief', namespace: ns.name }, spec: { networks: [{ name: 'lan' }], machines: [machine('x', { networks: [{ name: 'lan' }] })], schedule: { ttl: '2h' } } });
    await h.clients.labs.create({ metadata: { name: 'paused', namespace: ns.name }, spec: { machines: [machine('y')], schedule: { ttl: '2h', expiryAction: 'Stop' } } });
    const brief = await until('brief', (l) => l.status?.readyMachines === '1/1', 'brief up');
    const paused = await until('paused', (l) => l.status?.readyMachines === '1/1', 'paused up');
    // The ttl counts from the real creation time; the clock jumps past it.
    assert.equal(brief.status.nextAction, 'Expire');
    now = Date.parse(brief.status.expiresAt) + 1_000;
    const expired = await until('brief', (l) => l.status?.phase === 'Expired' && readyReason(l)?.status === 'True', 'brief expired');
    assert.equal(readyReason(expired).reason, 'Expired');
    assert.match(expired.status.stateReason, /^Expired at .*: its machines were removed \(expiryAction Delete\)/);
    assert.equal((await labContainers(env.docker, brief.metadata.uid!)).size, 0);
    assert.equal((await labNetworks(env.docker, brief.metadata.uid!)).length, 0);
    const stoppedAtExpiry = await until('paused', (l) => l.status?.phase === 'Expired' && readyReason(l)?.status === 'True', 'paused expired');
    assert.match(stoppedAtExpiry.status.stateReason, /stopped \(expiryAction Stop\)/);
    assert.deepEqual(await states(paused.metadata.uid!), ['exited']);
  });

  it('snapshotOnReady commits every machine once all are Ready; the revert annotation brings their files back, once per value', async () => {
    now = Date.parse('2026-05-01T08:00:00Z');
    await h.clients.labs.create({ metadata: { name: 'snap', namespace: ns.name }, spec: {
      machines: [
        machine('web', { cloudInit: { commands: ['echo "original page" > /srv-index.html'] } }),
        machine('db', { dependsOn: ['web'], cloudInit: { commands: ['echo "rows: 3" > /db-state'] } }),
      ],
      snapshotOnReady: true,
    } });
    const snapped = await until('snap', (l) => Boolean(l.status?.snapshot?.name) && l.status.readyMachines === '2/2', 'the ready snapshot', 90_000);
    const uid = snapped.metadata.uid!;
    const snapshot = snapped.status.snapshot.name as string;
    assert.match(snapshot, /^ready-20260501080000$/);
    const images = await labImages(env.docker, uid);
    assert.deepEqual(images.map((i) => `${i.Labels?.[Labels.labMachine]}:${i.Labels?.[Labels.labSnapshot]}:${i.Labels?.[Labels.role]}`).sort(), [`db:${snapshot}:lab-snapshot`, `web:${snapshot}:lab-snapshot`]);

    // Students break things.
    const web = await onlyContainer(env.docker, uid, 'web');
    const db = await onlyContainer(env.docker, uid, 'db');
    await execIn(env.docker, web.Id, ['sh', '-c', 'echo defaced > /srv-index.html; touch /tmp/junk']);
    await execIn(env.docker, db.Id, ['sh', '-c', 'rm /db-state']);

    await h.clients.labs.mergePatch({ namespace: ns.name, name: 'snap' }, { metadata: { annotations: { [REVERT_ANNOTATION]: '2026-05-01T09:00:00Z' } } });
    const reverted = await until('snap', (l) => l.status?.lastRevert?.request === '2026-05-01T09:00:00Z' && l.status.readyMachines === '2/2', 'the revert', 90_000);
    assert.equal(reverted.status.lastRevert.snapshot, snapshot);
    const web2 = await onlyContainer(env.docker, uid, 'web');
    const db2 = await onlyContainer(env.docker, uid, 'db');
    assert.notEqual(web2.Id, web.Id, 'web was made again from its snapshot');
    assert.equal((await execIn(env.docker, web2.Id, ['cat', '/srv-index.html'])).out, 'original page\n');
    assert.equal((await execIn(env.docker, web2.Id, ['sh', '-c', 'test -e /tmp/junk && echo junk || echo clean'])).out, 'clean\n');
    assert.equal((await execIn(env.docker, db2.Id, ['cat', '/db-state'])).out, 'rows: 3\n');
    assert.equal(web2.Labels[Labels.labSnapshot], snapshot);

    // The same value again (another annotation changes): nothing is reverted twice.
    await h.clients.labs.mergePatch({ namespace: ns.name, name: 'snap' }, { metadata: { annotations: { unrelated: 'x' } } });
    poke('snap');
    await waitForCondition(cp.kubeConfig, { kind: 'Lab', namespace: ns.name, name: 'snap' }, 'Ready', 'True', { timeoutMs: 30_000 });
    assert.equal((await onlyContainer(env.docker, uid, 'web')).Id, web2.Id);
    const events = await h.rest.request<{ items: Array<{ reason?: string; regarding?: { name?: string } }> }>('GET', `/apis/events.k8s.io/v1/namespaces/${ns.name}/events`);
    const reasons = events.items.filter((e) => e.regarding?.name === 'snap').map((e) => e.reason);
    assert.equal(reasons.filter((r) => r === 'Reverted').length, 1);
    assert.ok(reasons.includes('SnapshotTaken'));
  });

  it('a revert asked of a Lab without a snapshot is refused with a reason, and nothing is touched', async () => {
    const daily = await get('daily');
    const before = (await labContainers(env.docker, daily.metadata.uid!)).get('a')![0]!.Id;
    await h.clients.labs.mergePatch({ namespace: ns.name, name: 'daily' }, { metadata: { annotations: { [REVERT_ANNOTATION]: 'now' } } });
    const refused = await until('daily', (l) => /cannot be done: the Lab has no snapshot/.test(readyReason(l)?.message ?? ''), 'the refusal in status');
    assert.equal(readyReason(refused).status, 'True', 'the Lab stays Ready');
    assert.equal((await labContainers(env.docker, daily.metadata.uid!)).get('a')![0]!.Id, before);
    await assertCataloguedReasons(h.rest, ns.name);
  });

  it('deletion removes the snapshot images too', async () => {
    const snap = await get('snap');
    await h.clients.labs.delete({ namespace: ns.name, name: 'snap' });
    await waitFor(async () => (await labImages(env.docker, snap.metadata.uid!)).length === 0 && (await labContainers(env.docker, snap.metadata.uid!)).size === 0, { description: 'images and containers gone', timeoutMs: 60_000 });
  });
});
