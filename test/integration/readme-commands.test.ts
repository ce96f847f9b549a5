// A newcomer's first minutes: the commands the READMEs show work as written on a machine whose
// `node` is older than 24 (Debian's is 18, many machines have 20). Such a node is simulated by a
// stub first on PATH that refuses .ts files and runs everything else (npm itself) with the
// machine's node; the project's node_modules/.bin is taken off PATH, as in a new shell. So a
// command that reaches Node 24 only by luck of the PATH fails here.
//
// - every `npx outrigger ...` command in README.md, cli/README.md, charts/outrigger/README.md and
//   examples/README.md runs and exits 0 (npm runs the project's own bin; it never asks a registry:
//   npm is offline here, with a cache of its own);
// - `npm start` logs one JSON object a line into a pipe and readable lines on a terminal (a pty
//   made by util-linux's `script`), and stops on Ctrl-C.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../fixtures/wait.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const READMES = ['README.md', 'cli/README.md', 'charts/outrigger/README.md', 'examples/README.md'];

/** Every `npx outrigger` command: inline code and lines of shell blocks (with `\` continuations joined). */
function npxCommands(): Array<{ file: string; command: string }> {
  const found: Array<{ file: string; command: string }> = [];
  for (const file of READMES) {
    const text = readFileSync(join(root, file), 'utf8');
    const blocks = [...text.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)].map((m) => m[1]!);
    for (const block of blocks) {
      for (const line of block.replace(/\\\n\s*/g, '').split('\n')) {
        if (line.trim().startsWith('npx outrigger')) found.push({ file, command: line.trim() });
      }
    }
    const prose = text.replace(/```[\s\S]*?```/g, '');
    // Inline code with arguments (a bare `npx outrigger` in a sentence names the command).
    for (const m of prose.matchAll(/`(npx outrigger [^`]+)`/g)) found.push({ file, command: m[1]! });
  }
  return found;
}

function which(program: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) if (dir && existsSync(join(dir, program))) return join(dir, program);
  return undefined;
}

interface Shell { env: NodeJS.ProcessEnv; dir: string }

/** An environment like a new shell's on a machine whose node is too old for the project. */
function oldNodeShell(): Shell {
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-readme-'));
  const path = (process.env.PATH ?? '').split(delimiter).filter((d) => d && !d.includes('node_modules')).join(delimiter);
  // npm needs some node to run on; the machine's, or this one where the machine has none.
  const machineNode = which('node', path) ?? process.execPath;
  const stubDir = join(dir, 'old-node');
  mkdirSync(stubDir);
  writeFileSync(join(stubDir, 'node'), `#!/bin/sh
# A node older than 24: it cannot run TypeScript files.
for a in "$@"; do case "$a" in *.ts) echo "old node: Unknown file extension .ts for $a" >&2; exit 97;; esac; done
exec '${machineNode}' "$@"
`);
  chmodSync(join(stubDir, 'node'), 0o755);
  const env: NodeJS.ProcessEnv = { HOME: process.env.HOME ?? dir, PATH: [stubDir, path].join(delimiter), LANG: 'C.UTF-8' };
  if (process.env.DOCKER_HOST) env.DOCKER_HOST = process.env.DOCKER_HOST;
  Object.assign(env, { npm_config_cache: join(dir, 'npm-cache'), npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false' });
  return { env, dir };
}

function run(shell: Shell, command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { cwd: root, env: shell.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += String(d); });
    child.stderr.on('data', (d) => { stderr += String(d); });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('README commands on a machine whose node is older than 24', () => {
  let shell: Shell;
  before(() => { shell = oldNodeShell(); });
  after(() => { rmSync(shell.dir, { recursive: true, force: true }); });

  it('the stub really is a node that cannot run the project', async () => {
    const r = await run(shell, 'node bin/outrigger.ts --help');
    assert.equal(r.code, 97, `node bin/outrigger.ts must fail with the old node: ${r.stderr}`);
  });

  const commands = npxCommands();
  it('the READMEs show the npx commands (the list below is not empty)', () => {
    assert.ok(commands.some((c) => c.file === 'README.md' && c.command === 'npx outrigger --help'), JSON.stringify(commands));
    assert.ok(commands.some((c) => c.file === 'cli/README.md'), JSON.stringify(commands));
  });

  for (const { file, command } of commands) {
    it(`${file}: ${command}`, async () => {
      // A redirect into a file would write into the repository: the output is checked instead.
      const r = await run(shell, command.replace(/\s+>\s*\S+$/, ''));
      assert.equal(r.code, 0, `exit ${r.code}\n${r.stderr.slice(-2000)}`);
      assert.ok(r.stdout.length > 0, 'it printed something');
      if (command.endsWith('--help')) assert.match(r.stdout, /^usage: outrigger/);
      if (command.includes('workspaces-from-csv')) assert.match(r.stdout, /kind: Workspace/);
    });
  }

  describe('npm start', () => {
    const startArgs = (state: string) => `npm start -- --state-dir ${state} --port 0 --http-bind-address 127.0.0.1:0`;

    it('logs one JSON object a line when its output is a pipe', async (t) => {
      const state = join(shell.dir, 'state-pipe');
      const child = spawn('sh', ['-c', `exec ${startArgs(state)}`], { cwd: root, env: shell.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      t.after(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => { stdout += String(d); });
      child.stderr!.on('data', (d) => { stderr += String(d); });
      // 'close': every process holding the pipes (npm, and the controller under it) is gone.
      const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
      await waitFor(() => stdout.includes('controller started'), { description: `npm start to log that the controller started (stderr: ${stderr.slice(-500)})`, timeoutMs: 60_000 });
      const entries = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string });
      assert.ok(entries.some((e) => e.msg === 'controller started' && e.level === 'info'), stdout);
      assert.match(stderr, /export KUBECONFIG=/, 'the banner says how to use kubectl');
      // As a supervisor stops it: SIGTERM to npm's pid alone. npm passes it to its child, which must
      // be the controller itself (not a shell that would die and leave the controller running).
      process.kill(child.pid!, 'SIGTERM');
      await waitFor(() => stdout.includes('controller stopped'), { description: 'the controller to stop after npm got SIGTERM', timeoutMs: 30_000 });
      await closed;
      const last = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string }).map((e) => e.msg);
      assert.ok(last.includes('shutting down') && last.includes('controller stopped'), `a clean stop: ${last.join(', ')}`);
    });

    it('logs readable lines on a terminal and stops on Ctrl-C', async (t) => {
      const state = join(shell.dir, 'state-tty');
      const child = spawn('script', ['-qfc', startArgs(state), '/dev/null'], { cwd: root, env: shell.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      t.after(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } });
      let out = '';
      child.stdout!.on('data', (d) => { out += String(d); });
      child.stderr!.on('data', (d) => { out += String(d); });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await waitFor(() => out.includes('controller started'), { description: 'npm start to log that the controller started on the terminal', timeoutMs: 60_000 });
      const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
      assert.match(plain, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: controller started \{"kinds":/m, plain);
      assert.ok(!/^\{"level"/m.test(plain), 'no JSON lines on a terminal');
      child.stdin!.write('\x03');
      await waitFor(() => out.includes('shutting down'), { description: 'Ctrl-C to stop it', timeoutMs: 30_000 });
      assert.equal(await exited, 0);
    });
  });
});
