// The bootstrap step's shell scripts, run for real by this machine's sh in a temporary home (the
// integration test runs them in the workspace image): once per home through the marker, scripts
// with and without #!, the log kept in the home, a failure reported with its exit code and last
// lines and with secret values redacted; and the redaction itself.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapCommand, redact, runBootstrap, tail, type Exec } from '../../reconcilers/workspace/bootstrap.ts';

/** Runs the command here instead of in a container: same argv, stdin, env and working directory. */
const localExec: Exec = (cmd, opts) =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { cwd: opts.workingDir, env: { PATH: process.env.PATH, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.once('error', reject);
    // A command that exits before reading all of stdin closes the pipe: the exit code tells the story.
    child.stdin.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') reject(err); });
    child.once('close', (code) => resolve({ exitCode: code ?? -1, stdout, stderr, truncated: false }));
    child.stdin.end(opts.stdin ?? '');
  });

describe('bootstrap scripts', () => {
  let home: string;
  const uid = process.getuid?.() ?? 0;
  const user = () => ({ name: 'dev', uid, home });
  before(() => { home = mkdtempSync(join(tmpdir(), 'outrigger-bootstrap-')); });
  after(() => rmSync(home, { recursive: true, force: true }));

  it('runs a #! script once per home, keeps its output in the home and marks the home', async () => {
    const script = '#!/bin/sh\necho ran >> "$HOME/count"\necho "hello from $USER"\n';
    const first = await runBootstrap(localExec, { script }, user(), []);
    assert.equal(first.state, 'Succeeded');
    assert.equal(first.alreadyDone, false);
    assert.equal(readFileSync(join(home, 'count'), 'utf8'), 'ran\n');
    assert.match(readFileSync(join(home, '.outrigger/bootstrap.log'), 'utf8'), /hello from dev/);
    assert.ok(existsSync(join(home, '.outrigger/bootstrapped')));

    const second = await runBootstrap(localExec, { script }, user(), []);
    assert.equal(second.state, 'Succeeded');
    assert.equal(second.alreadyDone, true, 'the marker says it ran');
    assert.equal(readFileSync(join(home, 'count'), 'utf8'), 'ran\n', 'not run twice');
  });

  it('runs a script without #! with sh; a failure reports the exit code and the last lines, secrets redacted', async () => {
    rmSync(join(home, '.outrigger'), { recursive: true, force: true });
    const script = 'for i in 1 2 3 4 5 6 7; do echo "step $i"; done\necho "token s3cr3t-t0ken leaked"\necho "broken" >&2\nexit 7\n';
    const outcome = await runBootstrap(localExec, { script }, user(), ['s3cr3t-t0ken']);
    assert.equal(outcome.state, 'Failed');
    assert.equal(outcome.exitCode, 7);
    assert.match(outcome.message, /failed with exit code 7/);
    assert.match(outcome.message, /"step 7" \| "token \[redacted\] leaked" \| "broken"/);
    assert.doesNotMatch(outcome.message, /step 1"/, 'only the last lines');
    assert.doesNotMatch(outcome.message, /s3cr3t/);
    assert.ok(!existsSync(join(home, '.outrigger/bootstrapped')), 'no marker after a failure: it runs again when the spec changes');
  });

  it('passes dotfiles settings as arguments, never inside the script text', () => {
    const { cmd, stdin } = bootstrapCommand({ dotfiles: { repository: 'https://git.example.org/a/dots.git', ref: 'main', installScript: 'install.sh' } }, user());
    assert.equal(stdin, undefined);
    assert.deepEqual(cmd.slice(3), ['outrigger-bootstrap', home, 'https://git.example.org/a/dots.git', 'main', 'install.sh']);
    assert.ok(!cmd[2]!.includes('git.example.org'));
  });

  it('a dotfiles step in an image without git fails saying so', async () => {
    rmSync(join(home, '.outrigger'), { recursive: true, force: true });
    const noGit: Exec = (cmd, opts) => localExec(cmd, { ...opts, env: { ...opts.env, PATH: '/nonexistent' } });
    // PATH without git (and without the tools the script needs): run the user part with a PATH that has sh helpers only.
    const outcome = await runBootstrap((cmd, opts) => (opts.user === '0' ? localExec(cmd, opts) : noGit(['/bin/sh', ...cmd.slice(1)], opts)), { dotfiles: { repository: 'https://git.example.org/a/dots.git' } }, user(), []);
    assert.equal(outcome.state, 'Failed');
    assert.match(outcome.message, /git is not installed in the image|not found/);
  });
});

describe('redaction', () => {
  it('replaces whole values and each line of multi-line values, longest first', () => {
    const pem = '-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\n-----END KEY-----';
    assert.equal(redact('x AAAABBBBCCCCDDDD y', [pem]), 'x [redacted] y');
    assert.equal(redact('pw=hunter22 and hunter2', ['hunter22', 'hunter2']), 'pw=[redacted] and [redacted]');
    assert.equal(redact('abc', ['abc']), 'abc', 'values shorter than 4 characters are left (they would mangle everything)');
  });

  it('tail keeps a few lines, one line of text, no control characters', () => {
    assert.equal(tail('a\n\nb\x1b[31m\nc\n', [], 2), '"b[31m" | "c"');
    assert.ok(tail('x'.repeat(5000), []).length <= 600);
  });
});
