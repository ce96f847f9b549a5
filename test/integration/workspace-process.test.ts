// The Workspace controller as the real process (`outrigger controller`), against the real
// kube-apiserver and dockerd: killed with SIGKILL in the middle of creating a container (right
// after the engine created it, and right after it started) and started again, it leaves exactly
// one container and one home per Workspace; and no secret value ever appears in its log (at debug
// level), in Events or in status, including when a bootstrap script prints one and when a Secret
// key is missing.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KubeRest, ResourceClient, type KubeObject } from '../../controller/index.ts';
import { hostRef, secretRef, workspaceRef } from '../../reconcilers/common/kinds.ts';
import { Labels } from '../../reconcilers/docker/index.ts';
import { INSTANCE_ENV } from '../../reconcilers/workspace/index.ts';
import { controlPlaneSkipReason, createTestNamespace, useControlPlane, type ControlPlane, type TestNamespace } from '../fixtures/controlplane.ts';
import { dockerSkipReason, setUpDockerTest, type DockerTestEnv } from '../fixtures/docker.ts';
import { waitFor, waitForCondition } from '../fixtures/wait.ts';

const dockerSkip = await dockerSkipReason();
const skip = controlPlaneSkipReason() ?? dockerSkip;
if (skip) process.stderr.write(`workspace-process: skipping: ${skip}\n`);

const BIN = fileURLToPath(new URL('../../bin/outrigger.ts', import.meta.url));

type Obj = KubeObject & { spec?: any; status?: any; data?: Record<string, string>; type?: string };

interface Controller {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

describe('Workspace controller process', { skip }, () => {
  let cp: ControlPlane;
  let env: DockerTestEnv;
  let ns: TestNamespace;
  let rest: KubeRest;
  let workspaces: ResourceClient<Obj>;
  const running = new Set<ChildProcess>();
  const allOutput: string[] = [];

  before(async () => {
    cp = await useControlPlane();
    env = await setUpDockerTest('workspace-process');
    ns = await createTestNamespace(cp.kubeConfig, 'workspace-proc');
    rest = new KubeRest(cp.kubeConfig);
    workspaces = new ResourceClient<Obj>(rest, workspaceRef);
    await new ResourceClient<Obj>(rest, hostRef).create({ metadata: { name: 'local', namespace: ns.name }, spec: { docker: { unix: { path: env.socketPath } } } });
  });

  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    rest?.close();
    await env?.cleanup();
    await ns?.delete();
    await cp?.stop();
  });

  function startController(): Controller {
    const child = spawn(process.execPath, [BIN, 'controller', '--kubeconfig', cp.kubeconfigPath, '--namespace', ns.name, '--http-bind-address', '127.0.0.1:0', '--log-level', 'debug'], {
      env: { ...process.env, [INSTANCE_ENV]: env.instance },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    const output: string[] = [];
    const collect = (d: Buffer) => {
      output.push(d.toString('utf8'));
      allOutput.push(d.toString('utf8'));
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }));
    return { child, output, exited };
  }

  function workspace(name: string, spec: Record<string, unknown> = {}): Obj {
    return {
      metadata: { name, namespace: ns.name },
      spec: {
        owner: name,
        runtime: { docker: { hostRef: { name: 'local' }, image: env.image, pullPolicy: 'Never', publishAddress: '127.0.0.1' } },
        ...spec,
      },
    };
  }

  const containersOf = (uid: string) => env.docker.listContainers({ all: true, filters: { label: [`${Labels.ownerUid}=${uid}`] } });
  const volumesOf = async (uid: string) => (await env.docker.listVolumes({ filters: { label: [`${Labels.ownerUid}=${uid}`] } })).Volumes ?? [];

  /** Resolves with the first engine event `action` for a container of this test's instance. */
  async function nextEngineEvent(action: string): Promise<{ id: string; stop(): void }> {
    const stream = (await env.docker.getEvents({ filters: { type: ['container'], event: [action], label: [`${Labels.managedBy}=${env.instance}`] } } as object)) as NodeJS.ReadableStream & { destroy(): void };
    return new Promise((resolve) => {
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const line = buffered.split('\n').find((l) => l.trim());
        if (line) resolve({ id: (JSON.parse(line) as { id: string }).id, stop: () => stream.destroy() });
      });
    });
  }

  for (const killAt of ['create', 'start'] as const) {
    it(`SIGKILLed right after the engine's "${killAt}" event and restarted, it leaves exactly one container and one home`, async () => {
      const name = `crash-${killAt}`;
      const first = startController();
      const event = nextEngineEvent(killAt);
      const created = await workspaces.create(workspace(name, { bootstrap: { script: 'echo once >> "$HOME/runs"\n' } }));
      const uid = created.metadata.uid!;
      const seen = await event;
      first.child.kill('SIGKILL');
      await first.exited;
      seen.stop();
      const leftBehind = await containersOf(uid);
      assert.equal(leftBehind.length, 1, 'the engine holds the container the killed controller made');

      const second = startController();
      try {
        const ws = await waitForCondition(cp.kubeConfig, { kind: 'Workspace', namespace: ns.name, name }, 'Ready', 'True', { timeoutMs: 60_000 });
        const after = await containersOf(uid);
        assert.equal(after.length, 1, `exactly one container, found ${after.map((c) => c.Names[0]).join(', ')}`);
        assert.equal(after[0]!.Id, seen.id, 'the container made before the kill was adopted, not made again');
        assert.equal(after[0]!.State, 'running');
        assert.equal((await volumesOf(uid)).length, 1, 'exactly one home volume');
        assert.equal((ws.status as { docker: { containerId: string } }).docker.containerId, seen.id);
        await waitForCondition(cp.kubeConfig, { kind: 'Workspace', namespace: ns.name, name }, 'Bootstrapped', 'True', { timeoutMs: 60_000 });
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    });
  }

  it('puts no secret value in its log (debug level), in Events or in status', async () => {
    const values = {
      env: `env-secret-${Math.random().toString(36).slice(2)}`,
      file: `-----BEGIN KEY-----\nfile-secret-${Math.random().toString(36).slice(2)}\n-----END KEY-----\n`,
      editor: `editor-pass-${Math.random().toString(36).slice(2)}`,
    };
    const secrets = new ResourceClient<Obj>(rest, secretRef);
    await secrets.create({
      metadata: { name: 'very-secret', namespace: ns.name },
      type: 'Opaque',
      data: { env: b64(values.env), file: b64(values.file), editor: b64(values.editor) },
    });
    const controller = startController();
    try {
      await workspaces.create(workspace('secretive', {
        env: [{ name: 'API_TOKEN', secretKeyRef: { name: 'very-secret', key: 'env' } }],
        files: [{ path: '/etc/outrigger-test/key.pem', secretKeyRef: { name: 'very-secret', key: 'file' } }],
        editor: { passwordSecretRef: { name: 'very-secret', key: 'editor' } },
        // Prints every secret it can see, then fails: its output reaches status and an event.
        bootstrap: { script: 'echo "token=$API_TOKEN password=$PASSWORD"\ncat /etc/outrigger-test/key.pem\nexit 1\n' },
      }));
      await workspaces.create(workspace('wrong-key', { env: [{ name: 'X', secretKeyRef: { name: 'very-secret', key: 'nope' } }] }));
      const failed = await waitForCondition(cp.kubeConfig, { kind: 'Workspace', namespace: ns.name, name: 'secretive' }, 'Bootstrapped', 'False', { timeoutMs: 60_000 });
      const message = (failed.status?.conditions ?? []).find((c) => c.type === 'Bootstrapped')?.message ?? '';
      assert.match(message, /token=\[redacted\] password=\[redacted\]/, 'the script ran and its output was redacted');
      const wrong = await waitForCondition(cp.kubeConfig, { kind: 'Workspace', namespace: ns.name, name: 'wrong-key' }, 'Ready', 'False', { timeoutMs: 30_000 });
      const wrongCond = (wrong.status?.conditions ?? []).find((c) => c.type === 'Ready');
      assert.equal(wrongCond?.reason, 'SecretKeyMissing');
      assert.match(wrongCond?.message ?? '', /spec\.env\[0\]\.secretKeyRef: Secret "very-secret" has no key "nope" \(it has: editor, env, file\)/);
      await waitFor(async () => {
        const events = await listEvents();
        return events.some((e) => e.reason === 'BootstrapFailed') && events.some((e) => e.reason === 'SecretKeyMissing');
      }, { description: 'the BootstrapFailed and SecretKeyMissing events' });
    } finally {
      controller.child.kill('SIGTERM');
      await controller.exited;
    }

    const log = allOutput.join('');
    assert.match(log, /"level":"debug"/, 'the log was at debug level');
    const status = JSON.stringify((await workspaces.list(ns.name)).items.map((w) => w.status));
    const events = JSON.stringify(await listEvents());
    const needles = [values.env, values.editor, ...values.file.split('\n').filter((l) => l.includes('file-secret'))];
    for (const needle of needles) {
      for (const form of [needle, b64(needle)]) {
        assert.ok(!log.includes(form), 'a secret value in the controller log');
        assert.ok(!events.includes(form), 'a secret value in an Event');
        assert.ok(!status.includes(form), 'a secret value in status');
      }
    }
  });

  async function listEvents(): Promise<Array<{ reason: string; note: string }>> {
    const events = new ResourceClient<Obj>(rest, { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true });
    return (await events.list(ns.name)).items as unknown as Array<{ reason: string; note: string }>;
  }
});

function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}
