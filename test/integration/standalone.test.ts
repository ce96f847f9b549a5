// `npm start` with no cluster: the embedded API and the controller in one process. A new user's
// first five minutes, end to end: kubectl applies the quickstart (a Host on the local Docker engine
// and a Workspace on it), the Workspace becomes Ready with a real container, state survives a
// restart, and SIGTERM stops everything cleanly.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { controlPlaneBinDir } from '../fixtures/controlplane.ts';
import { dockerClient, dockerSkipReason, dockerSocket, ensureWorkspaceImage, WORKSPACE_IMAGE_ENV } from '../fixtures/docker.ts';
import { waitFor } from '../fixtures/wait.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'bin', 'outrigger.ts');

interface Running { child: ChildProcess; output: () => string; exited: Promise<number | null> }

function startStandalone(cwd: string): Running {
  const child = spawn(process.execPath, [cli, 'start', '--port', '0', '--http-bind-address', '127.0.0.1:0'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => { output += String(d); });
  child.stderr!.on('data', (d) => { output += String(d); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function kubectl(kubeconfig: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(join(controlPlaneBinDir(), 'kubectl'), [`--kubeconfig=${kubeconfig}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += String(d); });
  child.stderr.on('data', (d) => { stderr += String(d); });
  child.stdin.end(input ?? '');
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  return { code, stdout, stderr };
}

async function stop(run: Running): Promise<number | null> {
  run.child.kill('SIGTERM');
  const code = await Promise.race([run.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
  if (code === 'timeout') {
    run.child.kill('SIGKILL');
    throw new Error(`outrigger start did not exit within 30 s of SIGTERM; output:\n${run.output().slice(-3000)}`);
  }
  return code;
}

const skip = process.env.CI === 'true' ? undefined : await dockerSkipReason();

describe('npm start: standalone with no cluster', { skip }, () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'outrigger-standalone-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('serves kubectl, makes the quickstart Workspace Ready on local Docker, survives a restart, stops on SIGTERM', async () => {
    const image = process.env[WORKSPACE_IMAGE_ENV] || (await ensureWorkspaceImage(dockerClient())).tag;
    const docs = ['01-local-docker-host.yaml', '02-workspace.yaml']
      .flatMap((f) => parseAllDocuments(readFileSync(join(root, 'examples', f), 'utf8')).map((d) => d.toJS()))
      .map((o) => {
        if (o.kind === 'Host') o.spec.docker.unix.path = dockerSocket();
        // No registry is reachable here: the quickstart runs the locally built image.
        if (o.kind === 'Workspace') {
          o.spec.runtime.docker.image = image;
          // The local image has no git; keep the example's bootstrap step, minus its git line.
          o.spec.bootstrap.script = o.spec.bootstrap.script.split('\n').filter((l: string) => !l.startsWith('git ')).join('\n');
        }
        return o;
      });
    const manifest = join(dir, 'quickstart.yaml');
    writeFileSync(manifest, docs.map((d) => stringify(d)).join('---\n'));

    let run = startStandalone(dir);
    const kubeconfig = join(dir, '.outrigger', 'kubeconfig');
    try {
      await waitFor(() => run.output().includes('controller started'), { description: 'outrigger start to print that the controller started', timeoutMs: 60_000 });
      assert.match(run.output(), /export KUBECONFIG=/, 'it tells the user how to point kubectl at it');

      const applied = await kubectl(kubeconfig, ['apply', '-f', manifest]);
      assert.equal(applied.code, 0, applied.stderr);
      const waited = await kubectl(kubeconfig, ['wait', '--for=condition=Ready', 'workspace/alice', '--timeout=180s']);
      assert.equal(waited.code, 0, `${waited.stderr}\n${(await kubectl(kubeconfig, ['get', 'workspace', 'alice', '-o', 'yaml'])).stdout}\n${run.output().slice(-3000)}`);
      const listed = await kubectl(kubeconfig, ['get', 'outrigger']);
      assert.match(listed.stdout, /workspace\.outrigger\.dev\/alice/);

      const ws = JSON.parse((await kubectl(kubeconfig, ['get', 'workspace', 'alice', '-o', 'json'])).stdout);
      const containers = await dockerClient().listContainers({ all: true, filters: { label: ['dev.outrigger.role=workspace', `dev.outrigger.owner.uid=${ws.metadata.uid}`] } });
      assert.equal(containers.length, 1, 'exactly one container carries the Workspace uid');
      assert.equal(containers[0]!.State, 'running');

      assert.equal(await stop(run), 0, `exit code after SIGTERM; output:\n${run.output().slice(-2000)}`);

      // The state file keeps every object across a restart.
      run = startStandalone(dir);
      await waitFor(() => run.output().includes('controller started'), { description: 'the restarted process to start', timeoutMs: 60_000 });
      const again = JSON.parse((await kubectl(kubeconfig, ['get', 'workspace', 'alice', '-o', 'json'])).stdout);
      assert.equal(again.metadata.uid, ws.metadata.uid);

      const deleted = await kubectl(kubeconfig, ['delete', 'workspace', 'alice', '--timeout=120s']);
      assert.equal(deleted.code, 0, deleted.stderr);
      await waitFor(async () => (await dockerClient().listContainers({ all: true, filters: { label: ['dev.outrigger.role=workspace', `dev.outrigger.owner.uid=${ws.metadata.uid}`] } })).length === 0, { description: 'the container to be removed with the Workspace', timeoutMs: 60_000 });
      assert.equal(await stop(run), 0);
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
  });
});
