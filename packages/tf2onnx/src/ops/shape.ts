import {
  ElemType,
  intAttr,
  intsAttr,
  stringAttr,
  tensorAttr,
  initializerFromNumbers,
} from '@kiln/onnx';
import type { OpContext, OpHandler } from '../convert/context';

// Shape, slicing and data-movement ops. Where ONNX takes an int64 tensor TF gives int32: constants
// are rewritten at conversion time, other tensors get a Cast.

const INT64_MAX = Number.MAX_SAFE_INTEGER;
const INT64_MIN = -Number.MAX_SAFE_INTEGER;

/** Input i as an int64 tensor (constant when it is one). */
export function int64Input(ctx: OpContext, i: number): string {
  const c = ctx.constInput(i);
  if (c !== undefined) return ctx.int64s(ctx.constNumbers(i, 'value'), c.shape);
  if (ctx.inputType(i) === ElemType.INT64) return ctx.input(i);
  return ctx.add1('Cast', [ctx.input(i)], [intAttr('to', ElemType.INT64)], ElemType.INT64);
}

function unsqueeze(ctx: OpContext, x: string, axes: number[]): string {
  return ctx.add1('Unsqueeze', [x, ctx.int64s(axes)], [], ctx.state.types.get(x)?.elemType);
}

function squeeze(ctx: OpContext, x: string, axes: number[]): string {
  return ctx.add1(
    'Squeeze',
    axes.length > 0 ? [x, ctx.int64s(axes)] : [x],
    [],
    ctx.state.types.get(x)?.elemType,
  );
}

function reduce(onnxOp: string): OpHandler {
  return (ctx) => {
    const axes = ctx.constNumbers(1, 'reduction axes');
    const keep = ctx.bool('keep_dims');
    const t = ctx.inputType(0);
    if (axes.length === 0) {
      ctx.output(0, ctx.input(0));
      return;
    }
    const asInput = onnxOp === 'ReduceSum' || ctx.opset >= 18;
    const attrs = [intAttr('keepdims', keep ? 1 : 0)];
    if (!asInput) attrs.push(intsAttr('axes', axes));
    ctx.output(
      0,
      ctx.add1(onnxOp, asInput ? [ctx.input(0), ctx.int64s(axes)] : [ctx.input(0)], attrs, t),
    );
  };
}

function argReduce(onnxOp: string): OpHandler {
  return (ctx) => {
    const axis = ctx.constNumbers(1, 'axis')[0]!;
    let y = ctx.add1(
      onnxOp,
      [ctx.input(0)],
      [intAttr('axis', axis), intAttr('keepdims', 0)],
      ElemType.INT64,
    );
    const outType = ctx.node.attr.output_type ? ctx.type('output_type') : ElemType.INT64;
    if (outType !== ElemType.INT64) y = ctx.add1('Cast', [y], [intAttr('to', outType)], outType);
    ctx.output(0, y, outType);
  };
}

function pad(mode: 'constant' | 'mirror'): OpHandler {
  return (ctx) => {
    let pads: string;
    if (ctx.constInput(1) !== undefined) {
      const p = ctx.constNumbers(1, 'paddings');
      const r = p.length / 2;
      pads = ctx.int64s([
        ...Array.from({ length: r }, (_, i) => p[i * 2]!),
        ...Array.from({ length: r }, (_, i) => p[i * 2 + 1]!),
      ]);
    } else {
      const t = ctx.add1(
        'Transpose',
        [int64Input(ctx, 1)],
        [intsAttr('perm', [1, 0])],
        ElemType.INT64,
      );
      pads = ctx.add1('Reshape', [t, ctx.int64s([-1])], [], ElemType.INT64);
    }
    const inputs = [ctx.input(0), pads];
    const attrs = [];
    if (mode === 'mirror') {
      const m = ctx.str('mode');
      if (m !== 'REFLECT')
        throw ctx.fail(
          `uses mode '${m}'; ONNX Pad has only REFLECT of the mirror modes`,
          'UNSUPPORTED',
        );
      attrs.push(stringAttr('mode', 'reflect'));
    } else if (ctx.inputCount > 2) inputs.push(ctx.input(2));
    ctx.output(0, ctx.add1('Pad', inputs, attrs, ctx.inputType(0)));
  };
}

function stridedSlice(ctx: OpContext): void {
  const begin = ctx.constNumbers(1, 'begin');
  const end = ctx.constNumbers(2, 'end');
  const strides = ctx.constNumbers(3, 'strides');
  const bm = ctx.int('begin_mask', 0);
  const em = ctx.int('end_mask', 0);
  const ellipsis = ctx.int('ellipsis_mask', 0);
  const newAxis = ctx.int('new_axis_mask', 0);
  const shrink = ctx.int('shrink_axis_mask', 0);
  const n = begin.length;
  const bit = (mask: number, i: number): boolean => ((mask >> i) & 1) === 1;
  const ellipsisAt = Array.from({ length: n }, (_, i) => i).find((i) => bit(ellipsis, i));
  // Specs after an ellipsis address axes from the end, so they use negative axes.
  const afterEllipsis =
    ellipsisAt === undefined
      ? 0
      : Array.from({ length: n - ellipsisAt - 1 }, (_, k) => k + ellipsisAt + 1).filter(
          (i) => !bit(newAxis, i),
        ).length;
  const starts: number[] = [];
  const ends: number[] = [];
  const axes: number[] = [];
  const steps: number[] = [];
  const squeezeAxes: number[] = [];
  const newAxes: number[] = [];
  let inAxis = 0;
  let outAxis = 0;
  let negAxis = -afterEllipsis;
  for (let i = 0; i < n; i++) {
    if (i === ellipsisAt) {
      if (
        newAxis !== 0 &&
        Array.from({ length: n }, (_, k) => k).some((k) => k > i && bit(newAxis, k))
      ) {
        throw ctx.fail('combines an ellipsis with a later new axis', 'UNSUPPORTED');
      }
      continue;
    }
    const after = ellipsisAt !== undefined && i > ellipsisAt;
    if (bit(newAxis, i)) {
      newAxes.push(outAxis++);
      continue;
    }
    const axis = after ? negAxis++ : inAxis++;
    const s = strides[i]!;
    if (s === 0) throw ctx.fail('has a zero stride');
    if (bit(shrink, i)) {
      const b = begin[i]!;
      starts.push(b);
      ends.push(b === -1 ? INT64_MAX : b + 1);
      axes.push(axis);
      steps.push(1);
      squeezeAxes.push(axis);
      continue;
    }
    outAxis++;
    const b = bit(bm, i) ? (s > 0 ? 0 : INT64_MAX) : begin[i]!;
    const e = bit(em, i) ? (s > 0 ? INT64_MAX : INT64_MIN) : end[i]!;
    if (bit(bm, i) && bit(em, i) && s === 1) continue; // the whole axis
    starts.push(b);
    ends.push(e);
    axes.push(axis);
    steps.push(s);
  }
  const t = ctx.inputType(0);
  let y = ctx.input(0);
  if (axes.length > 0)
    y = ctx.add1(
      'Slice',
      [y, ctx.int64s(starts), ctx.int64s(ends), ctx.int64s(axes), ctx.int64s(steps)],
      [],
      t,
    );
  if (squeezeAxes.length > 0) {
    if (squeezeAxes.some((a) => a < 0) && squeezeAxes.some((a) => a >= 0)) {
      const rank = ctx.inputShape(0)?.length;
      if (rank === undefined)
        throw ctx.fail('shrinks axes on both sides of an ellipsis of unknown rank', 'UNSUPPORTED');
      y = squeeze(
        ctx,
        y,
        squeezeAxes.map((a) => (a < 0 ? a + rank : a)),
      );
    } else y = squeeze(ctx, y, squeezeAxes);
  }
  if (newAxes.length > 0) y = unsqueeze(ctx, y, newAxes);
  ctx.output(0, y === ctx.input(0) ? ctx.add1('Identity', [y], [], t) : y);
}

function splitInto(ctx: OpContext, x: string, axis: number, sizes: number[] | number): string[] {
  const count = Array.isArray(sizes) ? sizes.length : sizes;
  const t = ctx.state.types.get(x)?.elemType;
  const inputs = [x];
  const attrs = [intAttr('axis', axis)];
  if (Array.isArray(sizes)) inputs.push(ctx.int64s(sizes));
  else if (ctx.opset >= 18) attrs.push(intAttr('num_outputs', count));
  return ctx.add('Split', inputs, attrs, count, t);
}

/** Handlers of shape and data-movement ops. */
export const SHAPE: Record<string, OpHandler> = {
  Reshape: (ctx) =>
    ctx.output(0, ctx.add1('Reshape', [ctx.input(0), int64Input(ctx, 1)], [], ctx.inputType(0))),
  // Expand broadcasts both ways; for a shape BroadcastTo accepts, that is the shape itself.
  BroadcastTo: (ctx) =>
    ctx.output(0, ctx.add1('Expand', [ctx.input(0), int64Input(ctx, 1)], [], ctx.inputType(0))),
  Squeeze: (ctx) => ctx.output(0, squeeze(ctx, ctx.input(0), ctx.ints('squeeze_dims', []))),
  ExpandDims: (ctx) =>
    ctx.output(0, unsqueeze(ctx, ctx.input(0), [ctx.constNumbers(1, 'axis')[0]!])),
  ConcatV2: (ctx) => {
    const n = ctx.inputCount - 1;
    const axis = ctx.constNumbers(n, 'axis')[0]!;
    const xs = Array.from({ length: n }, (_, i) => ctx.input(i));
    ctx.output(
      0,
      n === 1 ? xs[0]! : ctx.add1('Concat', xs, [intAttr('axis', axis)], ctx.inputType(0)),
    );
  },
  Pack: (ctx) => {
    const axis = ctx.int('axis', 0);
    const xs = ctx.node.inputs.map((_, i) => unsqueeze(ctx, ctx.input(i), [axis]));
    ctx.output(
      0,
      xs.length === 1 ? xs[0]! : ctx.add1('Concat', xs, [intAttr('axis', axis)], ctx.inputType(0)),
    );
  },
  Unpack: (ctx) => {
    const num = ctx.int('num');
    const axis = ctx.int('axis', 0);
    const parts = splitInto(ctx, ctx.input(0), axis, Array<number>(num).fill(1));
    parts.forEach((p, i) => ctx.output(i, squeeze(ctx, p, [axis]), ctx.inputType(0)));
  },
  Split: (ctx) => {
    const axis = ctx.constNumbers(0, 'axis')[0]!;
    const num = ctx.int('num_split');
    const parts = splitInto(ctx, ctx.input(1), axis, num);
    parts.forEach((p, i) => ctx.output(i, p, ctx.inputType(1)));
  },
  SplitV: (ctx) => {
    let sizes = ctx.constNumbers(1, 'size_splits');
    const axis = ctx.constNumbers(2, 'axis')[0]!;
    if (sizes.includes(-1)) {
      const shape = ctx.inputShape(0);
      const dim = shape?.[axis < 0 ? axis + shape.length : axis];
      if (dim === undefined || dim < 0)
        throw ctx.fail('has a -1 split size on an axis of unknown size', 'UNSUPPORTED');
      const known = sizes.filter((s) => s !== -1).reduce((a, b) => a + b, 0);
      sizes = sizes.map((s) => (s === -1 ? dim - known : s));
    }
    const parts = splitInto(ctx, ctx.input(0), axis, sizes);
    parts.forEach((p, i) => ctx.output(i, p, ctx.inputType(0)));
  },
  StridedSlice: stridedSlice,
  Slice: (ctx) => {
    if (ctx.constInput(1) === undefined || ctx.constInput(2) === undefined) {
      // Run-time begin/size: end = begin + size, or the end of the axis where size is -1.
      const begin = int64Input(ctx, 1);
      const size = int64Input(ctx, 2);
      const all = ctx.add1('Equal', [size, ctx.int64s([-1], [])], [], ElemType.BOOL);
      const sum = ctx.add1('Add', [begin, size], [], ElemType.INT64);
      const ends = ctx.add1('Where', [all, ctx.int64s([INT64_MAX], []), sum], [], ElemType.INT64);
      // Without axes, Slice takes begin/end for every axis, as TF's Slice does.
      ctx.output(0, ctx.add1('Slice', [ctx.input(0), begin, ends], [], ctx.inputType(0)));
      return;
    }
    const begin = ctx.constNumbers(1, 'begin');
    const size = ctx.constNumbers(2, 'size');
    const ends = size.map((s, i) => (s === -1 ? INT64_MAX : begin[i]! + s));
    ctx.output(
      0,
      ctx.add1(
        'Slice',
        [ctx.input(0), ctx.int64s(begin), ctx.int64s(ends), ctx.int64s(begin.map((_, i) => i))],
        [],
        ctx.inputType(0),
      ),
    );
  },
  GatherV2: (ctx) => {
    if (ctx.int('batch_dims', 0) !== 0) throw ctx.fail('uses batch_dims', 'UNSUPPORTED');
    const axis = ctx.constNumbers(2, 'axis')[0]!;
    ctx.output(
      0,
      ctx.add1('Gather', [ctx.input(0), ctx.input(1)], [intAttr('axis', axis)], ctx.inputType(0)),
    );
  },
  GatherNd: (ctx) =>
    ctx.output(0, ctx.add1('GatherND', [ctx.input(0), int64Input(ctx, 1)], [], ctx.inputType(0))),
  Transpose: (ctx) => ctx.output(0, ctx.transpose(ctx.input(0), ctx.constNumbers(1, 'perm'))),
  Shape: (ctx) => {
    const outType = ctx.node.attr.out_type ? ctx.type('out_type') : ElemType.INT32;
    let y = ctx.add1('Shape', [ctx.input(0)], [], ElemType.INT64);
    if (outType !== ElemType.INT64) y = ctx.add1('Cast', [y], [intAttr('to', outType)], outType);
    ctx.output(0, y, outType);
  },
  Size: (ctx) => {
    const outType = ctx.node.attr.out_type ? ctx.type('out_type') : ElemType.INT32;
    let y = ctx.add1('Size', [ctx.input(0)], [], ElemType.INT64);
    if (outType !== ElemType.INT64) y = ctx.add1('Cast', [y], [intAttr('to', outType)], outType);
    ctx.output(0, y, outType);
  },
  Rank: (ctx) => {
    const y = ctx.add1(
      'Size',
      [ctx.add1('Shape', [ctx.input(0)], [], ElemType.INT64)],
      [],
      ElemType.INT64,
    );
    ctx.output(
      0,
      ctx.add1('Cast', [y], [intAttr('to', ElemType.INT32)], ElemType.INT32),
      ElemType.INT32,
    );
  },
  Fill: (ctx) =>
    ctx.output(
      0,
      ctx.add1('Expand', [ctx.input(1), int64Input(ctx, 0)], [], ctx.inputType(1)),
      ctx.inputType(1),
    ),
  Tile: (ctx) =>
    ctx.output(0, ctx.add1('Tile', [ctx.input(0), int64Input(ctx, 1)], [], ctx.inputType(0))),
  ZerosLike: (ctx) => {
    const t = ctx.inputType(0);
    const zero = initializerFromNumbers('value', t, [1], [0]);
    ctx.output(
      0,
      ctx.add1(
        'ConstantOfShape',
        [ctx.add1('Shape', [ctx.input(0)], [], ElemType.INT64)],
        [tensorAttr('value', zero)],
        t,
      ),
    );
  },
  OnesLike: (ctx) => {
    const t = ctx.inputType(0);
    const one = initializerFromNumbers('value', t, [1], [1]);
    ctx.output(
      0,
      ctx.add1(
        'ConstantOfShape',
        [ctx.add1('Shape', [ctx.input(0)], [], ElemType.INT64)],
        [tensorAttr('value', one)],
        t,
      ),
    );
  },
  Range: (ctx) =>
    ctx.output(
      0,
      ctx.add1('Range', [ctx.input(0), ctx.input(1), ctx.input(2)], [], ctx.inputType(0)),
    ),
  Pad: pad('constant'),
  PadV2: pad('constant'),
  MirrorPad: pad('mirror'),
  Mean: reduce('ReduceMean'),
  Sum: reduce('ReduceSum'),
  Max: reduce('ReduceMax'),
  Min: reduce('ReduceMin'),
  Prod: reduce('ReduceProd'),
  ArgMax: argReduce('ArgMax'),
  ArgMin: argReduce('ArgMin'),
  TopKV2: (ctx) => {
    const k = int64Input(ctx, 1);
    const k1 = ctx.add1('Reshape', [k, ctx.int64s([1])], [], ElemType.INT64);
    const [values, indices] = ctx.add(
      'TopK',
      [ctx.input(0), k1],
      [intAttr('axis', -1), intAttr('largest', 1), intAttr('sorted', 1)],
      2,
    );
    ctx.output(0, values!, ctx.inputType(0));
    ctx.output(
      1,
      ctx.add1('Cast', [indices!], [intAttr('to', ElemType.INT32)], ElemType.INT32),
      ElemType.INT32,
    );
  },
  SparseToDense: (ctx) => {
    const t = ctx.inputType(2);
    const data = ctx.add1('Expand', [ctx.input(3), int64Input(ctx, 1)], [], t);
    let idx = int64Input(ctx, 0);
    const idxShape = ctx.inputShape(0);
    if (idxShape === undefined || idxShape.length <= 1)
      idx = ctx.add1('Reshape', [idx, ctx.int64s([-1, 1])], [], ElemType.INT64);
    const count = ctx.add1(
      'Slice',
      [ctx.add1('Shape', [idx], [], ElemType.INT64), ctx.int64s([0]), ctx.int64s([1])],
      [],
      ElemType.INT64,
    );
    const values = ctx.add1('Expand', [ctx.input(2), count], [], t);
    ctx.output(0, ctx.add1('ScatterND', [data, idx, values], [], t));
  },
};
