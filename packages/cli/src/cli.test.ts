import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { missingReason, npmFile } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

import { stats } from './commands/run';
import { kiln } from './test-support/kiln';
import { parseShapes } from './usage';

describe('kiln command line', () => {
  it('bad arguments: one line naming the problem, the usage, exit code 2', async () => {
    for (const [args, message] of [
      [['frobnicate'], "unknown command 'frobnicate'"],
      [['build', '--onx=a.onnx'], "Unknown option '--onx'"],
      [['build'], 'give one model: --onnx=FILE, --tfjs=model.json'],
      [['build', '--onnx=/no/such.onnx'], "--onnx: no such file '/no/such.onnx'"],
      [['run', '--loadEngine=/no/such.kiln'], "--loadEngine: no such file '/no/such.kiln'"],
      [['inspect'], 'inspect needs a file'],
    ] as const) {
      const r = await kiln(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(message);
      expect(r.err).toContain('usage: kiln build');
    }
  });

  it('parses trtexec shape specs and rejects malformed ones', () => {
    expect([...parseShapes('shapes', 'x:1x3x224x224,y:1x10')]).toEqual([
      ['x', [1, 3, 224, 224]],
      ['y', [1, 10]],
    ]);
    expect([...parseShapes('shapes', 'scope:in:2x2')]).toEqual([['scope:in', [2, 2]]]);
    expect(() => parseShapes('shapes', 'x:1x3x')).toThrow("--shapes: 'x:1x3x' is not name:DxDxD");
    expect(() => parseShapes('minShapes', '1x3')).toThrow('--minShapes');
  });

  it('computes latency percentiles by nearest rank', () => {
    const s = stats([5, 1, 4, 2, 3, 6, 7, 8, 9, 10]);
    expect(s).toMatchObject({ min: 1, max: 10, median: 5, p90: 9, p95: 10, p99: 10, mean: 5.5 });
  });
});

const model = npmFile('ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const missing = missingReason(model);
if (missing) console.warn(`[skip] CLI model tests: ${missing}`);

describe.skipIf(missing !== undefined)('kiln on a real model (PP-OCR direction classifier)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-cli-'));
  const engine = path.join(dir, 'cls.kiln');

  it('build --saveEngine, then inspect the engine', async () => {
    const built = await kiln(
      'build',
      `--onnx=${model}`,
      '--minShapes=x:1x3x48x192',
      '--optShapes=x:4x3x48x192',
      '--maxShapes=x:8x3x48x192',
      `--saveEngine=${engine}`,
      '--workspace=64',
    );
    expect(built.code, built.err).toBe(0);
    expect(built.out).toMatch(/Built .* layers/);
    const shown = await kiln('inspect', engine);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain('profile 0 x: min [1,3,48,192] opt [4,3,48,192] max [8,3,48,192]');
    expect(shown.out).toMatch(/layer .*: Conv \+Relu/); // the build fused activations
    expect((await kiln('inspect', model)).out).toMatch(/\d+ nodes: .*Conv \d+/);
  });

  it('run --loadEngine prints the performance summary and writes it as JSON', async () => {
    const json = path.join(dir, 'summary.json');
    const r = await kiln(
      'run',
      `--loadEngine=${engine}`,
      '--shapes=x:2x3x48x192',
      '--iterations=5',
      '--duration=0',
      '--warmUp=0',
      `--json=${json}`,
    );
    expect(r.code, r.err).toBe(0);
    for (const label of [
      'Throughput:',
      'Latency: min',
      'Enqueue Time:',
      'H2D Latency:',
      'Compute Time:',
      'D2H Latency:',
      'Total Host Walltime:',
    ]) {
      expect(r.out).toContain(label);
    }
    const summary = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(summary.iterations).toBe(5);
    expect(summary.shapes).toEqual({ x: [2, 3, 48, 192] });
    expect(summary.latency.min).toBeLessThanOrEqual(summary.latency.max);
  });

  it('a shape outside the profile fails the run with exit code 1', async () => {
    const r = await kiln('run', `--loadEngine=${engine}`, '--shapes=x:9x3x48x192');
    expect(r.code).toBe(1);
    expect(r.err).toContain("input 'x' dim 0 = 9 is outside profile 0's range [1, 8]");
  });

  it('a memory pool too small fails the build saying how much it needs', async () => {
    const r = await kiln('build', `--onnx=${model}`, '--shapes=x:1x3x48x192', '--memPoolSize=0.01');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/needs \d+ bytes of memory \(activations and kernel scratch\)/);
  });
});

describe.skipIf(missing !== undefined)('kiln onnx rewrites', () => {
  it('set-batch 8 then fold, and the result builds and runs at batch 8', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-onnx-'));
    const b8 = path.join(dir, 'b8.onnx');
    const folded = path.join(dir, 'b8f.onnx');
    expect(
      (await kiln('onnx', 'set-batch', `--model=${model}`, `--output=${b8}`, '--batch=8')).code,
    ).toBe(0);
    const fold = await kiln('onnx', 'fold', `--model=${b8}`, `--output=${folded}`);
    expect(fold.code, fold.err).toBe(0);
    expect(fold.out).toMatch(/fold: .* \(\d+ nodes\) -> .* \(\d+ nodes\)/);
    const shown = await kiln('onnx', 'inspect', `--model=${folded}`);
    expect(shown.out).toMatch(/input {2}x: 1 \[8, 3,/);
    const engine = path.join(dir, 'b8.kiln');
    expect(
      (await kiln('build', `--onnx=${folded}`, '--shapes=x:8x3x48x192', `--saveEngine=${engine}`))
        .code,
    ).toBe(0);
    const run = await kiln(
      'run',
      `--loadEngine=${engine}`,
      '--iterations=2',
      '--duration=0',
      '--warmUp=0',
    );
    expect(run.code, run.err).toBe(0);
    expect((await kiln('onnx', 'extract', `--model=${model}`, `--output=${b8}`)).err).toContain(
      'extract needs --inputs',
    );
  });
});

const savedModel = path.resolve(__dirname, '../../../../shared/tf-savedmodels/times_three_float');
describe.skipIf(!fs.existsSync(savedModel))('kiln convert', () => {
  it('a TF2 SavedModel becomes ONNX that kiln builds and runs: 3 * x', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-convert-'));
    const onnx = path.join(dir, 'times_three.onnx');
    const c = await kiln('convert', `--saved-model=${savedModel}`, `--output=${onnx}`);
    expect(c.code, c.err).toBe(0);
    const { Builder, OnnxParser } = await import('@kiln/builder');
    const { Runtime } = await import('@kiln/runtime');
    const { Tensor } = await import('@kiln/core');
    const builder = new Builder();
    const network = builder.createNetwork();
    new OnnxParser(network).parse(onnx);
    const input = network.inputs[0]!;
    expect(input.shape).toEqual([]); // the signature declares a scalar
    const engine = new Runtime().deserializeEngine(
      await builder.buildSerializedNetwork(network, builder.createBuilderConfig()),
    );
    const out = await engine
      .createExecutionContext()
      .infer({ [input.name]: new Tensor('float32', [], new Float32Array([2.5])) });
    expect(Array.from(out[engine.outputNames[0]!]!.data as Float32Array)).toEqual([7.5]);
    // --shapes reaches the converter, which checks it against the signature.
    const wrong = await kiln(
      'convert',
      `--saved-model=${savedModel}`,
      `--output=${onnx}`,
      '--shapes=x:3',
    );
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("inputShapes['x'] has rank 1; the input has rank 0");
    expect((await kiln('convert', `--output=${onnx}`)).err).toContain(
      'give exactly one of --saved-model',
    );
  });
});

describe.skipIf(missing !== undefined)('kiln compare', () => {
  it('agrees with onnxruntime-node at the default tolerance, and says so when the tolerance is zero', async () => {
    const ok = await kiln('compare', `--onnx=${model}`, '--shapes=x:2x3x48x192');
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/output 'softmax_0.tmp_0' \[2,2\]: max abs error .* -> PASS/);
    const strict = await kiln(
      'compare',
      `--onnx=${model}`,
      '--shapes=x:2x3x48x192',
      '--atol=0',
      '--rtol=0',
    );
    expect(strict.code).toBe(1); // float sums in another order are not bit-identical
    expect(strict.out).toContain('DIFFER');
  });
});
