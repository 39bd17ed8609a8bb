// Runs in a fresh project that installed only @kiln/core, its platform package and
// @kiln/runtime: loads an engine file built elsewhere and checks its output.
import fs from 'node:fs';
import path from 'node:path';

import { Tensor, devices } from '@kiln/core';
import { Runtime } from '@kiln/runtime';

const fixtures = process.argv[2];
const engine = new Runtime().deserializeEngine(fs.readFileSync(path.join(fixtures, 'cls.kiln')));
const { shape, output } = JSON.parse(
  fs.readFileSync(path.join(fixtures, 'cls-expected.json'), 'utf8'),
);
const bytes = fs.readFileSync(path.join(fixtures, 'cls-input.bin'));
const x = new Float32Array(
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
);
const out = await engine.createExecutionContext().infer({ x: new Tensor('float32', shape, x) });
const y = out[engine.outputNames[0]].data;
const maxAbs = Math.max(...output.map((v, i) => Math.abs(v - y[i])));
console.log(
  `runtime only: ${devices()[0].description}; ${engine.outputNames[0]} max |kiln - onnxruntime| = ${maxAbs.toExponential(2)}`,
);
if (!(maxAbs <= 1e-4) || y.length !== output.length) process.exit(1);
