// The test command (`npm test`, `node test/run.ts [files|dirs|globs] [--node-test-flags=...]`).
//
// For integration tests it builds (or finds cached) control-plane binaries, starts ONE shared
// etcd + kube-apiserver, exports its kubeconfig as OUTRIGGER_TEST_KUBECONFIG, runs the global
// fixtures in test/fixtures/global/*.ts (each `export async function setup(): Promise<{ env?,
// teardown() }>`), then runs `node --test` once over the selected files and tears everything down,
// also on SIGINT/SIGTERM. Exits with the test runner's code. Outside a terminal the runner reports
// TAP, whose closing lines ("# pass N", "# fail N") are the totals.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, globSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  BIN_DIR_ENV,
  SHARED_ERROR_ENV,
  SHARED_KUBECONFIG_ENV,
  startControlPlane,
  type ControlPlane,
} from './fixtures/controlplane.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface GlobalFixture {
  name: string;
  teardown(): Promise<void>;
}

/** A mistake in the command line: reported without a stack. */
class UsageError extends Error {}

function log(message: string): void {
  process.stderr.write(`[test/run] ${message}\n`);
}

function testFilesUnder(pattern: string): string[] {
  return globSync(pattern, { cwd: ROOT }).sort();
}

/** Expands arguments (files, folders or globs) into test files relative to the repository root. */
function selectFiles(filters: string[]): string[] {
  if (filters.length === 0) {
    return [...testFilesUnder('test/unit/**/*.test.ts'), ...testFilesUnder('test/integration/**/*.test.ts')];
  }
  const files = new Set<string>();
  for (const filter of filters) {
    const abs = resolve(filter);
    const rel = relative(ROOT, abs);
    if (existsSync(abs) && statSync(abs).isDirectory()) {
      for (const f of testFilesUnder(join(rel, '**', '*.test.ts'))) files.add(f);
    } else if (existsSync(abs)) {
      files.add(rel);
    } else {
      const matched = testFilesUnder(rel);
      if (matched.length === 0) throw new UsageError(`no test file matches ${filter}`);
      for (const f of matched) files.add(f);
    }
  }
  return [...files];
}

const isUnit = (file: string): boolean => file.startsWith('test/unit/');

function buildControlPlaneBinaries(onChild: (c: ChildProcess) => void): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [join(ROOT, 'test/controlplane/build.sh')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    onChild(child);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => {
      const dir = out.trim().split('\n').pop() ?? '';
      if (code === 0 && dir) resolvePromise(dir);
      else reject(new Error(`test/controlplane/build.sh exited with ${code}`));
    });
  });
}

async function startGlobalFixtures(env: NodeJS.ProcessEnv, fixtures: GlobalFixture[]): Promise<void> {
  for (const file of testFilesUnder('test/fixtures/global/*.ts')) {
    const mod = (await import(pathToFileURL(join(ROOT, file)).href)) as {
      setup?: () => Promise<{ env?: Record<string, string>; teardown(): Promise<void> }>;
    };
    if (typeof mod.setup !== 'function') throw new Error(`${file} exports no setup()`);
    const began = Date.now();
    // Later fixtures and the tests see what earlier fixtures exported.
    const started = await mod.setup();
    fixtures.push({ name: file, teardown: started.teardown });
    Object.assign(env, started.env ?? {});
    Object.assign(process.env, started.env ?? {});
    log(`global fixture ${file} ready in ${Date.now() - began} ms`);
  }
}

/** The whole node --test run must end within this (a file that never exits would hang CI). */
const RUN_BUDGET_MS = Number(process.env.OUTRIGGER_TEST_BUDGET_MS ?? 50 * 60_000);

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  try {
    if (pid) process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function runNodeTest(args: string[], env: NodeJS.ProcessEnv, onChild: (c: ChildProcess) => void): Promise<number> {
  return new Promise((resolvePromise) => {
    // Its own process group, so an interrupt can stop the runner and every test file it started.
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: 'inherit', detached: true });
    onChild(child);
    let overBudget = false;
    const watchdog = setTimeout(() => {
      overBudget = true;
      log(`the test run exceeded ${Math.round(RUN_BUDGET_MS / 60_000)} min: a test file probably keeps a handle open and never exits; stopping it`);
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid, 'SIGKILL'), 10_000).unref();
    }, RUN_BUDGET_MS);
    child.once('error', (err) => {
      clearTimeout(watchdog);
      log(`cannot start node --test: ${err.message}`);
      resolvePromise(1);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(watchdog);
      resolvePromise(overBudget ? 1 : code ?? (signal ? 1 : 0));
    });
  });
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const runnerFlags = argv.filter((a) => a.startsWith('-'));
  const files = selectFiles(argv.filter((a) => !a.startsWith('-')));
  if (files.length === 0) {
    log('no test files found');
    return 1;
  }
  const needsServers = files.some((f) => !isUnit(f));

  let controlPlane: ControlPlane | undefined;
  const fixtures: GlobalFixture[] = [];
  let child: ChildProcess | undefined;
  let tearingDown: Promise<void> | undefined;

  const teardown = (): Promise<void> =>
    (tearingDown ??= (async () => {
      for (const fixture of fixtures.reverse()) {
        try {
          await fixture.teardown();
        } catch (err) {
          log(`teardown of ${fixture.name} failed: ${err instanceof Error ? err.message : String(err)}`);
          process.exitCode = 1;
        }
      }
      await controlPlane?.stop();
    })());

  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping the running command and the fixtures`);
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child?.pid, 'SIGKILL'), 10_000).unref();
    }
    void teardown().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const env: NodeJS.ProcessEnv = { ...process.env };
  try {
    if (needsServers) {
      let binDir: string | undefined;
      const buildStarted = Date.now();
      try {
        binDir = await buildControlPlaneBinaries((c) => (child = c));
        log(`control plane binaries in ${binDir} (${Date.now() - buildStarted} ms)`);
      } catch (err) {
        // Its tests skip with the reason, or in CI fail with it; the other tests still run.
        const reason = `the control plane could not be built: ${err instanceof Error ? err.message : String(err)}`;
        env[SHARED_ERROR_ENV] = reason;
        log(reason);
      }
      if (binDir) {
        env[BIN_DIR_ENV] = binDir;
        try {
          controlPlane = await startControlPlane({ binDir });
          env[SHARED_KUBECONFIG_ENV] = controlPlane.kubeconfigPath;
          log(`shared control plane at ${controlPlane.server} started in ${controlPlane.startupMs} ms`);
        } catch (err) {
          // The tests still run: those needing the control plane fail with this reason, the rest report.
          const reason = err instanceof Error ? err.message : String(err);
          env[SHARED_ERROR_ENV] = reason;
          log(`the shared control plane failed to start:\n${reason}`);
        }
      }
      await startGlobalFixtures(env, fixtures);
    }

    const reporter = runnerFlags.some((f) => f.startsWith('--test-reporter'))
      ? []
      : [`--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`];
    // Integration files share servers, so they run one file at a time; unit files alone run in parallel.
    const concurrency = needsServers ? 1 : Math.max(2, availableParallelism());
    const args = [
      '--test',
      `--test-concurrency=${concurrency}`,
      '--test-timeout=300000', // a hung test or hook fails after 5 minutes instead of eating the CI budget
      // No --test-force-exit: it exits a file's process before its results have crossed the pipe to
      // the runner, which then reports fewer tests, failures included, and still passes (Node
      // issue 64833). A file must close what it opens; the watchdog below bounds one that does not.
      ...reporter,
      ...runnerFlags,
      ...files,
    ];
    // Nothing is printed after the runner's own closing summary unless something failed.
    const code = await runNodeTest(args, env, (c) => (child = c));
    if (code !== 0) {
      // The summary counts tests only: a failed hook or a crashed file alone still says "# fail 0".
      log(`node --test exited with ${code}: see the "not ok" lines above (failed hooks count there, not in "# fail")`);
    }
    return code;
  } finally {
    await teardown();
  }
}

main().then(
  (code) => {
    process.exitCode = process.exitCode || code;
  },
  (err: unknown) => {
    log(err instanceof UsageError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);
