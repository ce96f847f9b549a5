// `npm run bench [-- scenario ...]`: runs benchmark scenarios (bench/scenarios/<name>.ts). Each
// measures Outrigger against a baseline doing the same work directly, side by side in one run, and
// prints ratios; absolute times on a shared machine mean little, ratios do.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BenchScenario {
  description: string;
  run(): Promise<Record<string, number | string>>;
}

const dir = fileURLToPath(new URL('./scenarios/', import.meta.url));
const available = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort();
const chosen = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = chosen.filter((c) => !available.includes(c));
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; available: ${available.join(', ')}\n`);
  process.exit(2);
}

let failed = false;
for (const name of chosen.length > 0 ? chosen : available) {
  const scenario = (await import(new URL(`./scenarios/${name}.ts`, import.meta.url).href)).default as BenchScenario;
  process.stdout.write(`\n== ${name}: ${scenario.description}\n`);
  try {
    const report = await scenario.run();
    for (const [key, value] of Object.entries(report)) process.stdout.write(`  ${key.padEnd(44)} ${value}\n`);
  } catch (err) {
    failed = true;
    process.stdout.write(`  FAILED: ${err instanceof Error ? err.stack : String(err)}\n`);
  }
}
process.exit(failed ? 1 : 0);
