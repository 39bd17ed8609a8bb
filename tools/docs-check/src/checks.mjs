// What README snippets print and write, checked against what their comments say: each check
// applies to the block of packages/<package>/README.md that contains `contains`, and receives
// its stdout, its folder and `run()` to run it again there.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadModel } from '@kiln/onnx';
import { Runtime } from '@kiln/runtime';
import { expect } from 'vitest';

const shapeOf = (values) => values.map((v) => `${v.name} ${v.shape.join('x')}`);

export const CHECKS = [
  {
    package: 'core',
    contains: "x.to('float16')",
    check({ stdout }) {
      expect(stdout).toMatch(/^(true|false) \[ 'cpu'/);
      expect(stdout).toContain('Uint16Array(4) [ 15360, 16384, 16896, 17408 ]');
      expect(stdout).toMatch(/Float32Array\(4\) \[ 1, 2, 3, 4 \] \d+(\.\d+)?(e-\d+)? ms/);
    },
  },
  {
    package: 'builder',
    contains: "conv.precision = 'fp32'",
    check({ stdout }) {
      expect(stdout).toBe('Conv fp32\n');
    },
  },
  {
    package: 'builder',
    contains: 'network.setIOFormat(',
    check({ stdout }) {
      expect(stdout).toBe('float16 [ -1, 28, 28, 1 ]\n');
    },
  },
  {
    package: 'builder',
    contains: "parse('ch_PP-OCRv4_det_infer.onnx')",
    check({ stdout, dir }) {
      expect(stdout).toContain("{ stage: 'passes', done: 0, total: 12 }");
      expect(stdout).toContain("{ stage: 'check', done: 1, total: 1 }");
      const engine = new Runtime().deserializeEngine(readFileSync(join(dir, 'ocr-det.kiln')));
      expect(engine.inspect().profiles[0]).toEqual([
        { name: 'x', min: [1, 3, 320, 320], opt: [1, 3, 640, 640], max: [1, 3, 1280, 1280] },
      ]);
    },
  },
  {
    package: 'builder',
    contains: 'network.addFullyConnected',
    check({ stdout }) {
      expect(stdout).toBe('Float32Array(2) [ 10, 0 ]\n');
    },
  },
  {
    package: 'builder',
    contains: 'PartitionedModel.create',
    check({ stdout }) {
      expect(stdout).toBe("[ 'kiln: 220 nodes' ]\n[ 1, 2 ]\n");
    },
  },
  {
    package: 'runtime',
    contains: 'context.enqueue(stream)',
    check({ stdout }) {
      expect(stdout).toBe("[ 'x' ] [ -1, 3, -1, -1 ]\n[ 2, 2 ]\n");
    },
  },
  {
    package: 'runtime',
    contains: 'context.profiling = true',
    check({ stdout }) {
      expect(stdout).toBe('1 Conv\n');
    },
  },
  {
    package: 'runtime',
    contains: 'new EngineCache',
    async check({ stdout, run }) {
      expect(stdout).toContain('building for 8,1,28,28 (startup)');
      expect(stdout).toContain('building for 12,1,28,28 (runtime)');
      expect(stdout).toMatch(/hits: 2,\s+misses: 1,\s+builds: 2,\s+loads: 0,\s+evictions: 0/);
      // Again, as a restart: both engines come from the cache folder.
      const again = await run();
      expect(again).not.toContain('building for');
      expect(again).toMatch(/hits: 2,\s+misses: 1,\s+builds: 0,\s+loads: 2/);
    },
  },
  {
    package: 'calibrator',
    contains: 'for await',
    check({ stdout }) {
      expect(stdout).toContain('6/6 images');
      expect(stdout).toContain(
        'float32 [ 8, 3, 224, 224 ] 6 real, first calibration-images/rocket.jpg',
      );
      expect(stdout).toMatch(/\[ 1, 3, 224, 224 \]\n$/);
    },
  },
  {
    package: 'calibrator',
    contains: 'new ImageBatcherCalibrator',
    check({ stdout }) {
      expect(stdout).toBe('[ 4, 3, 224, 224 ]\nnull\n');
    },
  },
  {
    package: 'onnx',
    contains: 'setBatchSize(model, 8)',
    check({ stdout, dir }) {
      expect(stdout).toContain("[ 'softmax_0.tmp_0 [8, 2]' ]");
      const saved = loadModel(join(dir, 'model_b8.onnx'));
      expect(shapeOf(saved.graph.inputs)).toEqual([
        'x 8x3xp2o.DynamicDimension.1xp2o.DynamicDimension.2',
      ]);
      expect(shapeOf(saved.graph.outputs)).toEqual(['softmax_0.tmp_0 8x2']);
    },
  },
  {
    package: 'tf2onnx',
    contains: "convertTfjs('blazeface.json'",
    check({ stdout, dir }) {
      expect(stdout).toContain("[ 'input 1,3,256,256' ]");
      const [, before, after] = /^(\d+) -> (\d+) \[\]$/m.exec(stdout);
      expect(Number(after)).toBeLessThan(Number(before)); // the transpose optimizer removed nodes
      expect(stdout).toMatch(/^37$/m);
      expect(shapeOf(loadModel(join(dir, 'blazeface.onnx')).graph.inputs)).toEqual([
        'input 1x3x256x256',
      ]);
    },
  },
  {
    package: 'tf2onnx',
    contains: 'convertSavedModel',
    check({ stdout }) {
      expect(stdout).toBe("x output_0\n[ 'Identity' ]\n");
    },
  },
  {
    package: 'cli',
    contains: 'kiln build --onnx=model.onnx',
    check({ stdout, dir }) {
      expect(stdout).toContain('Throughput');
      expect(stdout).toMatch(/PASS/);
      const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
      expect(summary.iterations).toBeGreaterThanOrEqual(200);
      const [out] = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
      expect(out).toMatchObject({ name: 'softmax_0.tmp_0', dtype: 'float32', dimensions: [1, 2] });
      expect(out.values[0] + out.values[1]).toBeCloseTo(1, 5); // a softmax over two classes
    },
  },
  {
    package: 'cli',
    contains: 'kiln convert --saved-model',
    check({ stdout, dir }) {
      expect(stdout).toContain('fold: model.onnx (471 nodes) -> model_folded.onnx (220 nodes)');
      const model = (file) => loadModel(join(dir, file)).graph;
      expect(shapeOf(model('blazeface_nhwc.onnx').inputs)).toEqual(['input 1x256x256x3']);
      expect(shapeOf(model('blazeface_nchw.onnx').inputs)).toEqual(['input 1x3x256x256']);
      expect(shapeOf(model('blazeface.onnx').inputs)).toEqual(['input 1x3x256x256']);
      expect(shapeOf(model('model_b8.onnx').inputs)[0]).toMatch(/^x 8x3x/);
      expect(model('features.onnx').outputs.map((v) => v.name)).toEqual(['reshape2_0.tmp_0']);
      expect(model('my_model.onnx').inputs.map((v) => v.name)).toEqual(['x']); // the signature's key
    },
  },
];
