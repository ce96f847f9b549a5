// A Lab end to end on the embedded API (the standalone mode's server, which runs no admission
// webhook but does run garbage collection), with the real dockerd: kubectl apply brings it to
// Ready with its machines in order and the access Secret; a dependency cycle, which only the
// webhook could refuse at admission, is Stalled by the reconciler with the cycle named; deleting
// the Lab removes its machines and networks, and the garbage collector its access Secret.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { isNotFound } from '../../controller/index.ts';
import { dockerSkipReason, setUpDockerTest, type DockerTestEnv } from '../fixtures/docker.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';
import { createNamespace, kubectlSkipReason, startEmbeddedTarget, type ApiTarget } from './embedded-target.ts';
import { labContainers, labNetworks, localHost, startLabController, unb64, type LabHarness, type Obj } from './lab-harness.ts';
import { assertCataloguedReasons } from './reasons-check.ts';

const skip = kubectlSkipReason() ?? (await dockerSkipReason());
if (skip) process.stderr.write(`lab-embedded: skipping: ${skip}\n`);

describe('Lab on the embedded API', { skip }, () => {
  let target: ApiTarget;
  let env: DockerTestEnv;
  let h: LabHarness;
  let ns: string;

  before(async () => {
    target = await startEmbeddedTarget();
    env = await setUpDockerTest('lab-embedded');
    ns = await createNamespace(target, 'lab');
    h = await startLabController(target.kubeConfig, ns, env, { stepWaitMs: 3_000 });
  });

  after(async () => {
    await h?.stop();
    await env?.cleanup();
    await target?.stop();
  });

  const machine = (name: string, extra: Record<string, unknown> = {}) => ({ name, docker: { hostRef: { name: 'local' }, image: env.image }, ...extra });

  it('kubectl apply of a Host and a Lab gives a Ready Lab, its machines in order, and the access Secret', async () => {
    const manifest = [
      localHost(ns, 'local', env.socketPath),
      {
        apiVersion: 'outrigger.dev/v1alpha1',
        kind: 'Lab',
        metadata: { name: 'class', namespace: ns },
        spec: {
          networks: [{ name: 'lan' }],
          machines: [
            machine('server', { networks: [{ name: 'lan' }], cloudInit: { users: [{ name: 'student' }], commands: ['echo ready > /etc/served'] } }),
            machine('client', { dependsOn: ['server'], networks: [{ name: 'lan' }] }),
          ],
        },
      },
    ].map((o) => stringify({ apiVersion: 'outrigger.dev/v1alpha1', kind: 'Host', ...o })).join('---\n');
    const applied = await target.kubectl(['apply', '-f', '-'], { input: manifest });
    assert.equal(applied.code, 0, applied.stderr);
    const lab = (await waitForCondition(target.kubeConfig, { kind: 'Lab', namespace: ns, name: 'class' }, 'Ready', 'True', { timeoutMs: 90_000 })) as Obj;
    assert.equal(lab.status.readyMachines, '2/2');
    const table = await target.kubectl(['get', 'lab', 'class', '-n', ns]);
    assert.match(table.stdout, /^NAME\s+READY\s+PHASE\s+REASON/m);
    assert.match(table.stdout, /^class\s+2\/2\s+Ready\s+LabReady/m);
    const containers = await labContainers(env.docker, lab.metadata.uid!);
    assert.equal(containers.get('server')?.length, 1);
    assert.equal(containers.get('client')?.length, 1);
    const started = async (m: string) => Date.parse((await env.docker.getContainer(containers.get(m)![0]!.Id).inspect()).State.StartedAt);
    assert.ok(await started('client') >= await started('server'), 'client started after server');
    const access = await target.kubectl(['get', 'secret', 'class-access', '-n', ns, '-o', 'json']);
    assert.equal(access.code, 0, access.stderr);
    const secret = JSON.parse(access.stdout) as Obj;
    assert.match(unb64(secret.data?.['access.yaml']), /name: student\n\s+auth: password/);
    assert.ok(unb64(secret.data?.['password.server.student']).length >= 20);
  });

  it('a dependency cycle, admitted where no webhook runs, is Stalled by the reconciler with the cycle named', async () => {
    await h.clients.labs.create({ metadata: { name: 'loop', namespace: ns }, spec: { machines: [machine('a', { dependsOn: ['b'] }), machine('b', { dependsOn: ['a'] })] } });
    const stalled = (await waitForCondition(target.kubeConfig, { kind: 'Lab', namespace: ns, name: 'loop' }, 'Stalled', 'True', { timeoutMs: 30_000 })) as Obj;
    const ready = stalled.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    assert.equal(ready.reason, 'InvalidSpec');
    assert.match(ready.message, /spec\.machines: dependsOn forms a cycle \(a -> b -> a\)/);
    assert.equal((await labContainers(env.docker, stalled.metadata.uid!)).size, 0, 'nothing is made');
  });

  it('deleting the Lab removes its machines and networks, and the garbage collector its access Secret', async () => {
    const lab = await h.clients.labs.get({ namespace: ns, name: 'class' });
    await h.clients.labs.delete({ namespace: ns, name: 'class' });
    await h.clients.labs.delete({ namespace: ns, name: 'loop' });
    await waitFor(() => h.clients.labs.get({ namespace: ns, name: 'class' }).then(() => false, (err) => isNotFound(err)), { description: 'the Lab gone', timeoutMs: 60_000 });
    assert.equal((await labContainers(env.docker, lab.metadata.uid!)).size, 0);
    assert.equal((await labNetworks(env.docker, lab.metadata.uid!)).length, 0);
    await waitFor(() => h.clients.secrets.get({ namespace: ns, name: 'class-access' }).then(() => false, (err) => isNotFound(err)), { description: 'the access Secret collected', timeoutMs: 30_000 });
    await assertCataloguedReasons(h.rest, ns);
  });
});
