import { ElemType } from '../../ir/elem-type';
import type { Dim } from '../../ir/shape';
import { axis, type InferContext, inferError, type InferRule, input } from '../context';
import { broadcastShapes } from '../dims';

function spatial(
  ctx: InferContext,
  x: Dim[],
  kernel: number[],
  transposed: boolean,
  outputPadding: number[] = [],
): Dim[] {
  const n = kernel.length;
  const strides = ctx.node.ints('strides', Array(n).fill(1));
  const dilations = ctx.node.ints('dilations', Array(n).fill(1));
  const pads = ctx.node.ints('pads', Array(2 * n).fill(0));
  const autoPad = ctx.node.string('auto_pad', 'NOTSET');
  const ceil = ctx.node.int('ceil_mode', 0) === 1;
  return kernel.map((k, i) => {
    const d = x[2 + i];
    if (typeof d !== 'number') return null;
    const s = strides[i] ?? 1;
    const dil = dilations[i] ?? 1;
    const ek = (k - 1) * dil + 1;
    if (transposed) {
      if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return d * s;
      return s * (d - 1) + (outputPadding[i] ?? 0) + ek - (pads[i] ?? 0) - (pads[i + n] ?? 0);
    }
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(d / s);
    if (autoPad === 'VALID') return Math.floor((d - ek) / s) + 1;
    const total = d + (pads[i] ?? 0) + (pads[i + n] ?? 0) - ek;
    let out = (ceil ? Math.ceil(total / s) : Math.floor(total / s)) + 1;
    // With ceil_mode the last window must start inside the (left-padded) input.
    if (ceil && (out - 1) * s >= d + (pads[i] ?? 0)) out--;
    return out;
  });
}

/** Conv: [N, M, spatial...]. */
export const conv: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const w = input(ctx, 1).shape;
  if (!x.shape || !w) return [{ elemType: x.elemType }];
  const kernel =
    ctx.node.ints('kernel_shape') ??
    (w.slice(2).every((d) => typeof d === 'number') ? (w.slice(2) as number[]) : undefined);
  if (!kernel) return [{ elemType: x.elemType }];
  return [
    { elemType: x.elemType, shape: [x.shape[0]!, w[0]!, ...spatial(ctx, x.shape, kernel, false)] },
  ];
};

/** ConvTranspose: [N, W[1]*group, spatial...]. */
export const convTranspose: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const w = input(ctx, 1).shape;
  if (!x.shape || !w) return [{ elemType: x.elemType }];
  const group = ctx.node.int('group', 1);
  const c = typeof w[1] === 'number' ? w[1] * group : null;
  const outputShape = ctx.node.ints('output_shape');
  if (outputShape) return [{ elemType: x.elemType, shape: [x.shape[0]!, c, ...outputShape] }];
  const kernel = ctx.node.ints('kernel_shape') ?? (w.slice(2) as number[]);
  const op = ctx.node.ints('output_padding', []);
  return [
    { elemType: x.elemType, shape: [x.shape[0]!, c, ...spatial(ctx, x.shape, kernel, true, op)] },
  ];
};

/** MaxPool / AveragePool (MaxPool's optional Indices output is int64). */
export const pool: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const kernel = ctx.node.ints('kernel_shape');
  if (!x.shape || !kernel) return [{ elemType: x.elemType }, { elemType: ElemType.INT64 }];
  const shape = [x.shape[0]!, x.shape[1]!, ...spatial(ctx, x.shape, kernel, false)];
  return [
    { elemType: x.elemType, shape },
    { elemType: ElemType.INT64, shape },
  ];
};

/** GlobalAveragePool / GlobalMaxPool: spatial dims become 1. */
export const globalPool: InferRule = (ctx) => {
  const x = input(ctx, 0);
  return [
    {
      elemType: x.elemType,
      shape: x.shape ? [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)] : undefined,
    },
  ];
};

/** Gemm: [M, N] from the (optionally transposed) A and B. */
export const gemm: InferRule = (ctx) => {
  const a = input(ctx, 0);
  const b = input(ctx, 1).shape;
  if (!a.shape || !b || a.shape.length !== 2 || b.length !== 2) return [{ elemType: a.elemType }];
  const m = ctx.node.int('transA', 0) ? a.shape[1]! : a.shape[0]!;
  const n = ctx.node.int('transB', 0) ? b[0]! : b[1]!;
  return [{ elemType: a.elemType, shape: [m, n] }];
};

/** MatMul with numpy semantics (1-D operands and broadcast batch dims). */
export const matmul: InferRule = (ctx) => {
  const a = input(ctx, 0);
  const bs = input(ctx, 1).shape;
  if (!a.shape || !bs) return [{ elemType: a.elemType }];
  const aa = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape;
  const bb = bs.length === 1 ? [bs[0]!, 1] : bs;
  const batch = broadcastShapes([aa.slice(0, -2), bb.slice(0, -2)]);
  const shape = [...batch];
  if (a.shape.length !== 1) shape.push(aa[aa.length - 2]!);
  if (bs.length !== 1) shape.push(bb[bb.length - 1]!);
  return [{ elemType: a.elemType, shape }];
};

/** BatchNormalization (inference form: one output like X; training outputs like the scale). */
export const batchNorm: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const c = ctx.inputs[1];
  return [{ elemType: x.elemType, shape: x.shape }, c, c, c, c].slice(
    0,
    Math.max(1, ctx.node.outputs.length),
  ) as ReturnType<InferRule>;
};

/** LayerNormalization: Y like X; Mean and InvStdDev keep dims before `axis`, then 1s. */
export const layerNorm: InferRule = (ctx) => {
  const x = input(ctx, 0);
  if (!x.shape) return [{ elemType: x.elemType }, {}, {}];
  const ax = axis(ctx, ctx.node.int('axis', -1), x.shape.length);
  const stats = x.shape.map((d, i) => (i < ax ? d : 1));
  const stashType = ctx.node.int('stash_type', 1);
  return [
    { elemType: x.elemType, shape: x.shape },
    { elemType: stashType, shape: stats },
    { elemType: stashType, shape: stats },
  ];
};

/** LSTM (layout 0 or 1): Y, Y_h, Y_c. */
export const lstm: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const w = input(ctx, 1).shape;
  const hidden = ctx.node.int('hidden_size') ?? (w && typeof w[1] === 'number' ? w[1] / 4 : null);
  const dirs = ctx.node.string('direction', 'forward') === 'bidirectional' ? 2 : 1;
  const layout = ctx.node.int('layout', 0);
  if (!x.shape || x.shape.length !== 3)
    return [{ elemType: x.elemType }, { elemType: x.elemType }, { elemType: x.elemType }];
  const [seq, batch] = layout === 0 ? [x.shape[0]!, x.shape[1]!] : [x.shape[1]!, x.shape[0]!];
  const y = layout === 0 ? [seq, dirs, batch, hidden] : [batch, seq, dirs, hidden];
  const h = layout === 0 ? [dirs, batch, hidden] : [batch, dirs, hidden];
  return [
    { elemType: x.elemType, shape: y },
    { elemType: x.elemType, shape: h },
    { elemType: x.elemType, shape: [...h] },
  ];
};

/** Softmax-like ops that need a valid axis. */
export const softmax: InferRule = (ctx) => {
  const x = input(ctx, 0);
  if (x.shape && x.shape.length > 0)
    axis(ctx, ctx.node.int('axis', ctx.opset >= 13 ? -1 : 1), x.shape.length);
  return [{ elemType: x.elemType, shape: x.shape }];
};

/** QuantizeLinear: the zero point's type (uint8 when absent, or output_dtype). */
export const quantize: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const elemType = ctx.inputs[2]?.elemType ?? ctx.node.int('output_dtype') ?? ElemType.UINT8;
  return [{ elemType, shape: x.shape }];
};

/** DequantizeLinear: the scale's type. */
export const dequantize: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const scale = ctx.inputs[1];
  if (scale === undefined) throw inferError(ctx, 'needs a scale input');
  return [{ elemType: scale.elemType ?? ElemType.FLOAT, shape: x.shape }];
};
