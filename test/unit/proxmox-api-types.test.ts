// The client is typed by proxmox-api's model of the whole API: a path PVE does not have, a method
// it does not take there, or a wrong parameter fails to compile. Compiles the probe file alone.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('Proxmox API types', () => {
  it('reject wrong paths, methods and parameters at compile time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outrigger-api-types-'));
    try {
      const config = join(dir, 'tsconfig.json');
      writeFileSync(config, JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), compilerOptions: { typeRoots: [join(ROOT, 'node_modules/@types')] }, include: [], files: [join(ROOT, 'test/unit/proxmox-api-types.probe.ts')] }));
      const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
      const run = await promisify(execFile)(process.execPath, [tsc, '-p', config, '--noEmit'], { cwd: ROOT }).then(
        () => ({ code: 0, out: '' }),
        (err: { code?: number; stdout?: string }) => ({ code: err.code ?? 1, out: err.stdout ?? '' }),
      );
      assert.equal(run.code, 0, `the probe must compile with exactly its expected errors:\n${run.out}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
