// kiln run's input/output, concurrency and profile flags on a real model, checked against
// onnxruntime-node on the same input values.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { threadCount } from '@kiln/core';
import { missingReason, npmFile } from '@kiln/test-data';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { kiln } from './test-support/kiln';
import { formatNpy, parseNpy } from './npy';

const model = npmFile('ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const antispoof = npmFile('human-models', 'models', 'antispoof.json');
const missing = missingReason(model);
if (missing) console.warn(`[skip] kiln run flag tests: ${missing}`);
const quick = ['--iterations=2', '--duration=0', '--warmUp=0'];

describe.skipIf(missing !== undefined)('kiln run flags (PP-OCR direction classifier)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-run-'));
  const engine = path.join(dir, 'cls.kiln');
  // Two profiles: batch 1..2 and batch 3..8.
  const profiles = [
    '--minShapes=x:1x3x48x192',
    '--optShapes=x:1x3x48x192',
    '--maxShapes=x:2x3x48x192',
    '--minShapes=x:3x3x48x192',
    '--optShapes=x:4x3x48x192',
    '--maxShapes=x:8x3x48x192',
  ];
  const values = Float32Array.from({ length: 3 * 3 * 48 * 192 }, (_, i) => Math.cos(i * 0.37));

  it('repeated min/opt/max flags make one profile each; --profile picks one', async () => {
    const built = await kiln('build', `--onnx=${model}`, ...profiles, `--saveEngine=${engine}`);
    expect(built.code, built.err).toBe(0);
    const shown = await kiln('inspect', engine);
    expect(shown.out).toContain('profile 1 x: min [3,3,48,192] opt [4,3,48,192] max [8,3,48,192]');
    const json = path.join(dir, 'p1.json');
    const r = await kiln(
      'run',
      `--loadEngine=${engine}`,
      '--profile=1',
      ...quick,
      `--json=${json}`,
    );
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(fs.readFileSync(json, 'utf8')).shapes).toEqual({ x: [4, 3, 48, 192] });
    const outside = await kiln(
      'run',
      `--loadEngine=${engine}`,
      '--profile=0',
      '--shapes=x:3x3x48x192',
    );
    expect(outside.code).toBe(1);
    expect(outside.err).toContain("outside profile 0's range [1, 2]");
    const none = await kiln('run', `--loadEngine=${engine}`, '--profile=2');
    expect(none.code).toBe(2);
    expect(none.err).toContain('--profile=2: the engine has 2 profile(s)');
    const uneven = await kiln('build', `--onnx=${model}`, ...profiles.slice(0, 4));
    expect(uneven.code).toBe(2);
    expect(uneven.err).toContain('once per profile (got 2, 1, 1)');
  });

  it('--loadInputs (.npy or raw) feeds the engine; --exportOutput writes what onnxruntime-node computes', async () => {
    const npy = path.join(dir, 'x.npy');
    const raw = path.join(dir, 'x.bin');
    const bytes = new Uint8Array(values.buffer);
    fs.writeFileSync(npy, formatNpy({ dtype: 'float32', shape: [3, 3, 48, 192], data: bytes }));
    fs.writeFileSync(raw, bytes);
    const session = await ort.InferenceSession.create(model);
    const expected = (await session.run({ x: new ort.Tensor('float32', values, [3, 3, 48, 192]) }))[
      session.outputNames[0]!
    ]!.data as Float32Array;

    const outJson = path.join(dir, 'out.json');
    const fromNpy = await kiln(
      'run',
      `--loadEngine=${engine}`,
      '--profile=1',
      `--loadInputs=x:${npy}`,
      `--exportOutput=${outJson}`,
      ...quick,
    );
    expect(fromNpy.code, fromNpy.err).toBe(0);
    const [exported] = JSON.parse(fs.readFileSync(outJson, 'utf8'));
    expect(exported).toMatchObject({
      name: 'softmax_0.tmp_0',
      dtype: 'float32',
      dimensions: [3, 2],
    });
    exported.values.forEach((v: number, i: number) => expect(v).toBeCloseTo(expected[i]!, 4));

    // Raw bytes need the shape from --shapes; the output as .npy holds the same values.
    const outNpy = path.join(dir, 'out.npy');
    const fromRaw = await kiln(
      'run',
      `--loadEngine=${engine}`,
      '--profile=1',
      '--shapes=x:3x3x48x192',
      `--loadInputs=x:${raw}`,
      `--exportOutput=${outNpy}`,
      '--noDataTransfers',
      ...quick,
    );
    expect(fromRaw.code, fromRaw.err).toBe(0);
    const back = parseNpy(new Uint8Array(fs.readFileSync(outNpy)), outNpy);
    expect(back.shape).toEqual([3, 2]);
    expect(Array.from(new Float32Array(back.data.slice().buffer))).toEqual(exported.values);

    for (const [args, message] of [
      [[`--loadInputs=y:${npy}`], "--loadInputs: 'y' is not an input of the model"],
      [
        [`--loadInputs=x:${raw}`, '--shapes=x:4x3x48x192'],
        "'x' has 331776 bytes but shape 4x3x48x192",
      ],
      [
        [`--loadInputs=x:${npy}`, '--shapes=x:4x3x48x192'],
        "'x' holds shape 3x3x48x192 but --shapes",
      ],
      [[`--exportOutput=${path.join(dir, 'o.txt')}`], 'should end in .json or .npy'],
    ] as const) {
      const r = await kiln('run', `--loadEngine=${engine}`, '--profile=1', ...args, ...quick);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(message);
    }
  });

  it('--exportProfile / --dumpProfile: per-layer times from a separate profiling run', async () => {
    const file = path.join(dir, 'profile.json');
    const r = await kiln(
      'run',
      `--loadEngine=${engine}`,
      '--iterations=3',
      '--duration=0',
      '--warmUp=0',
      `--exportProfile=${file}`,
      '--dumpProfile',
    );
    expect(r.code, r.err).toBe(0);
    const [head, ...rows] = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(head).toEqual({ count: 3 });
    const inspected = await kiln('inspect', engine);
    expect(rows.length).toBe(inspected.out.match(/^ *layer /gm)!.length);
    const percent = rows.reduce((s: number, l: { percentage: number }) => s + l.percentage, 0);
    expect(percent).toBeCloseTo(100, 6);
    expect(
      rows.some((l: { op: string; timeMs: number }) => l.op.startsWith('Conv') && l.timeMs > 0),
    ).toBe(true);
    expect(r.out).toContain('=== Profile (3 iterations, layers by time) ===');
    expect(r.out).toMatch(/100\.0 {3}Total/);
  });

  it('--streams runs concurrent contexts, each on its own stream', async () => {
    const json = path.join(dir, 'streams.json');
    const r = await kiln(
      'run',
      `--loadEngine=${engine}`,
      '--streams=3',
      '--iterations=9',
      '--duration=0',
      '--warmUp=0',
      `--json=${json}`,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('(3 stream(s)');
    const summary = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(summary.streams).toBe(3);
    expect(summary.iterations).toBeGreaterThanOrEqual(9);
  });

  it('--threads sizes the kernel pool, and refuses once the pool runs at another size', async () => {
    const bin = path.resolve(__dirname, '..', 'dist', 'bin.js');
    const json = path.join(dir, 'threads.json');
    execFileSync(process.execPath, [
      bin,
      'run',
      `--loadEngine=${engine}`,
      '--threads=1',
      ...quick,
      `--json=${json}`,
    ]);
    expect(JSON.parse(fs.readFileSync(json, 'utf8')).threads).toBe(1);
    const other = threadCount() + 1;
    const r = await kiln('run', `--loadEngine=${engine}`, `--threads=${other}`, ...quick);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--threads=${other}: this process already runs kiln's kernels on`);
  });
});

describe.skipIf(missingReason(antispoof) !== undefined)('kiln run --tfjs', () => {
  it('converts a TF.js graph model, builds and benchmarks it in one command', async () => {
    const r = await kiln(
      'run',
      `--tfjs=${antispoof}`,
      '--shapes=conv2d_input:1x128x128x3',
      ...quick,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/Converted .*antispoof.json to ONNX: \d+ nodes/);
    expect(r.out).toContain('Throughput:');
  });
});
