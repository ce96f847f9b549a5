// The reason catalogs: docs/reasons.md is generated from them, and every reason literal the
// reconcilers and webhooks write into a condition or an event is in one (the integration tests
// also check what actually reached the API, see test/integration/reasons-check.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isKnownReason, reasonCatalog } from '../../controller/index.ts';
import { renderReasonsDoc } from '../../reconcilers/reasons-doc.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('reason catalogs', () => {
  it('docs/reasons.md is what `npm run generate` makes from them', () => {
    assert.equal(readFileSync(join(ROOT, 'docs', 'reasons.md'), 'utf8'), renderReasonsDoc(), 'run npm run generate');
  });

  it('every reason has a meaning, and no reason is defined by two layers', () => {
    const seen = new Set<string>();
    for (const e of reasonCatalog()) {
      assert.ok(e.meaning.length > 10, `${e.reason} needs a meaning`);
      assert.ok(!seen.has(e.reason), `${e.reason} twice`);
      seen.add(e.reason);
    }
  });

  it('every reason literal written into a condition or an event is catalogued', () => {
    const literal = /(?:\breason|[Rr]eason): '([A-Za-z]+)'|\.event\([^,]+, '(?:Normal|Warning)', '([A-Za-z]+)'|(?:stalled|error|progressing)Conditions\('([A-Za-z]+)'/g;
    const unknown: string[] = [];
    for (const file of globSync('{reconcilers,controller}/**/*.ts', { cwd: ROOT })) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(literal)) {
        const reason = m[1] ?? m[2] ?? m[3]!;
        if (!isKnownReason(reason)) unknown.push(`${file}: ${reason}`);
      }
    }
    assert.deepEqual(unknown, []);
  });
});
