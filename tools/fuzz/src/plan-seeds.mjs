#!/usr/bin/env node
// Writes the seed corpus of the native plan fuzzer (native/fuzz/fuzz_plan.cc): real engine
// files, built by @kiln/builder from the one-op models of the ONNX backend suite, so the fuzzer
// starts from plans that hold every kind of layer, attribute and profile kiln writes.
//
//   node src/plan-seeds.mjs <out-dir> [--max 2000] [--max-bytes 16384]
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { Builder, OnnxParser } from '@kiln/builder';
import { debFile, missingReason } from '@kiln/test-data';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    max: { type: 'string', default: '2000' },
    'max-bytes': { type: 'string', default: '16384' },
  },
});
const out = positionals[0];
if (!out) {
  console.error('usage: node src/plan-seeds.mjs <out-dir> [--max 2000] [--max-bytes 16384]');
  process.exit(2);
}
const suite = debFile('libonnx-testdata', 'usr', 'share', 'libonnx-testdata', 'data', 'node');
const missing = missingReason(suite);
if (missing) {
  console.error(`plan-seeds: ${missing}`);
  process.exit(1);
}
mkdirSync(out, { recursive: true });
let written = 0;
let refused = 0;
for (const name of readdirSync(suite).sort()) {
  if (written >= Number(values.max)) break;
  try {
    const builder = new Builder();
    const network = builder.createNetwork();
    new OnnxParser(network).parse(join(suite, name, 'model.onnx'));
    const plan = await builder.buildSerializedNetwork(network, builder.createBuilderConfig());
    if (plan.byteLength > Number(values['max-bytes'])) continue;
    writeFileSync(join(out, `${name}.kiln`), plan);
    written++;
  } catch {
    refused++; // ops kiln does not build are simply not seeds
  }
}
console.log(`plan-seeds: ${written} plans written to ${out} (${refused} models not built)`);
