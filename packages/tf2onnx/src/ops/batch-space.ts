import { ElemType, intAttr, intsAttr } from '@kiln/onnx';
import type { OpContext, OpHandler } from '../convert/context';
import { int64Input } from './shape';

// SpaceToBatchND / BatchToSpaceND, as TF lowers a dilated convolution. The paddings and crops
// are often computed from the input shape at run time, so both are built from Shape, Reshape and
// Transpose; the block shape must be a constant.

const I64 = ElemType.INT64;

function blockOf(ctx: OpContext): [number, number] {
  const block = ctx.constNumbers(1, 'block_shape');
  const rank = ctx.inputShape(0)?.length;
  // A 2-D block means 4-D NHWC input (the rank can be unknown after an If).
  if (block.length !== 2 || (rank !== undefined && rank !== 4))
    throw ctx.fail('is supported on 4-D inputs with a 2-D block only', 'UNSUPPORTED');
  return [block[0]!, block[1]!];
}

// Elements [start, end) of a 1-D int64 tensor.
function range(ctx: OpContext, x: string, start: number, end: number): string {
  return ctx.add1('Slice', [x, ctx.int64s([start]), ctx.int64s([end]), ctx.int64s([0])], [], I64);
}

// Column `col` of an int64 [2, 2] matrix, as a vector.
function column(ctx: OpContext, m: string, col: number): string {
  const c = ctx.add1(
    'Slice',
    [m, ctx.int64s([col]), ctx.int64s([col + 1]), ctx.int64s([1])],
    [],
    I64,
  );
  return ctx.add1('Reshape', [c, ctx.int64s([2])], [], I64);
}

function concat(ctx: OpContext, parts: string[]): string {
  return ctx.add1('Concat', parts, [intAttr('axis', 0)], I64);
}

const spaceToBatch: OpHandler = (ctx) => {
  const [b0, b1] = blockOf(ctx);
  const t = ctx.inputType(0);
  // paddings [[top, bottom], [left, right]] -> ONNX pads [0, top, left, 0, 0, bottom, right, 0].
  const p = ctx.add1('Transpose', [int64Input(ctx, 2)], [intsAttr('perm', [1, 0])], I64);
  const padded = ctx.add1('Pad', [p, ctx.int64s([0, 1, 0, 1])], [], I64);
  const pads = ctx.add1('Reshape', [padded, ctx.int64s([8])], [], I64);
  const x = ctx.add1('Pad', [ctx.input(0), pads], [], t);
  const shape = ctx.add1('Shape', [x], [], I64);
  const hw = ctx.add1('Div', [range(ctx, shape, 1, 3), ctx.int64s([b0, b1])], [], I64);
  const [n, h, w, c] = [
    range(ctx, shape, 0, 1),
    range(ctx, hw, 0, 1),
    range(ctx, hw, 1, 2),
    range(ctx, shape, 3, 4),
  ];
  // [N, H/b0, b0, W/b1, b1, C] -> [b0, b1, N, H/b0, W/b1, C]: batch index (i0 * b1 + i1) * N + n.
  const split = ctx.add1(
    'Reshape',
    [x, concat(ctx, [n, h, ctx.int64s([b0]), w, ctx.int64s([b1]), c])],
    [],
    t,
  );
  const moved = ctx.add1('Transpose', [split], [intsAttr('perm', [2, 4, 0, 1, 3, 5])], t);
  const y = ctx.add1('Reshape', [moved, concat(ctx, [ctx.int64s([-1]), h, w, c])], [], t);
  ctx.output(0, y, t, [-1, -1, -1, ctx.inputShape(0)?.[3] ?? -1]);
};

const batchToSpace: OpHandler = (ctx) => {
  const [b0, b1] = blockOf(ctx);
  const t = ctx.inputType(0);
  const shape = ctx.add1('Shape', [ctx.input(0)], [], I64);
  const hw = range(ctx, shape, 1, 3);
  const c = range(ctx, shape, 3, 4);
  // [b0 * b1 * N, H, W, C] -> [b0, b1, N, H, W, C] -> [N, H, b0, W, b1, C] -> [N, H*b0, W*b1, C].
  const split = ctx.add1(
    'Reshape',
    [ctx.input(0), concat(ctx, [ctx.int64s([b0, b1, -1]), hw, c])],
    [],
    t,
  );
  const moved = ctx.add1('Transpose', [split], [intsAttr('perm', [2, 3, 0, 4, 1, 5])], t);
  const full = ctx.add1('Mul', [hw, ctx.int64s([b0, b1])], [], I64);
  const y = ctx.add1('Reshape', [moved, concat(ctx, [ctx.int64s([-1]), full, c])], [], t);
  // crops [[top, bottom], [left, right]]: keep [top, H*b0 - bottom) and [left, W*b1 - right).
  const crops = int64Input(ctx, 2);
  const ends = ctx.add1('Sub', [full, column(ctx, crops, 1)], [], I64);
  const out = ctx.add1('Slice', [y, column(ctx, crops, 0), ends, ctx.int64s([1, 2])], [], t);
  ctx.output(0, out, t, [-1, -1, -1, ctx.inputShape(0)?.[3] ?? -1]);
};

/** Handlers of SpaceToBatchND and BatchToSpaceND. */
export const BATCH_SPACE: Record<string, OpHandler> = {
  SpaceToBatchND: spaceToBatch,
  BatchToSpaceND: batchToSpace,
};
