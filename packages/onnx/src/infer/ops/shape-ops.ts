import { ElemType } from '../../ir/elem-type';
import type { Initializer } from '../../ir/initializer';
import { type Dim, isStaticShape, staticSize } from '../../ir/shape';
import {
  broadcastTo,
  clampRange,
  concatND,
  gatherND,
  type Range,
  rangeLength,
  sliceND,
  transposeND,
} from '../values';
import {
  axis,
  type InferContext,
  inferError,
  type InferRule,
  input,
  numbersOf,
  type TensorInfo,
} from '../context';
import { broadcastShapes, divDim, productDims } from '../dims';

const SMALL = 64;

/** Info of a constant tensor, with its elements when it is small (so shape math can use them). */
export function constantInfo(t: Initializer, limit = SMALL): TensorInfo {
  const info: TensorInfo = { elemType: t.elemType, shape: [...t.dims] };
  if (t.size <= limit && t.elemType !== ElemType.STRING) {
    // Read on first use: folding raises the limit, and most weights are never asked for.
    let cached: Dim[] | undefined | null = null;
    Object.defineProperty(info, 'value', {
      enumerable: true,
      configurable: true,
      get() {
        if (cached === null) {
          try {
            cached = t.toNumbers();
          } catch {
            cached = undefined; // float16 and friends: the value is simply not tracked
          }
        }
        return cached;
      },
    });
  }
  return info;
}

/** Constant: the value attribute (or value_float/ints/...). */
export const constant: InferRule = (ctx) => {
  const t = ctx.node.tensor('value');
  if (t) return [constantInfo(t, ctx.valueLimit)];
  const n = ctx.node;
  if (n.attr('value_float'))
    return [{ elemType: ElemType.FLOAT, shape: [], value: [n.float('value_float', 0)] }];
  if (n.attr('value_floats'))
    return [{ elemType: ElemType.FLOAT, shape: [n.attr('value_floats')!.proto.floats.length] }];
  if (n.attr('value_int'))
    return [{ elemType: ElemType.INT64, shape: [], value: [n.int('value_int', 0)] }];
  const ints = n.ints('value_ints');
  if (ints) return [{ elemType: ElemType.INT64, shape: [ints.length], value: ints }];
  throw inferError(ctx, 'Constant without a value attribute this package reads');
};

/** Shape: a 1-D int64 whose value is the (sliced) input shape. */
export const shape: InferRule = (ctx) => {
  const s = input(ctx, 0).shape;
  if (!s) return [{ elemType: ElemType.INT64, shape: [null] }];
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + s.length : v, 0), s.length);
  const start = clamp(ctx.node.int('start', 0));
  const end = clamp(ctx.node.int('end') ?? s.length);
  const value = s.slice(start, Math.max(start, end));
  return [{ elemType: ElemType.INT64, shape: [value.length], value }];
};

/** Size: a scalar int64. */
export const size: InferRule = (ctx) => {
  const s = input(ctx, 0).shape;
  const p = s ? productDims(s) : null;
  return [{ elemType: ElemType.INT64, shape: [], value: p === null ? undefined : [p] }];
};

/** Reshape with 0 (copy, unless allowzero) and -1 (infer) in the shape input. */
export const reshape: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const target = ctx.inputs[1]?.value ?? (ctx.opset < 5 ? ctx.node.ints('shape') : undefined);
  if (!target) {
    const len = ctx.inputs[1]?.shape?.[0];
    return [
      { elemType: x.elemType, shape: typeof len === 'number' ? Array(len).fill(null) : undefined },
    ];
  }
  const allowZero = ctx.node.int('allowzero', 0) === 1;
  let inferAt = -1;
  const out: Dim[] = target.map((d, i) => {
    if (d === 0 && !allowZero) {
      if (!x.shape || i >= x.shape.length)
        throw inferError(ctx, `shape[${i}] is 0 (copy) but the input has no dim ${i}`);
      return x.shape[i]!;
    }
    if (d === -1) {
      if (inferAt >= 0) throw inferError(ctx, 'more than one -1 in the shape');
      inferAt = i;
      return null;
    }
    return d;
  });
  if (inferAt >= 0 && x.shape) {
    const known = productDims(out.filter((_, i) => i !== inferAt));
    out[inferAt] = divDim(productDims(x.shape), known);
  }
  const v = x.value && x.value.length === productDims(out) ? x.value : undefined;
  return [{ elemType: x.elemType, shape: out, value: v }];
};

/** Flatten to 2-D at `axis`. */
export const flatten: InferRule = (ctx) => {
  const x = input(ctx, 0);
  if (!x.shape) return [{ elemType: x.elemType, shape: [null, null] }];
  const a = ctx.node.int('axis', 1);
  const ax = a < 0 ? a + x.shape.length : a;
  if (ax < 0 || ax > x.shape.length)
    throw inferError(ctx, `axis ${a} is out of range for rank ${x.shape.length}`);
  return [
    {
      elemType: x.elemType,
      shape: [productDims(x.shape.slice(0, ax)), productDims(x.shape.slice(ax))],
      value: x.value,
    },
  ];
};

/** Gather along `axis`; values of small 1-D data are gathered too. */
export const gather: InferRule = (ctx) => {
  const data = input(ctx, 0);
  const idx = input(ctx, 1);
  if (!data.shape || !idx.shape) return [{ elemType: data.elemType }];
  const ax = axis(ctx, ctx.node.int('axis', 0), data.shape.length);
  const shape = [...data.shape.slice(0, ax), ...idx.shape, ...data.shape.slice(ax + 1)];
  const out: TensorInfo = { elemType: data.elemType, shape };
  const indices = numbersOf(ctx, 1);
  const ds = data.shape;
  if (data.value && indices && isStaticShape(ds)) {
    const d = ds[ax]!;
    if (indices.some((i) => i < -d || i >= d))
      throw inferError(ctx, `an index is out of range for a dim of ${d}`);
    out.value = gatherND(
      data.value,
      ds,
      ax,
      indices.map((i) => (i < 0 ? i + d : i)),
    );
  }
  return [out];
};

function sliceParams(ctx: InferContext): {
  starts?: number[];
  ends?: number[];
  axes?: number[];
  steps?: number[];
} {
  if (ctx.opset < 10) {
    return {
      starts: ctx.node.ints('starts'),
      ends: ctx.node.ints('ends'),
      axes: ctx.node.ints('axes'),
    };
  }
  const opt = (i: number) => (ctx.node.inputs[i] ? numbersOf(ctx, i) : undefined);
  return { starts: numbersOf(ctx, 1), ends: numbersOf(ctx, 2), axes: opt(3), steps: opt(4) };
}

/** Slice (attribute form before opset 10, input form after); 1-D values sliced too. */
export const slice: InferRule = (ctx) => {
  const x = input(ctx, 0);
  if (!x.shape) return [{ elemType: x.elemType }];
  const { starts, ends, axes, steps } = sliceParams(ctx);
  const hasAxesInput = ctx.opset >= 10 && (ctx.node.inputs[3] ?? '') !== '';
  const hasStepsInput = ctx.opset >= 10 && (ctx.node.inputs[4] ?? '') !== '';
  if (!starts || !ends || (hasAxesInput && !axes) || (hasStepsInput && !steps)) {
    // Which dims change is unknown; the rank is not.
    const changed = axes ? new Set(axes.map((a) => (a < 0 ? a + x.shape!.length : a))) : undefined;
    return [
      {
        elemType: x.elemType,
        shape: x.shape.map((d, i) => (changed && !changed.has(i) ? d : null)),
      },
    ];
  }
  const shape = [...x.shape];
  const ranges: (Range | undefined)[] = x.shape.map((d) =>
    typeof d === 'number' ? [0, d, 1] : undefined,
  );
  for (let k = 0; k < starts.length; k++) {
    const a = axis(ctx, axes?.[k] ?? k, x.shape.length);
    const step = steps?.[k] ?? 1;
    if (step === 0) throw inferError(ctx, 'a step of 0');
    const d = x.shape[a];
    if (typeof d !== 'number') {
      // An unknown dim sliced from 0 to 'the end' stays the same dim.
      const whole = starts[k] === 0 && step === 1 && ends[k]! >= 2 ** 31 - 1;
      shape[a] = whole ? d! : null;
      continue;
    }
    const r = clampRange(starts[k]!, ends[k]!, step, d);
    shape[a] = rangeLength(r);
    ranges[a] = r;
  }
  const out: TensorInfo = { elemType: x.elemType, shape };
  if (x.value && isStaticShape(x.shape) && ranges.every((r) => r !== undefined)) {
    out.value = sliceND(x.value, x.shape, ranges as Range[]);
  }
  return [out];
};

/** Concat along `axis`; 1-D values concatenated. */
export const concat: InferRule = (ctx) => {
  const ins = ctx.inputs;
  const first = ins.find((i) => i?.shape);
  const elemType = ins.find((i) => i?.elemType !== undefined)?.elemType;
  if (!first?.shape || ins.some((i) => !i?.shape))
    return [{ elemType, shape: first?.shape ? first.shape.map(() => null) : undefined }];
  const rank = first.shape.length;
  const ax = axis(ctx, ctx.node.int('axis') ?? 0, rank);
  const shape = [...first.shape];
  let total: Dim = 0;
  for (const i of ins) {
    const d = i!.shape![ax] ?? null;
    total = typeof total === 'number' && typeof d === 'number' ? total + d : null;
  }
  shape[ax] = total;
  // Other dims: take a known one where the inputs differ in knowledge.
  for (let k = 0; k < rank; k++)
    if (k !== ax) shape[k] = ins.map((i) => i!.shape![k] ?? null).find((d) => d !== null) ?? null;
  const out: TensorInfo = { elemType, shape };
  if (ins.every((i) => i!.value && isStaticShape(i!.shape))) {
    out.value = concatND(
      ins.map((i) => i!.value!),
      ins.map((i) => i!.shape as number[]),
      ax,
    );
  }
  return [out];
};

function axesFrom(ctx: InferContext, sinceOpset: number): number[] | undefined {
  if (ctx.opset >= sinceOpset) return ctx.node.inputs[1] ? (numbersOf(ctx, 1) ?? [NaN]) : undefined;
  return ctx.node.ints('axes');
}

/** Unsqueeze (axes input from opset 13). */
export const unsqueeze: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const axes = axesFrom(ctx, 13);
  if (!x.shape || !axes || axes.some(Number.isNaN)) return [{ elemType: x.elemType }];
  const rank = x.shape.length + axes.length;
  const norm = new Set(axes.map((a) => axis(ctx, a, rank)));
  const shape: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) shape.push(norm.has(i) ? 1 : x.shape[j++]!);
  return [{ elemType: x.elemType, shape, value: x.value }];
};

/** Squeeze (axes input from opset 13; all 1-dims when absent). */
export const squeeze: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const axes = axesFrom(ctx, 13);
  if (!x.shape || (axes && axes.some(Number.isNaN))) return [{ elemType: x.elemType }];
  const drop = axes
    ? new Set(axes.map((a) => axis(ctx, a, x.shape!.length)))
    : new Set(x.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
  if (!axes && x.shape.some((d) => typeof d !== 'number')) return [{ elemType: x.elemType }];
  return [{ elemType: x.elemType, shape: x.shape.filter((_, i) => !drop.has(i)), value: x.value }];
};

/** Transpose by `perm` (reversed dims by default). */
export const transpose: InferRule = (ctx) => {
  const x = input(ctx, 0);
  if (!x.shape) return [{ elemType: x.elemType }];
  const perm = ctx.node.ints('perm') ?? x.shape.map((_, i) => x.shape!.length - 1 - i);
  if (perm.length !== x.shape.length)
    throw inferError(ctx, `perm has ${perm.length} entries for rank ${x.shape.length}`);
  const out: TensorInfo = { elemType: x.elemType, shape: perm.map((p) => x.shape![p] ?? null) };
  if (x.value && isStaticShape(x.shape)) out.value = transposeND(x.value, x.shape, perm);
  return [out];
};

/** Expand: broadcast of the input and the shape input. */
export const expand: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const target = ctx.inputs[1]?.value;
  if (!x.shape || !target) return [{ elemType: x.elemType }];
  const out: TensorInfo = { elemType: x.elemType, shape: broadcastShapes([x.shape, target]) };
  if (
    x.value &&
    isStaticShape(x.shape) &&
    isStaticShape(out.shape) &&
    staticSize(out.shape) <= ctx.valueLimit
  ) {
    out.value = broadcastTo(x.value, x.shape, out.shape);
  }
  return [out];
};

/** ConstantOfShape: shape from the input's value; type from the value attribute (float by default). */
export const constantOfShape: InferRule = (ctx) => {
  const target = ctx.inputs[0]?.value;
  const t = ctx.node.tensor('value');
  const len = ctx.inputs[0]?.shape?.[0];
  const shape = target ?? (typeof len === 'number' ? Array<Dim>(len).fill(null) : undefined);
  const out: TensorInfo = { elemType: t?.elemType ?? ElemType.FLOAT, shape };
  if (
    target &&
    target.every((d) => typeof d === 'number') &&
    (productDims(target) as number) <= ctx.valueLimit
  ) {
    const v = t ? constantInfo(t).value?.[0] : 0;
    if (v !== undefined) out.value = Array(productDims(target) as number).fill(v);
  }
  return [out];
};

/** Pad: input plus begin and end pads (pads input from opset 11, optional axes from 18). */
export const pad: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const pads =
    ctx.opset >= 11 ? numbersOf(ctx, 1) : (ctx.node.ints('pads') ?? ctx.node.ints('paddings'));
  if (!x.shape || !pads) return [{ elemType: x.elemType, shape: x.shape?.map(() => null) }];
  const rank = x.shape.length;
  const axes = ctx.node.inputs[3] ? numbersOf(ctx, 3) : x.shape.map((_, i) => i);
  if (!axes) return [{ elemType: x.elemType, shape: x.shape.map(() => null) }];
  const shape = [...x.shape];
  axes.forEach((a, k) => {
    const i = axis(ctx, a, rank);
    const d = shape[i];
    shape[i] =
      typeof d === 'number'
        ? d + pads[k]! + pads[k + axes.length]!
        : pads[k] === 0 && pads[k + axes.length] === 0
          ? d!
          : null;
  });
  return [{ elemType: x.elemType, shape }];
};

/** Resize / Upsample: from sizes, or floor(dim * scale). */
export const resize: InferRule = (ctx) => {
  const x = input(ctx, 0);
  if (!x.shape) return [{ elemType: x.elemType }];
  const n = ctx.node.inputs;
  const scalesAt = ctx.opset >= 11 ? 2 : 1;
  const sizes = ctx.opset >= 11 && n[3] ? numbersOf(ctx, 3) : undefined;
  if (sizes && sizes.length === x.shape.length) return [{ elemType: x.elemType, shape: sizes }];
  const scales = n[scalesAt] ? numbersOf(ctx, scalesAt) : ctx.node.attr('scales')?.proto.floats;
  if (!scales || scales.length !== x.shape.length)
    return [{ elemType: x.elemType, shape: x.shape.map(() => null) }];
  return [
    {
      elemType: x.elemType,
      shape: x.shape.map((d, i) =>
        scales[i] === 1 ? d : typeof d === 'number' ? Math.floor(d * scales[i]!) : null,
      ),
    },
  ];
};

/** Split into equal parts, `split` sizes (input from 13), or num_outputs (18). */
export const split: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const count = ctx.node.outputs.length;
  if (!x.shape) return Array.from({ length: count }, () => ({ elemType: x.elemType }));
  const ax = axis(ctx, ctx.node.int('axis', 0), x.shape.length);
  const sizes =
    ctx.opset >= 13 ? (ctx.node.inputs[1] ? numbersOf(ctx, 1) : undefined) : ctx.node.ints('split');
  const d = x.shape[ax];
  return Array.from({ length: count }, (_, k) => {
    let part: Dim = null;
    if (sizes) part = sizes[k] ?? null;
    else if (typeof d === 'number') {
      const chunk = Math.ceil(d / count);
      part = k < count - 1 ? chunk : d - chunk * (count - 1);
    }
    const shape = [...x.shape!];
    shape[ax] = part;
    return { elemType: x.elemType, shape };
  });
};

/** ReduceMean/Sum/Max/... (axes attribute, or input from opset 18; ReduceSum from 13). */
export const reduce: InferRule = (ctx) => {
  const x = input(ctx, 0);
  if (!x.shape) return [{ elemType: x.elemType }];
  const inputForm = ctx.opset >= 18 || (ctx.node.opType === 'ReduceSum' && ctx.opset >= 13);
  const axes = inputForm
    ? ctx.node.inputs[1]
      ? numbersOf(ctx, 1)
      : []
    : ctx.node.ints('axes', []);
  const keep = ctx.node.int('keepdims', 1) === 1;
  if (axes === undefined)
    return [{ elemType: x.elemType, shape: keep ? x.shape.map(() => null) : undefined }];
  const noop = ctx.node.int('noop_with_empty_axes', 0) === 1;
  if (axes.length === 0 && noop) return [{ elemType: x.elemType, shape: x.shape }];
  const set = new Set(
    axes.length === 0 ? x.shape.map((_, i) => i) : axes.map((a) => axis(ctx, a, x.shape!.length)),
  );
  const shape = keep
    ? x.shape.map((d, i) => (set.has(i) ? 1 : d))
    : x.shape.filter((_, i) => !set.has(i));
  return [{ elemType: x.elemType, shape }];
};
