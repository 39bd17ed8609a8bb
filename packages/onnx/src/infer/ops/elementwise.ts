import { ElemType } from '../../ir/elem-type';
import type { Dim } from '../../ir/shape';
import { type InferContext, type InferRule, input, type TensorInfo } from '../context';
import { broadcastShapes, divDim, mulDim } from '../dims';
import { isStaticShape, staticSize } from '../../ir/shape';
import { broadcastTo } from '../values';

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

function combine(
  a: Dim[] | undefined,
  b: Dim[] | undefined,
  f: (x: Dim, y: Dim) => Dim,
): Dim[] | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (a.length !== b.length && a.length !== 1 && b.length !== 1) return undefined;
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) =>
    f(a[a.length === 1 ? 0 : i]!, b[b.length === 1 ? 0 : i]!),
  );
}

/** Applies `f` elementwise with numpy broadcasting when both values and shapes are known. */
function broadcastValues(
  ctx: InferContext,
  out: Dim[] | undefined,
  f: (x: Dim, y: Dim) => Dim,
): Dim[] | undefined {
  const [a, b] = [ctx.inputs[0], ctx.inputs[1]];
  if (!a?.value || !b?.value) return undefined;
  if (isStaticShape(a.shape) && isStaticShape(b.shape) && isStaticShape(out)) {
    if (staticSize(out) > ctx.valueLimit) return undefined;
    const x = broadcastTo(a.value, a.shape, out);
    const y = broadcastTo(b.value, b.shape, out);
    return x.map((v, i) => f(v, y[i]!));
  }
  return combine(a.value, b.value, f);
}

const num =
  (f: (x: number, y: number) => number) =>
  (x: Dim, y: Dim): Dim =>
    typeof x === 'number' && typeof y === 'number' ? f(x, y) : null;

const arith: Record<string, (x: Dim, y: Dim) => Dim> = {
  Add: (x, y) => (typeof x === 'number' && typeof y === 'number' ? x + y : null),
  Sub: num((x, y) => x - y),
  Mul: mulDim,
  Div: (x, y) => (typeof x === 'number' && typeof y === 'number' ? x / y : divDim(x, y)),
  Max: num(Math.max),
  Min: num(Math.min),
};

// Rounds a double result to the element type, the way a float32/int kernel would: float32 +-*/
// computed in double and rounded once is exactly the float32 result.
function round(t: number | undefined, op: string): ((v: Dim) => Dim) | undefined {
  switch (t) {
    case ElemType.FLOAT:
      return (v) => (typeof v === 'number' ? Math.fround(v) : null);
    case ElemType.DOUBLE:
      return (v) => v;
    case ElemType.INT64:
    case ElemType.INT32:
      return (v) => (typeof v === 'number' ? (op === 'Div' ? Math.trunc(v) : v) : v);
    default:
      return undefined;
  }
}

/** Broadcasting binary arithmetic; values propagated for integers (shape math) and floats (folding). */
export const binaryArith: InferRule = (ctx) => {
  const a = input(ctx, 0);
  const b = input(ctx, 1);
  const out: TensorInfo = { elemType: a.elemType ?? b.elemType, shape: broadcastInfo(ctx, [0, 1]) };
  const f = arith[ctx.node.opType];
  const r = round(out.elemType, ctx.node.opType);
  if (f && r) {
    const v = broadcastValues(ctx, out.shape, f);
    if (v && v.every((d) => d !== null)) {
      out.value = v.map(r);
      if (
        out.elemType === ElemType.INT32 &&
        out.value.some((d) => typeof d === 'number' && (d > 2147483647 || d < -2147483648))
      )
        delete out.value;
    }
  }
  return [out];
};

/** Max, Min, Sum, Mean: any number of inputs (1 included), broadcast together. */
export const variadicArith: InferRule = (ctx) => {
  if (ctx.node.inputs.length === 2) return binaryArith(ctx);
  const all = ctx.node.inputs.map((_, i) => i);
  return [{ elemType: input(ctx, 0).elemType, shape: broadcastInfo(ctx, all) }];
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
  const v = broadcastValues(ctx, out.shape, (x, y) => {
    if (typeof x === 'number' && typeof y === 'number') return f?.(x, y) ? 1 : f ? 0 : null;
    if (ctx.node.opType !== 'Equal') return null;
    if (x !== null && x === y) return 1;
    // A symbolic dim is a size, never negative: Equal(batch, -1) is false.
    if (
      (typeof x === 'string' && typeof y === 'number' && y < 0) ||
      (typeof y === 'string' && typeof x === 'number' && x < 0)
    )
      return 0;
    return null;
  });
  if (v && v.every((d) => d !== null)) out.value = v;
  return [out];
};

/** Where(cond, x, y): type of x, broadcast of all three; values selected when all are known. */
export const where: InferRule = (ctx) => {
  const out: TensorInfo = {
    elemType: input(ctx, 1).elemType,
    shape: broadcastInfo(ctx, [0, 1, 2]),
  };
  const [c, x, y] = [ctx.inputs[0]?.value, ctx.inputs[1]?.value, ctx.inputs[2]?.value];
  const shapes = [0, 1, 2].map((i) => ctx.inputs[i]?.shape);
  if (
    c &&
    x &&
    y &&
    isStaticShape(out.shape) &&
    shapes.every(isStaticShape) &&
    staticSize(out.shape) <= ctx.valueLimit
  ) {
    const target = out.shape;
    const [cc, xx, yy] = [c, x, y].map((v, i) => broadcastTo(v, shapes[i] as number[], target));
    out.value = cc!.map((k, i) => (k === 1 ? xx![i]! : yy![i]!));
  }
  return [out];
};

/** Logical Not: bool, same shape. */
export const not: InferRule = (ctx) => {
  const x = input(ctx, 0);
  const out: TensorInfo = { elemType: ElemType.BOOL, shape: x.shape };
  if (x.value?.every((d) => typeof d === 'number'))
    out.value = x.value.map((d) => (d === 0 ? 1 : 0));
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
  if (x.value && to === ElemType.FLOAT && x.value.every((d) => typeof d === 'number'))
    out.value = x.value.map((d) => Math.fround(d as number));
  if (x.value && to === ElemType.DOUBLE) out.value = x.value;
  if (x.value && to === ElemType.BOOL && x.value.every((d) => typeof d === 'number')) {
    out.value = x.value.map((d) => (d !== 0 ? 1 : 0));
  }
  return [out];
};
