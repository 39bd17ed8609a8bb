#!/usr/bin/env node
// kiln vs onnxruntime-node, side by side: `node tools/bench/bench.mjs --help`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { runBench } from './src/harness.mjs';
import { FLAGS, parseOptions } from './src/options.mjs';
import { renderMarkdown } from './src/report.mjs';

const here = dirname(fileURLToPath(import.meta.url));

let parsed;
try {
  parsed = parseOptions(process.argv.slice(2), here);
} catch (error) {
  console.error(`bench: ${/** @type {Error} */ (error).message} (see --help)`);
  process.exit(2);
}
if (parsed.help) {
  console.log('usage: node tools/bench/bench.mjs [flags]\n');
  for (const [name, f] of Object.entries(FLAGS))
    console.log(`  --${name.padEnd(13)} ${f.help}${f.default ? ` (default ${f.default})` : ''}`);
  process.exit(0);
}

const t0 = Date.now();
const progress = (/** @type {string} */ message) => {
  const s = ((Date.now() - t0) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[bench ${s}s] ${message}\n`);
};
const results = await runBench(parsed.options, progress);
const out = resolve(parsed.out);
mkdirSync(out, { recursive: true });
const markdown = renderMarkdown(results);
writeFileSync(join(out, 'RESULTS.md'), markdown);
writeFileSync(join(out, 'results.json'), await formatJson(results));
console.log(markdown);
progress(`wrote ${join(out, 'RESULTS.md')} and results.json`);

/**
 * The results as JSON, laid out by the repo's prettier (the root lint checks committed JSON)
 * when it is installed.
 * @param {unknown} value
 */
async function formatJson(value) {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  try {
    const prettier = await import('prettier');
    const config = (await prettier.resolveConfig(join(here, 'results.json'))) ?? {};
    return await prettier.format(text, { ...config, parser: 'json' });
  } catch {
    return text;
  }
}
