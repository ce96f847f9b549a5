// The Argo CD health checks, run by Debian's lua5.1 (Argo CD embeds Lua 5.1) on the fixture objects
// in test/fixtures/argocd/, each of which names the health it must get.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { allKinds } from '../../crds/index.ts';
import { customizationKey, renderHealthChecks } from '../../argocd/generate.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'argocd');
const LUA = 'lua5.1';

function luaSkipReason(): string | undefined {
  const probe = spawnSync(LUA, ['-v'], { encoding: 'utf8' });
  if (!probe.error) return undefined;
  const reason = `${LUA} is not installed (apt-get install lua5.1)`;
  if (process.env.CI === 'true') throw new Error(`CI: ${reason}`);
  return reason;
}

/** A Lua 5.1 literal for a JSON value, as Argo CD hands objects to its scripts (arrays 1-based). */
function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a JSON number: ${value}`);
    return String(value);
  }
  if (typeof value === 'string') {
    let out = '"';
    for (const byte of Buffer.from(value, 'utf8')) {
      const printable = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
      out += printable ? String.fromCharCode(byte) : `\\${byte}`;
    }
    return `${out}"`;
  }
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== null && v !== undefined);
  return `{${entries.map(([k, v]) => `[${toLua(k)}] = ${toLua(v)}`).join(', ')}}`;
}

// Argo CD's sandbox opens the base, table, string and math libraries only: no io, os or require.
const HARNESS = (objectLiteral: string) => `
obj = ${objectLiteral}
local chunk = assert(loadfile(arg[1]))
setfenv(chunk, {
  obj = obj, ipairs = ipairs, pairs = pairs, next = next, type = type, tostring = tostring,
  tonumber = tonumber, select = select, unpack = unpack, error = error, pcall = pcall,
  string = string, table = table, math = math,
})
local hs = chunk()
io.write(tostring(hs.status), "\\n", tostring(hs.message), "\\n")
`;

function runHealth(kind: string, object: unknown): { status: string; message: string } {
  const script = join(ROOT, 'argocd', 'health', `${kind}.lua`);
  const result = spawnSync(LUA, ['-', script], { input: HARNESS(toLua(object)), encoding: 'utf8', timeout: 10_000 });
  assert.equal(result.status, 0, `${LUA} failed on ${kind}: ${result.stderr}`);
  const [status = '', message = ''] = result.stdout.split('\n');
  return { status, message };
}

interface Fixture {
  file: string;
  expect: { status: string; message: string };
  object: { kind: string };
}

const fixtures: Fixture[] = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => ({ file, ...(parse(readFileSync(join(FIXTURES, file), 'utf8')) as Omit<Fixture, 'file'>) }));

describe('Argo CD health checks', { skip: luaSkipReason() }, () => {
  for (const f of fixtures) {
    it(`${f.file}: ${f.object.kind} is ${f.expect.status}`, () => {
      assert.deepEqual(runHealth(f.object.kind, f.object), f.expect);
    });
  }

  it('has fixtures for every kind, healthy and not', () => {
    for (const def of allKinds) {
      const mine = fixtures.filter((f) => f.object.kind === def.kind).map((f) => f.expect.status);
      assert.ok(mine.includes('Healthy'), `${def.kind} needs a Healthy fixture`);
      assert.ok(mine.some((s) => s !== 'Healthy'), `${def.kind} needs a fixture that is not Healthy`);
    }
  });

  it('never fails on odd objects (Argo CD would show the error instead of a health)', () => {
    for (const def of allKinds) {
      for (const odd of [{}, { metadata: {} }, { status: {} }, { status: { conditions: [] } }, { status: { conditions: [{}] } }, { metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [{ type: 'Ready' }] } }]) {
        const hs = runHealth(def.kind, { kind: def.kind, ...odd });
        assert.ok(['Progressing', 'Degraded', 'Healthy', 'Suspended'].includes(hs.status), `${def.kind} ${JSON.stringify(odd)}: ${hs.status}`);
      }
    }
  });
});

describe('Argo CD health checks: generated files', () => {
  it('health/*.lua and argocd-cm.yaml are what argocd/generate.ts makes (run it after editing lua/)', () => {
    for (const { file, text } of renderHealthChecks()) {
      assert.equal(readFileSync(join(ROOT, 'argocd', file), 'utf8'), text, `argocd/${file} is stale: run node argocd/generate.ts`);
    }
  });

  it('argocd-cm.yaml holds one key per kind, each the kind\'s script', () => {
    const cm = parse(readFileSync(join(ROOT, 'argocd', 'argocd-cm.yaml'), 'utf8')) as { data: Record<string, string> };
    assert.deepEqual(Object.keys(cm.data).sort(), allKinds.map((d) => customizationKey(d.kind)).sort());
    for (const def of allKinds) {
      assert.equal(cm.data[customizationKey(def.kind)], readFileSync(join(ROOT, 'argocd', 'health', `${def.kind}.lua`), 'utf8'));
    }
  });
});
