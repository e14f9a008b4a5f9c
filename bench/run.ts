/**
 * `npm run bench -- NAME [args]` runs `bench/NAME.ts`. Each benchmark compares mloop with a peer or with
 * the limit in the same run and prints one JSON line of results on stdout (progress goes to stderr).
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(fileURLToPath(new URL('.', import.meta.url)))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- NAME\navailable: ${available.join(', ')}\n`);
  process.exit(2);
}
const bench = (await import(`./${name}.ts`)) as { main(args: string[]): Promise<unknown> };
const result = await bench.main(rest);
process.stdout.write(`${JSON.stringify({ bench: name, date: new Date().toISOString().slice(0, 10), ...(result as object) })}\n`);
process.exit(0);
