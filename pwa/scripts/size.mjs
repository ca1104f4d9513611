// Prints the gzip size of the app shell's JavaScript (and, for reference, the
// Automerge wasm the budget excludes) and fails over budget,
// so growth of the field app shows up in review rather than on slow phones.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = 120 * 1024;
const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const assets = join(dist, 'assets');

if (!existsSync(assets)) {
  console.error('dist/assets is missing: run `npm run build` first');
  process.exit(2);
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const files = readdirSync(assets).filter((f) => /\.m?js$/.test(f)).sort();
let total = 0;
for (const f of files) {
  const raw = readFileSync(join(assets, f));
  const gz = gzipSync(raw, { level: 9 }).length;
  total += gz;
  console.log(`${f.padEnd(40)} ${kb(raw.length).padStart(10)} raw ${kb(gz).padStart(10)} gzip`);
}
const sw = join(dist, 'sw.js');
if (existsSync(sw)) {
  // Not part of the page's download, so outside the budget; shown for reference.
  console.log(`${'(sw.js, not counted)'.padEnd(40)} ${kb(readFileSync(sw).length).padStart(10)} raw ${kb(gzipSync(readFileSync(sw), { level: 9 }).length).padStart(10)} gzip`);
}
for (const f of readdirSync(assets).filter((f) => f.endsWith('.wasm')).sort()) {
  // Automerge's engine: fetched once, precached, compiled off the critical path.
  const raw = readFileSync(join(assets, f));
  console.log(`${`(${f}, not counted)`.padEnd(40)} ${kb(raw.length).padStart(10)} raw ${kb(gzipSync(raw, { level: 9 }).length).padStart(10)} gzip`);
}
console.log(`app shell JS total: ${kb(total)} gzip (budget ${kb(BUDGET)}; wasm excluded)`);
if (total > BUDGET) {
  console.error(`over budget by ${kb(total - BUDGET)}`);
  process.exit(1);
}
