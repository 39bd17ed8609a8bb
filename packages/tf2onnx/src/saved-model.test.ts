import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { isKilnError } from '@kiln/core';
import { convertSavedModel } from './index';
import { missing, runOnnx, SAVEDMODELS_DIR } from '../test-support/data';

const absent = missing(
  join(SAVEDMODELS_DIR, 'times_three_float'),
  'set KILN_TF_SAVEDMODELS_DIR to the tf-savedmodels folder',
);
if (absent) console.warn(`[tf2onnx] SavedModel tests skipped: ${absent}`);

const dir = (m: string): string => join(SAVEDMODELS_DIR, m);
const i32 = (v: number[]): ort.Tensor => new ort.Tensor('int32', Int32Array.from(v), [v.length]);
const values = (t: ort.Tensor | undefined): number[] =>
  Array.from(t!.data as ArrayLike<number | bigint>, Number);

describe.skipIf(absent !== undefined)(
  'SavedModel (../shared/tf-savedmodels) in onnxruntime-node',
  () => {
    it('times_three_float: [1,2,3] -> [3,6,9]', async () => {
      const { model, report } = convertSavedModel(dir('times_three_float'));
      expect(model.graph.inputs.map((v) => v.name)).toEqual(['x']);
      expect(model.graph.outputs.map((v) => v.name)).toEqual(['output_0']);
      expect(model.graph.initializers.size).toBe(1); // the frozen variable
      expect(report.opsMapped.Mul).toBe(1);
      const out = await runOnnx(model, {
        x: new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [3]),
      });
      expect(values(out.output_0)).toEqual([3, 6, 9]);
    });

    it('times_two_int: [1,2,3] -> [2,4,6]', async () => {
      const { model } = convertSavedModel(dir('times_two_int'));
      const [input] = model.graph.inputs;
      const out = await runOnnx(model, { [input!.name]: i32([1, 2, 3]) });
      expect(values(Object.values(out)[0])).toEqual([2, 4, 6]);
    });

    it('uint8_multiply: its signature input gives 18', async () => {
      const { model } = convertSavedModel(dir('uint8_multiply'));
      const [input] = model.graph.inputs;
      expect(input!.elemType).toBe(2); // uint8
      expect(input!.shape).toEqual([1]);
      // Two int32 variables from the checkpoint (3 and 2) times the cast input: 3 * 2 * 3 = 18.
      const out = await runOnnx(model, {
        [input!.name]: new ort.Tensor('uint8', Uint8Array.from([3]), [1]),
      });
      expect(values(Object.values(out)[0])).toEqual([18]);
      const other = await runOnnx(model, {
        [input!.name]: new ort.Tensor('uint8', Uint8Array.from([5]), [1]),
      });
      expect(values(Object.values(other)[0])).toEqual([30]);
    });

    it('int64_multiply: [3,4] as int64 -> [18,24]', async () => {
      const { model } = convertSavedModel(dir('int64_multiply'));
      const [input] = model.graph.inputs;
      expect(input!.elemType).toBe(7); // int64
      const out = await runOnnx(model, {
        [input!.name]: new ort.Tensor('int64', BigInt64Array.from([3n, 4n]), [2]),
      });
      expect(values(Object.values(out)[0])).toEqual([18, 24]);
    });

    it('module_with_multiple_signatures: serving_default triples, the other doubles', async () => {
      const a = convertSavedModel(dir('module_with_multiple_signatures')).model;
      const f32 = (v: number[]): ort.Tensor =>
        new ort.Tensor('float32', Float32Array.from(v), [v.length]);
      const outA = await runOnnx(a, { [a.graph.inputs[0]!.name]: f32([1, 2, 3]) });
      expect(values(Object.values(outA)[0])).toEqual([3, 6, 9]);
      const b = convertSavedModel(dir('module_with_multiple_signatures'), {
        signature: 'timestwo',
      }).model;
      const outB = await runOnnx(b, { [b.graph.inputs[0]!.name]: f32([1, 2, 3]) });
      expect(values(Object.values(outB)[0])).toEqual([2, 4, 6]);
    });

    it('model_single_input_multi_output: [2,4,6] and [1,2,3]', async () => {
      const { model } = convertSavedModel(dir('model_single_input_multi_output'));
      expect(model.graph.outputs).toHaveLength(2);
      const out = await runOnnx(model, { [model.graph.inputs[0]!.name]: i32([1, 2, 3]) });
      const got = model.graph.outputs.map((o) => values(out[o.name]));
      expect(got).toEqual([
        [2, 4, 6],
        [1, 2, 3],
      ]);
    });

    it('model_multi_output: x, y -> two outputs', async () => {
      const { model } = convertSavedModel(dir('model_multi_output'));
      expect(model.graph.inputs).toHaveLength(2);
      expect(model.graph.outputs).toHaveLength(2);
      // The README's feed (x = y = [1,2,3]) and a second one that tells the two inputs apart.
      const same = await runOnnx(model, { x: i32([1, 2, 3]), y: i32([1, 2, 3]) });
      expect(model.graph.outputs.map((o) => values(same[o.name]))).toEqual([
        [2, 4, 6],
        [1, 2, 3],
      ]);
      const apart = await runOnnx(model, { x: i32([1, 2, 3]), y: i32([7, 8, 9]) });
      expect(values(apart.output_0)).toEqual([2, 4, 6]);
      expect(values(apart.output_1)).toEqual([7, 8, 9]);
    });

    it('unknown tags and signatures are KilnErrors listing what exists', () => {
      expect(() => convertSavedModel(dir('times_three_float'), { tags: ['train'] })).toThrow(
        /no MetaGraph has tags \[train\]; it has \[serve\]/,
      );
      try {
        convertSavedModel(dir('times_three_float'), { signature: 'nope' });
        expect.unreachable();
      } catch (e) {
        expect(isKilnError(e, 'NOT_FOUND')).toBe(true);
        expect(String(e)).toMatch(/signatures: serving_default/);
      }
    });
  },
);
