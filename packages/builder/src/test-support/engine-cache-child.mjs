// A second process for the persistence test: runs one input through an EngineCache over
// `model` with `cacheDir`, then prints the cache's stats as JSON. Uses the built packages.
// Usage: node engine-cache-child.mjs <model.onnx> <cacheDir> <comma-separated input shape>
import { Tensor } from '@kiln/core';
import { engineBuilderFor } from '@kiln/builder';
import { EngineCache } from '@kiln/runtime';

const [model, cacheDir, shapeText] = process.argv.slice(2);
const shape = shapeText.split(',').map(Number);
const cache = new EngineCache({ ...engineBuilderFor(model), cacheDir });
const { y } = await cache.infer({ x: new Tensor('float32', shape) });
process.stdout.write(JSON.stringify({ ...cache.stats, outputShape: y.shape }));
