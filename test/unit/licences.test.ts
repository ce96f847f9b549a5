// Every production dependency (what `npm ci --omit=dev` installs, and the image ships) has a licence
// Outrigger may ship under Apache-2.0. The list comes from package-lock.json and each package's own
// package.json in node_modules. proxmox-api (GPL-3.0) is used for its types only, so it must stay a
// devDependency: nothing of it is installed in production.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** SPDX ids allowed in production dependencies, each with why. */
const ALLOWED: Record<string, string> = {
  'Apache-2.0': 'Outrigger\'s own licence',
  MIT: 'permissive; only the copyright notice must be kept',
  'MIT-0': 'permissive, MIT without even the notice condition (nodemailer)',
  ISC: 'permissive, equivalent to MIT',
  'BSD-2-Clause': 'permissive; notice kept',
  'BSD-3-Clause': 'permissive; notice kept, no endorsement by the authors\' names',
  '0BSD': 'permissive, no conditions',
  Unlicense: 'public-domain dedication, no conditions',
  'PSF-2.0': 'permissive (Python Software Foundation licence), compatible with Apache-2.0',
  'BlueOak-1.0.0': 'permissive, no copyleft',
  'CC0-1.0': 'public-domain dedication',
};

interface LockEntry { dev?: boolean; devOptional?: boolean; optional?: boolean; license?: string; dependencies?: Record<string, string> }

function licenceOf(dir: string, lock: LockEntry): string | undefined {
  const file = join(ROOT, dir, 'package.json');
  if (!existsSync(file)) return lock.license;
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { license?: string | { type: string }; licenses?: Array<{ type: string } | string> };
  if (typeof pkg.license === 'string') return pkg.license;
  if (pkg.license?.type) return pkg.license.type;
  if (pkg.licenses) return pkg.licenses.map((l) => (typeof l === 'string' ? l : l.type)).join(' OR ');
  return lock.license;
}

/** An SPDX expression is allowed when one side of each OR, and every side of each AND, is. */
export function allowedExpression(expr: string): boolean {
  const bare = expr.trim().replace(/^\((.*)\)$/, '$1');
  if (/[()]/.test(bare)) return false;
  return bare.split(/\s+OR\s+/).some((alt) => alt.split(/\s+AND\s+/).every((id) => id.trim() in ALLOWED));
}

function productionPackages(): Array<{ name: string; dir: string; licence: string | undefined }> {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  return Object.entries(lock.packages)
    .filter(([dir, entry]) => dir !== '' && !entry.dev)
    .map(([dir, entry]) => ({ name: dir.replace(/^.*node_modules\//, ''), dir, licence: licenceOf(dir, entry) }));
}

describe('licences of production dependencies', () => {
  it('are all in the allow-list', (t) => {
    const packages = productionPackages();
    assert.ok(packages.length > 50, 'the lockfile lists the dependency tree');
    const byLicence = new Map<string, string[]>();
    for (const p of packages) byLicence.set(p.licence ?? '(none)', [...(byLicence.get(p.licence ?? '(none)') ?? []), p.name]);
    for (const [licence, names] of [...byLicence].sort()) t.diagnostic(`${licence}: ${names.length} (${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''})`);
    const refused = packages.filter((p) => !p.licence || !allowedExpression(p.licence));
    assert.deepEqual(refused.map((p) => `${p.name}: ${p.licence ?? 'no licence'}`), [], 'add a licence to ALLOWED only with the reason it may ship');
  });

  it('does not include proxmox-api (GPL-3.0, types only) or any other devDependency', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    assert.ok('proxmox-api' in pkg.devDependencies);
    assert.ok(!('proxmox-api' in pkg.dependencies));
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const production = Object.entries(lock.packages).filter(([dir, e]) => dir !== '' && !e.dev);
    const names = new Set(production.map(([dir]) => dir.replace(/^.*node_modules\//, '')));
    assert.ok(!names.has('proxmox-api'), 'proxmox-api is installed in production');
    assert.ok(!names.has('typescript') && !names.has('node'));
    // A devDependency may still arrive because a production package needs it (client-node needs @types/node).
    for (const dev of Object.keys(pkg.devDependencies).filter((d) => names.has(d))) {
      const neededBy = production.filter(([, e]) => e.dependencies && dev in e.dependencies).map(([dir]) => dir);
      assert.ok(neededBy.length > 0, `${dev} is installed in production but no production package needs it`);
    }
  });

  it('judges SPDX expressions', () => {
    assert.equal(allowedExpression('(BSD-3-Clause OR GPL-2.0)'), true, 'one allowed alternative is enough');
    assert.equal(allowedExpression('GPL-3.0'), false);
    assert.equal(allowedExpression('MIT AND GPL-3.0'), false, 'every part of an AND must be allowed');
    assert.equal(allowedExpression('MIT AND ISC'), true);
    assert.equal(allowedExpression('(MIT OR (GPL-2.0 AND ISC))'), false, 'nesting is not judged: refuse');
  });
});
