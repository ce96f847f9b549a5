// Writes docs/reasons.md from the reason catalogs (`npm run generate`); a unit test fails when
// the file and the catalogs differ.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderReasonsDoc } from '../reconcilers/reasons-doc.ts';

const out = join(dirname(fileURLToPath(import.meta.url)), 'reasons.md');
writeFileSync(out, renderReasonsDoc());
process.stdout.write(`wrote ${out}\n`);
