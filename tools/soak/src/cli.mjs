#!/usr/bin/env node
// kiln-soak: soaks @kiln/runtime on a real model and prints what it measured.
//
//   node --expose-gc src/cli.mjs [--model path.onnx] [--seconds 600] [--contexts 4]
//                                [--streams 2] [--seed 1]
//
// The model defaults to the shared fashion_mnist_cnn.onnx. Exits 1 on a wrong output, an
// error that is not a KilnError, or RSS growing more than --max-growth MiB after warm-up.
import { parseArgs } from 'node:util';

import { sharedModel } from '@kiln/test-data';

import { soak } from './soak.mjs';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: sharedModel('fashion_mnist_cnn.onnx') },
    seconds: { type: 'string', default: '60' },
    contexts: { type: 'string', default: '4' },
    streams: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    'max-growth': { type: 'string', default: '32' },
  },
});
const r = await soak({
  modelPath: values.model,
  seconds: Number(values.seconds),
  contexts: Number(values.contexts),
  streams: Number(values.streams),
  seed: Number(values.seed),
});
console.log(JSON.stringify(r, null, 2));
const growth = r.rssEndMiB - r.rssAfterWarmupMiB;
console.log(
  `RSS after warm-up ${r.rssAfterWarmupMiB.toFixed(1)} MiB, at the end ${r.rssEndMiB.toFixed(1)} MiB (growth ${growth.toFixed(1)} MiB)`,
);
process.exit(growth > Number(values['max-growth']) ? 1 : 0);
