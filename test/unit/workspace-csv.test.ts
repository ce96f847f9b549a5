// `outrigger workspaces-from-csv`: rows become valid Workspace manifests with the class labels;
// every bad row is reported by line and column (or the flag to fix) and nothing is written.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { validateManifest, workspaceKind } from '../../crds/index.ts';
import { CLASS_LABEL, USER_LABEL, formatProblem, runWorkspacesFromCsv, workspacesFromCsv, type CsvOptions } from '../../cli/workspaces-from-csv.ts';

const KEY1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAl1W1PD5apahWD3x5EovSm5QoQ/M6A40KfY5u+yUQZH alice@laptop';
const KEY2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBZGSp9kdeDX8plz7JwmiBO9JtyM7c2jM05NUqBCjDL7 alice@desk';
const opts: CsvOptions = { fileName: 'users.csv', host: 'local', image: 'outrigger-test/workspace:1', className: 'cs101', namespace: 'class-a' };

describe('workspacesFromCsv', () => {
  it('turns rows into labelled, valid Workspaces', () => {
    const csv = [
      'Name,SSH Key,ssh_key_2,owner,memory,cpu,idle_timeout,label.team,annotation.example.org/seat',
      `alice,${KEY1},${KEY2},alice@example.com,2Gi,2,1h,red,A4`,
      'bob_b,,,,,,,,',
    ].join('\n');
    const { manifests, problems } = workspacesFromCsv(csv, { ...opts, idleTimeout: '2h', publishAddress: '127.0.0.1' });
    assert.deepEqual(problems, []);
    assert.equal(manifests.length, 2);
    const [alice, bob] = manifests;
    assert.equal(alice!.metadata.name, 'cs101-alice');
    assert.equal(alice!.metadata.namespace, 'class-a');
    assert.deepEqual(alice!.metadata.labels, { [USER_LABEL]: 'alice', 'outrigger.dev/generated-by': 'workspaces-from-csv', [CLASS_LABEL]: 'cs101', team: 'red' });
    assert.deepEqual(alice!.metadata.annotations, { 'example.org/seat': 'A4' });
    assert.deepEqual(alice!.spec, {
      owner: 'alice@example.com',
      runtime: { docker: { hostRef: { name: 'local' }, image: 'outrigger-test/workspace:1', publishAddress: '127.0.0.1' } },
      user: { name: 'alice' },
      resources: { cpu: 2, memory: '2Gi' },
      ssh: { authorizedKeys: [KEY1, KEY2] },
      idleTimeout: '1h',
    });
    assert.equal(bob!.metadata.name, 'cs101-bob-b', '"_" is not allowed in object names');
    assert.equal(bob!.metadata.labels[USER_LABEL], 'bob_b', 'the label keeps the user name as it is');
    assert.equal(bob!.spec.idleTimeout, '2h', '--idle-timeout is the default');
    for (const m of manifests) assert.ok(validateManifest(workspaceKind, m).ok);
  });

  it('accepts several keys in one quoted field', () => {
    const { manifests, problems } = workspacesFromCsv(`name,ssh_key\ncarol,"${KEY1}\n${KEY2}"\n`, opts);
    assert.deepEqual(problems, []);
    assert.deepEqual((manifests[0]!.spec.ssh as { authorizedKeys: string[] }).authorizedKeys, [KEY1, KEY2]);
  });

  const bad: Array<{ why: string; csv: string; opts?: Partial<CsvOptions>; expect: string[] }> = [
    { why: 'a bad key names its line and column', csv: `name,ssh_key,ssh_key_2\nalice,${KEY1},not-a-key\n`, expect: ['users.csv:2: column ssh_key_2: must be one OpenSSH public key line'] },
    { why: 'a bad quantity', csv: 'name,memory\n# a comment line\nalice,lots\n', expect: ['users.csv:3: column memory: must be a quantity'] },
    { why: 'a bad user name', csv: 'name\nAlice\n', expect: ['users.csv:2: column name (with --class): must be a lower-case DNS name', 'users.csv:2: column name: must be a POSIX user name'] },
    { why: 'a duplicate user', csv: 'name\nbob\nbob\n', expect: ['users.csv:3: column name: gives the Workspace name cs101-bob again (first on line 2)'] },
    { why: 'an unknown column', csv: 'name,colour\nalice,red\n', expect: ['users.csv:1: column colour: unknown column'] },
    { why: 'no name column', csv: 'user\nalice\n', expect: ['users.csv:1: column header: needs a "name" column', 'users.csv:1: column user: unknown column'] },
    { why: 'a ragged row', csv: 'name,memory\nalice\n', expect: ['users.csv:2: file: not readable as CSV'] },
    { why: 'a bad label value', csv: 'name,label.team\nalice,red team\n', expect: ['users.csv:2: column label.team: must be a label value'] },
    { why: 'a bad image is reported once, as the flag', csv: 'name\nalice\nbob\n', opts: { image: 'Not An Image' }, expect: ['users.csv: --image: must be an image reference'] },
    { why: 'a bad class', csv: 'name\nalice\n', opts: { className: 'CS 101' }, expect: ['users.csv: --class: must be a DNS label'] },
    { why: 'an empty file', csv: 'name\n', expect: ['users.csv: file: has no rows'] },
  ];
  for (const b of bad) {
    it(`reports ${b.why}, and returns no manifests`, () => {
      const { manifests, problems } = workspacesFromCsv(b.csv, { ...opts, ...b.opts });
      assert.deepEqual(manifests, []);
      const lines = problems.map((p) => formatProblem(p, 'users.csv'));
      assert.equal(lines.length, b.expect.length, lines.join('\n'));
      b.expect.forEach((e, i) => assert.ok(lines[i]!.startsWith(e), `${lines[i]} should start with ${e}`));
    });
  }
});

describe('the command', () => {
  function run(args: string[], files: Record<string, string>) {
    const out: string[] = [];
    const err: string[] = [];
    const code = runWorkspacesFromCsv(args, {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      readFile: (p) => {
        if (!(p in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
        return files[p]!;
      },
    });
    return { code, stdout: out.join(''), stderr: err.join('') };
  }

  it('writes YAML documents kubectl applies', () => {
    const r = run(['--file', 'u.csv', '--host', 'local', '--image', 'img:1', '--class', 'cs101'], { 'u.csv': `name,ssh_key\nalice,${KEY1}\nbob,${KEY2}\n` });
    assert.equal(r.code, 0, r.stderr);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
    assert.deepEqual(docs.map((d) => d.metadata.name), ['cs101-alice', 'cs101-bob']);
    assert.match(r.stdout, /^# 2 Workspace\(s\) from u\.csv, class cs101/);
  });

  it('writes nothing when a row is bad, and exits 1', () => {
    const r = run(['--file', 'u.csv', '--host', 'local', '--image', 'img:1'], { 'u.csv': `name,ssh_key\nalice,${KEY1}\nbob,nope\n` });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /u\.csv:3: column ssh_key: /);
    assert.match(r.stderr, /nothing was written/);
  });

  it('exits 2 on usage errors', () => {
    assert.equal(run(['--file', 'u.csv'], {}).code, 2);
    assert.match(run(['--file', 'u.csv'], {}).stderr, /missing --host, --image/);
    assert.equal(run(['--file', 'x.csv', '--host', 'h', '--image', 'i'], {}).code, 2);
    assert.equal(run(['--bogus'], {}).code, 2);
  });
});
