import { KilnError, Tensor, typedArrayConstructor } from '@kiln/core';
import { Runtime } from '@kiln/runtime';

import { UsageError, numberFlag, parseShapes, unknownInput } from '../usage';
import { type BuildFlags, buildFromFlags } from './build';

/** The flags of `kiln compare`. */
export interface CompareFlags extends BuildFlags {
  atol?: string;
  rtol?: string;
}

/** Per-output agreement, as `kiln compare` reports it. */
export interface OutputAgreement {
  name: string;
  shape: number[];
  maxAbs: number;
  maxRel: number;
  pass: boolean;
}

// Deterministic inputs: a sine sweep for floats, zeros otherwise (the same for both runtimes).
function input(dtype: Tensor['dtype'], shape: number[]): Tensor {
  const t = new Tensor(dtype, shape);
  if (dtype === 'float32')
    (t.data as Float32Array).forEach((_, i, a) => (a[i] = Math.sin(i * 0.731)));
  return t;
}

/**
 * Runs the model in kiln and in onnxruntime-node on the same inputs and compares every output
 * elementwise: |kiln - ort| <= atol + rtol * |ort| (numpy's allclose), like polygraphy.
 */
export async function compare(flags: CompareFlags, log: (line: string) => void): Promise<boolean> {
  if (!flags.onnx)
    throw new UsageError(
      'kiln compare needs --onnx=FILE (onnxruntime-node runs ONNX): convert other models first with kiln convert',
    );
  const atol = numberFlag('atol', flags.atol, false) ?? 1e-5;
  const rtol = numberFlag('rtol', flags.rtol, false) ?? 1e-3;
  let ort: typeof import('onnxruntime-node');
  try {
    const mod = await import('onnxruntime-node');
    ort = (mod as unknown as { default?: typeof mod }).default ?? mod;
  } catch {
    throw new KilnError(
      'NOT_FOUND',
      'kiln compare runs onnxruntime-node as the reference: install it (npm install onnxruntime-node)',
    );
  }
  const plan = await buildFromFlags(flags, log);
  const engine = new Runtime().deserializeEngine(plan);
  const ctx = engine.createExecutionContext();
  const shapes = flags.shapes ? parseShapes('shapes', flags.shapes) : new Map<string, number[]>();
  for (const name of shapes.keys())
    if (!engine.inputNames.includes(name)) throw unknownInput('shapes', name, engine.inputNames);
  const feeds: Record<string, Tensor> = {};
  for (const name of engine.inputNames) {
    const info = engine.getTensorInfo(name);
    const shape =
      shapes.get(name) ??
      (info.shape.every((d) => d >= 0)
        ? info.shape
        : engine.profiles[0]?.find((r) => r.name === name)?.opt);
    if (!shape) throw new UsageError(`input '${name}' has dynamic dims: give --shapes=${name}:...`);
    feeds[name] = input(info.dtype, shape);
  }
  const ours = await ctx.infer(feeds);
  const session = await ort.InferenceSession.create(flags.onnx!);
  const ortFeeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (const [name, t] of Object.entries(feeds))
    ortFeeds[name] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.shape]);
  const ref = await session.run(ortFeeds);
  let all = true;
  for (const name of engine.outputNames) {
    const a = ours[name]!;
    const b = ref[name];
    if (!b) throw new KilnError('INTERNAL', `onnxruntime-node produced no output '${name}'`);
    const Ctor = typedArrayConstructor(a.dtype) as unknown as {
      from(x: ArrayLike<unknown>): ArrayLike<number | bigint>;
    };
    const expected = Ctor.from(b.data as ArrayLike<unknown>);
    const r: OutputAgreement = {
      name,
      shape: [...a.shape],
      maxAbs: 0,
      maxRel: 0,
      pass: a.shape.join() === b.dims.join(),
    };
    for (let i = 0; i < a.size; i++) {
      const x = Number(a.data[i]);
      const y = Number(expected[i]);
      const diff = Number.isNaN(x) && Number.isNaN(y) ? 0 : Math.abs(x - y);
      r.maxAbs = Math.max(r.maxAbs, diff);
      if (y !== 0) r.maxRel = Math.max(r.maxRel, diff / Math.abs(y));
      if (!(diff <= atol + rtol * Math.abs(y))) r.pass = false;
    }
    all &&= r.pass;
    log(
      `output '${name}' [${r.shape}]: max abs error ${r.maxAbs.toExponential(3)}, max rel error ${r.maxRel.toExponential(3)} -> ${r.pass ? 'PASS' : 'FAIL'} (atol ${atol}, rtol ${rtol})`,
    );
  }
  await session.release();
  log(all ? 'kiln and onnxruntime-node agree' : 'kiln and onnxruntime-node DIFFER');
  return all;
}
