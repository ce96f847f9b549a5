// A production install runs: the files the Dockerfile copies, production dependencies only
// (`npm ci --omit=dev`, from npm's cache: no network), every runtime module loads and the controller
// starts. So a runtime import of proxmox-api (types only) or of any other devDependency fails here
// instead of in a user's image. Run with the project's own node (the `node` devDependency).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, globSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runCommand } from '../controlplane/process.ts';
import { waitFor } from '../fixtures/wait.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NODE = join(ROOT, 'node_modules/node/bin/node');
const ENV = { ...process.env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`, NODE_ENV: 'production' };

/** What the image holds, read from the Dockerfile's COPY lines (so this test follows it). */
function copiedByDockerfile(): string[] {
  const files = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split('\n')
    .map((l) => /^COPY\s+(?!--from)(\S+)(?:\s+\S+)*\s+\S+$/.exec(l.trim())?.[1])
    .filter((x): x is string => !!x);
  return [...new Set(['package.json', 'package-lock.json', ...files])];
}

function freePort(): Promise<number> {
  return new Promise((res) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

describe('production install', () => {
  let dir: string;
  let installError: string | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outrigger-prod-'));
    for (const entry of copiedByDockerfile()) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
    const npm = await runCommand('npm', ['ci', '--omit=dev', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', '--loglevel=error'],
      { cwd: dir, env: ENV, timeoutMs: 300_000 });
    if (npm.code !== 0) installError = `npm ci --omit=dev --offline failed (the npm cache must hold every package: run npm ci first):\n${npm.stderr.slice(-3000)}`;
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installs no devDependency that no production package needs', () => {
    assert.equal(installError, undefined);
    assert.equal(existsSync(join(dir, 'node_modules/proxmox-api')), false, 'proxmox-api is used for types only');
    assert.equal(existsSync(join(dir, 'node_modules/typescript')), false);
    assert.equal(existsSync(join(dir, 'node_modules/undici')), true, 'the Proxmox client\'s runtime dependency is there');
  });

  it('loads every runtime module with production dependencies only', async () => {
    assert.equal(installError, undefined);
    const modules = copiedByDockerfile()
      .filter((e) => !e.endsWith('.json'))
      .flatMap((e) => globSync(`${e}/**/*.ts`, { cwd: dir }))
      .filter((f) => !f.endsWith('.d.ts'));
    assert.ok(modules.some((m) => m.startsWith('reconcilers/proxmox/')), 'the Proxmox provider is among them');
    const script = `for (const f of ${JSON.stringify(modules.map((m) => pathToFileURL(join(dir, m)).href))}) {
      try { await import(f); } catch (err) { console.error('FAILED ' + f + ': ' + err.message); process.exitCode = 1; }
    }`;
    const run = await runCommand(NODE, ['--input-type=module', '-e', script], { cwd: dir, env: ENV, timeoutMs: 120_000 });
    assert.equal(run.code, 0, `${run.stderr.split('\n').filter((l) => l.startsWith('FAILED')).join('\n') || run.stderr.slice(-2000)}`);
  });

  it('starts the controller (standalone) and stops on SIGTERM', async () => {
    assert.equal(installError, undefined);
    const [apiPort, httpPort] = [await freePort(), await freePort()];
    const child = spawn(NODE, ['bin/outrigger.ts', 'start', '--state-dir', join(dir, 'state'), '--port', String(apiPort),
      '--http-bind-address', `127.0.0.1:${httpPort}`], { cwd: dir, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    try {
      await waitFor(() => output.includes('controller started'), { description: `the controller to start; output:\n${output}`, timeoutMs: 60_000 });
      const ready = await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok, { description: '/readyz', timeoutMs: 30_000 });
      assert.equal(ready, true);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, output.slice(-2000));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
