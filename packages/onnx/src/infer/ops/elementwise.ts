import { ElemType } from '../../ir/elem-type';
import type { Dim } from '../../ir/shape';
import { type InferContext, type InferRule, input, type TensorInfo } from '../context';
import { addDim, broadcastShapes, divDim, mulDim } from '../dims';

/** Same type and shape as input 0 (Relu, Sigmoid, Erf, Clip, Softmax, ...). */
export const sameAsInput: InferRule = (ctx) => {
  const x = input(ctx, 0);
  return [{ elemType: x.elemType, shape: x.shape }];
};

/** Identity keeps the value too, so shape arithmetic flows through it. */
export const identity: InferRule = (ctx) => [{ ...input(ctx, 0) }];

function broadcastInfo(ctx: InferContext, indices: number[]): Dim[] | undefined {
  const shapes = indices.map((i) => ctx.inputs[i]?.shape);
  if (shapes.some((s) => s === undefined)) return undefined;
  return broadcastShapes(shapes as Dim[][]);
}

function combine(a: Dim[] | undefined, b: Dim[] | undefined, f: (x: Dim, y: Dim) => Dim): Dim[] | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (a.length !== b.length && a.length !== 1 && b.length !== 1) return undefined;
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => f(a[a.length === 1 ? 0 : i]!, b[b.length === 1 ? 0 : i]!));
}

const arith: Record<string, (x: Dim, y: Dim) => Dim> = {
  Add: addDim,
  Sub: (x, y) => (typeof x === 'number' && typeof y === 'number' ? x - y : null),
  Mul: mulDim,
  Div: (x, y) => (typeof x === 'number' && typeof y === 'number' ? (y === 0 ? null : Math.trunc(x / y)) : divDim(x, y)),
};

/** Broadcasting binary arithmetic; integer values are propagated (shape math). */
export const binaryArith: InferRule = (ctx) => {
  const a = input(ctx, 0);
  const b = input(ctx, 1);
  const out: TensorInfo = { elemType: a.elemType ?? b.elemType, shape: broadcastInfo(ctx, [0, 1]) };
  const f = arith[ctx.node.opType];
  const integer = a.elemType === ElemType.INT64 || a.elemType === ElemType.INT32;
  if (f && integer) {
    const v = combine(a.value, b.value, f);
    if (v && v.every((d) => d !== null)) out.value = v;
  }
  return [out];
};

const comparisons: Record<string, (x: number, y: number) => boolean> = {
  Equal: (x, y) => x === y,
  Less: (x, y) => x < y,
  Greater: (x, y) => x > y,
  LessOrEqual: (x, y) => x <= y,
  GreaterOrEqual: (x, y) => x >= y,
};

/** Broadcasting comparison: bool output; numeric values compared (shape math uses Equal). */
export const compare: InferRule = (ctx) => {
  const out: TensorInfo = { elemType: ElemType.BOOL, shape: broadcastInfo(ctx, [0, 1]) };
  const f = comparisons[ctx.node.opType];
  const v = combine(ctx.inputs[0]?.value, ctx.inputs[1]?.value, (x, y) => {
    if (typeof x === 'number' && typeof y === 'number') return f?.(x, y) ? 1 : f ? 0 : null;
    if (ctx.node.opType !== 'Equal') return null;
    if (x !== null && x === y) return 1;
    // A symbolic dim is a size, never negative: Equal(batch, -1) is false.
    if ((typeof x === 'string' && typeof y === 'number' && y < 0) || (typeof y === 'string' && typeof x === 'number' && x < 0)) return 0;
    return null;
  });
  if (v && v.every((d) => d !== null)) out.value = v;
  return [out];
};

/** Where(cond, x, y): type of x, broadcast of all three; values selected when all are known. */
export const where: InferRule = (ctx) => {
  const out: TensorInfo = { elemType: input(ctx, 1).elemType, shape: broadcastInfo(ctx, [0, 1, 2]) };
  const [c, x, y] = [ctx.inputs[0]?.value, ctx.inputs[1]?.value, ctx.inputs[2]?.value];
  const n = out.shape?.length === 1 && typeof out.shape[0] === 'number' ? out.shape[0] : undefined;
  const at = (v: Dim[], i: number) => v[v.length === 1 ? 0 : i]!;
  if (c && x && y && n !== undefined && [c, x, y].every((v) => v.length === 1 || v.length === n)) {
    out.value = Array.from({ length: n }, (_, i) => (at(c, i) === 1 ? at(x, i) : at(y, i)));
  }
  return [out];
};

/** Logical Not: bool, same shape. */
export const not: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const out: TensorInfo = { elemType: ElemType.BOOL, shape: x.shape };
  if (x.value?.every((d) => typeof d === 'number')) out.value = x.value.map((d) => (d === 0 ? 1 : 0));
  return [out];
};

/** Cast: the `to` type; integer values carried (shape math often casts). */
export const cast: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const to = ctx.node.int('to');
  const out: TensorInfo = { elemType: to, shape: x.shape };
  if (x.value && (to === ElemType.INT64 || to === ElemType.INT32)) {
    out.value = x.value.map((d) => (typeof d === 'number' ? Math.trunc(d) : d));
  }
  if (x.value && to === ElemType.BOOL && x.value.every((d) => typeof d === 'number')) {
    out.value = x.value.map((d) => (d !== 0 ? 1 : 0));
  }
  return [out];
};
