import { ElemType, floatAttr, intAttr, intsAttr, stringAttr } from '@kiln/onnx';
import type { OpContext, OpHandler } from '../convert/context';
import type { TfTensor } from '../proto/graph';
import { floatTensor, tensorFloats, transposeTensor } from '../convert/tensor-values';
import { activation } from './elementwise';

// Convolutions, pooling, normalisation and resizing. TF keeps these NHWC; ONNX wants NCHW, so each
// handler transposes in and out and the transpose optimizer later removes the pairs that meet.

const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];

function isNhwc(ctx: OpContext): boolean {
  const f = ctx.str('data_format', 'NHWC');
  if (f !== 'NHWC' && f !== 'NCHW')
    throw ctx.fail(`has data_format '${f}'; only NHWC and NCHW are supported`, 'UNSUPPORTED');
  return f === 'NHWC';
}

/** Spatial values (H, W) of a 4-element TF attribute list in the node's layout. */
function spatial(ctx: OpContext, values: number[], nhwc: boolean): number[] {
  if (values.length !== 4)
    throw ctx.fail(`has a ${values.length}-element stride/dilation/ksize list; 4 expected`);
  return nhwc ? [values[1]!, values[2]!] : [values[2]!, values[3]!];
}

/** ONNX padding attributes for TF's padding attr. */
function padAttrs(ctx: OpContext, nhwc: boolean) {
  const p = ctx.str('padding');
  if (p === 'SAME') return [stringAttr('auto_pad', 'SAME_UPPER')];
  if (p === 'VALID') return [stringAttr('auto_pad', 'VALID')];
  if (p === 'EXPLICIT') {
    const e = ctx.ints('explicit_paddings');
    if (e.length !== 8) throw ctx.fail('has explicit_paddings without 8 values');
    const [h, w] = nhwc ? [1, 2] : [2, 3];
    return [intsAttr('pads', [e[h * 2]!, e[w * 2]!, e[h * 2 + 1]!, e[w * 2 + 1]!])];
  }
  throw ctx.fail(`has padding '${p}'`, 'UNSUPPORTED');
}

/** The ONNX weight for a TF filter: HWIO -> OIHW (depthwise: HWCM -> (C*M)1HW). */
function convWeight(
  ctx: OpContext,
  index: number,
  depthwise: boolean,
): { name: string; shape: number[] } {
  const f = ctx.constInput(index);
  if (f !== undefined) {
    if (f.shape.length !== 4) throw ctx.fail(`has a filter of rank ${f.shape.length}; 4 expected`);
    const src: TfTensor = depthwise
      ? { ...f, shape: [f.shape[0]!, f.shape[1]!, 1, f.shape[2]! * f.shape[3]!] }
      : f;
    const w = transposeTensor(src, [3, 2, 0, 1]);
    return { name: ctx.state.tfConstant(`${ctx.node.name}/weight`, w), shape: w.shape };
  }
  if (depthwise) throw ctx.fail('has a non-constant depthwise filter', 'UNSUPPORTED');
  return { name: ctx.transpose(ctx.input(index), [3, 2, 0, 1]), shape: [-1, -1, -1, -1] };
}

/** Reshapes a per-channel constant ([C] or [1,1,C]) to [C,1,1] so it broadcasts over NCHW. */
function channelConst(ctx: OpContext, index: number): string | undefined {
  const c = ctx.constInput(index);
  if (c === undefined) return undefined;
  const n = c.shape.reduce((a, b) => a * b, 1);
  if (c.shape.length > 0 && c.shape[c.shape.length - 1] !== n) return undefined;
  return ctx.state.tfConstant(`${ctx.node.name}/channel`, { ...c, shape: [n, 1, 1] });
}

function conv(depthwise: boolean, fused: boolean): OpHandler {
  return (ctx) => {
    const nhwc = isNhwc(ctx);
    const w = convWeight(ctx, 1, depthwise);
    const attrs = [
      intsAttr('strides', spatial(ctx, ctx.ints('strides'), nhwc)),
      intsAttr('dilations', spatial(ctx, ctx.ints('dilations', [1, 1, 1, 1]), nhwc)),
      ...padAttrs(ctx, nhwc),
    ];
    if (w.shape[2]! > 0) attrs.push(intsAttr('kernel_shape', [w.shape[2]!, w.shape[3]!]));
    if (depthwise) attrs.push(intAttr('group', ctx.constInput(1)!.shape[2]!));
    const x = nhwc ? ctx.transpose(ctx.input(0), TO_NCHW) : ctx.input(0);
    const ops = fused ? ctx.strs('fused_ops') : [];
    const inputs = [x, w.name];
    let rest = ops;
    if (ops[0] === 'BiasAdd' || ops[0] === 'Add') {
      inputs.push(ctx.input(2));
      rest = ops.slice(1);
    }
    let y = ctx.add1('Conv', inputs, attrs, ElemType.FLOAT);
    let argAt = inputs.length === 3 ? 3 : 2;
    if (rest[0] === 'FusedBatchNorm') {
      y = ctx.add1(
        'BatchNormalization',
        [y, ctx.input(2), ctx.input(3), ctx.input(4), ctx.input(5)],
        [floatAttr('epsilon', ctx.float('epsilon', 1e-4))],
        ElemType.FLOAT,
      );
      argAt = 6;
      rest = rest.slice(1);
    }
    let after: string | undefined;
    for (const act of rest) {
      if (act === 'Prelu') {
        const alpha = channelConst(ctx, argAt);
        if (alpha === undefined) after = act;
        else y = activation(ctx, act, y, [alpha]);
      } else y = activation(ctx, act, y);
    }
    let out = nhwc ? ctx.transpose(y, TO_NHWC) : y;
    if (after !== undefined) out = activation(ctx, after, out, [ctx.input(argAt)]);
    ctx.output(0, out, ElemType.FLOAT);
  };
}

function matmul(fused: boolean): OpHandler {
  return (ctx) => {
    const operand = (i: number, transposeIt: boolean): string => {
      if (!transposeIt) return ctx.input(i);
      const c = ctx.constInput(i);
      if (c !== undefined && c.shape.length === 2)
        return ctx.state.tfConstant(`${ctx.node.name}/t`, transposeTensor(c, [1, 0]));
      return ctx.transpose(ctx.input(i), [1, 0]);
    };
    const a = operand(0, ctx.bool('transpose_a'));
    const b = operand(1, ctx.bool('transpose_b'));
    let y = ctx.add1('MatMul', [a, b], [], ctx.inputType(0));
    if (fused) {
      let ops = ctx.strs('fused_ops');
      let argAt = 2;
      if (ops[0] === 'BiasAdd' || ops[0] === 'Add') {
        y = ctx.add1('Add', [y, ctx.input(2)], [], ctx.inputType(0));
        argAt = 3;
        ops = ops.slice(1);
      }
      for (const act of ops) y = activation(ctx, act, y, act === 'Prelu' ? [ctx.input(argAt)] : []);
    }
    ctx.output(0, y);
  };
}

function batchMatMul(ctx: OpContext): void {
  const swapLast = (i: number): string => {
    const rank = ctx.inputShape(i)?.length;
    // Rank unknown at conversion time: Einsum swaps the last two axes of any rank.
    if (rank === undefined)
      return ctx.add1(
        'Einsum',
        [ctx.input(i)],
        [stringAttr('equation', '...ij->...ji')],
        ctx.inputType(i),
      );
    return ctx.transpose(ctx.input(i), [
      ...Array.from({ length: rank - 2 }, (_, k) => k),
      rank - 1,
      rank - 2,
    ]);
  };
  const a = ctx.bool('adj_x') ? swapLast(0) : ctx.input(0);
  const b = ctx.bool('adj_y') ? swapLast(1) : ctx.input(1);
  ctx.output(0, ctx.add1('MatMul', [a, b], [], ctx.inputType(0)));
}

function pool(onnxOp: 'MaxPool' | 'AveragePool'): OpHandler {
  return (ctx) => {
    const nhwc = isNhwc(ctx);
    const x = nhwc ? ctx.transpose(ctx.input(0), TO_NCHW) : ctx.input(0);
    const attrs = [
      intsAttr('kernel_shape', spatial(ctx, ctx.ints('ksize'), nhwc)),
      intsAttr('strides', spatial(ctx, ctx.ints('strides'), nhwc)),
      ...padAttrs(ctx, nhwc),
    ];
    const y = ctx.add1(onnxOp, [x], attrs, ctx.inputType(0));
    ctx.output(0, nhwc ? ctx.transpose(y, TO_NHWC) : y);
  };
}

function batchNorm(ctx: OpContext): void {
  if (ctx.bool('is_training', true) && ctx.constInput(3)?.shape.reduce((a, b) => a * b, 1) === 0) {
    throw ctx.fail(
      'runs in training mode (batch statistics), which inference cannot reproduce',
      'UNSUPPORTED',
    );
  }
  const nhwc = isNhwc(ctx);
  const eps = ctx.float('epsilon', 1e-4);
  const consts = [1, 2, 3, 4].map((i) => ctx.constInput(i));
  if (nhwc && consts.every((c) => c !== undefined)) {
    // Inference batch norm is a per-channel affine map; in NHWC it broadcasts on the last axis.
    const [scale, offset, mean, variance] = consts.map((c) => tensorFloats(c!)) as [
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    const n = scale.length;
    const mul = new Float32Array(n);
    const add = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      mul[i] = scale[i]! / Math.sqrt(variance[i]! + eps);
      add[i] = offset[i]! - mean[i]! * mul[i]!;
    }
    const m = ctx.state.tfConstant(`${ctx.node.name}/scale`, floatTensor([n], mul));
    const a = ctx.state.tfConstant(`${ctx.node.name}/offset`, floatTensor([n], add));
    ctx.output(
      0,
      ctx.add1(
        'Add',
        [ctx.add1('Mul', [ctx.input(0), m], [], ElemType.FLOAT), a],
        [],
        ElemType.FLOAT,
      ),
    );
    return;
  }
  const x = nhwc ? ctx.transpose(ctx.input(0), TO_NCHW) : ctx.input(0);
  const y = ctx.add1(
    'BatchNormalization',
    [x, ctx.input(1), ctx.input(2), ctx.input(3), ctx.input(4)],
    [floatAttr('epsilon', eps)],
    ElemType.FLOAT,
  );
  ctx.output(0, nhwc ? ctx.transpose(y, TO_NHWC) : y);
}

function biasAdd(ctx: OpContext): void {
  if (isNhwc(ctx)) {
    ctx.output(0, ctx.add1('Add', [ctx.input(0), ctx.input(1)], [], ctx.inputType(0)));
    return;
  }
  const rank = ctx.inputShape(0)?.length ?? 4;
  const b = ctx.add1(
    'Reshape',
    [ctx.input(1), ctx.int64s([-1, ...Array<number>(rank - 2).fill(1)])],
    [],
    ctx.inputType(1),
  );
  ctx.output(0, ctx.add1('Add', [ctx.input(0), b], [], ctx.inputType(0)));
}

function resize(mode: 'linear' | 'nearest'): OpHandler {
  return (ctx) => {
    const align = ctx.bool('align_corners');
    const half = ctx.bool('half_pixel_centers');
    if (align && half) throw ctx.fail('sets both align_corners and half_pixel_centers');
    const x = ctx.transpose(ctx.input(0), TO_NCHW);
    const size = ctx.constInput(1);
    let sizes: string;
    if (size !== undefined) {
      const hw = ctx.constNumbers(1, 'size');
      const shape = ctx.inputShape(0);
      if (shape !== undefined && shape[0]! > 0 && shape[3]! > 0)
        sizes = ctx.int64s([shape[0]!, shape[3]!, hw[0]!, hw[1]!]);
      else
        sizes = ctx.add1(
          'Concat',
          [
            ctx.add1(
              'Slice',
              [ctx.add1('Shape', [x], [], ElemType.INT64), ctx.int64s([0]), ctx.int64s([2])],
              [],
              ElemType.INT64,
            ),
            ctx.int64s(hw),
          ],
          [intAttr('axis', 0)],
          ElemType.INT64,
        );
    } else {
      const cast = ctx.add1(
        'Cast',
        [ctx.input(1)],
        [intAttr('to', ElemType.INT64)],
        ElemType.INT64,
      );
      // onnxruntime's shape inference rejects sizes of unknown length (size computed from an
      // input of unknown rank), so the two elements are stated.
      const hw = ctx.add1('Reshape', [cast, ctx.int64s([2])], [], ElemType.INT64);
      sizes = ctx.add1(
        'Concat',
        [
          ctx.add1(
            'Slice',
            [ctx.add1('Shape', [x], [], ElemType.INT64), ctx.int64s([0]), ctx.int64s([2])],
            [],
            ElemType.INT64,
          ),
          hw,
        ],
        [intAttr('axis', 0)],
        ElemType.INT64,
      );
    }
    const attrs = [stringAttr('mode', mode)];
    if (mode === 'linear')
      attrs.push(
        stringAttr(
          'coordinate_transformation_mode',
          align ? 'align_corners' : half ? 'half_pixel' : 'asymmetric',
        ),
      );
    else {
      // TF's half-pixel nearest is floor((x + 0.5) / scale): half_pixel rounded half up gives exactly that.
      attrs.push(
        stringAttr(
          'coordinate_transformation_mode',
          align ? 'align_corners' : half ? 'half_pixel' : 'asymmetric',
        ),
      );
      attrs.push(stringAttr('nearest_mode', align || half ? 'round_prefer_ceil' : 'floor'));
    }
    const y = ctx.add1('Resize', [x, '', '', sizes], attrs, ctx.inputType(0));
    ctx.output(0, ctx.transpose(y, TO_NHWC));
  };
}

function convBackpropInput(ctx: OpContext): void {
  const nhwc = isNhwc(ctx);
  const f = ctx.constInput(1);
  if (f === undefined || f.shape.length !== 4)
    throw ctx.fail('needs a constant rank-4 filter', 'UNSUPPORTED');
  const strides = spatial(ctx, ctx.ints('strides'), nhwc);
  const dil = spatial(ctx, ctx.ints('dilations', [1, 1, 1, 1]), nhwc);
  const padding = ctx.str('padding');
  if (padding !== 'SAME' && padding !== 'VALID')
    throw ctx.fail(`has padding '${padding}'`, 'UNSUPPORTED');
  let out: number[];
  if (ctx.constInput(0) !== undefined) {
    const sizes = ctx.constNumbers(0, 'input_sizes');
    out = nhwc ? [sizes[1]!, sizes[2]!] : [sizes[2]!, sizes[3]!];
  } else if (padding === 'SAME') {
    // With SAME padding the padding depends only on kernel and stride when the output is
    // input * stride, which is what a computed output size almost always is.
    out = strides.map((s) => s * 1000);
    ctx.warn('input_sizes is computed at run time; assuming output = input * stride');
  } else throw ctx.fail('needs a constant input_sizes with VALID padding', 'UNSUPPORTED');
  const begin: number[] = [];
  const end: number[] = [];
  const outPad: number[] = [];
  for (let d = 0; d < 2; d++) {
    const kEff = (f.shape[d]! - 1) * dil[d]! + 1;
    const s = strides[d]!;
    const inSize =
      padding === 'SAME' ? Math.ceil(out[d]! / s) : Math.ceil((out[d]! - kEff + 1) / s);
    const total = s * (inSize - 1) + kEff - out[d]!;
    const b = total > 0 ? Math.floor(total / 2) : 0;
    begin.push(b);
    end.push(total > 0 ? total - b : 0);
    outPad.push(total < 0 ? -total : 0);
  }
  const w = ctx.state.tfConstant(`${ctx.node.name}/weight`, transposeTensor(f, [3, 2, 0, 1]));
  const x = nhwc ? ctx.transpose(ctx.input(2), TO_NCHW) : ctx.input(2);
  const attrs = [
    intsAttr('strides', strides),
    intsAttr('dilations', dil),
    intsAttr('pads', [...begin, ...end]),
    intsAttr('kernel_shape', [f.shape[0]!, f.shape[1]!]),
  ];
  if (outPad.some((p) => p > 0)) attrs.push(intsAttr('output_padding', outPad));
  const y = ctx.add1('ConvTranspose', [x, w], attrs, ElemType.FLOAT);
  ctx.output(0, nhwc ? ctx.transpose(y, TO_NHWC) : y, ElemType.FLOAT);
}

function depthSpace(onnxOp: 'DepthToSpace' | 'SpaceToDepth'): OpHandler {
  return (ctx) => {
    const nhwc = isNhwc(ctx);
    const x = nhwc ? ctx.transpose(ctx.input(0), TO_NCHW) : ctx.input(0);
    // TF's channel order (block row, block column, channel) is ONNX's DCR mode.
    const attrs = [intAttr('blocksize', ctx.int('block_size'))];
    if (onnxOp === 'DepthToSpace') attrs.push(stringAttr('mode', 'DCR'));
    const y = ctx.add1(onnxOp, [x], attrs, ctx.inputType(0));
    ctx.output(0, nhwc ? ctx.transpose(y, TO_NHWC) : y);
  };
}

/** Handlers of neural-network ops. */
export const NN: Record<string, OpHandler> = {
  Conv2D: conv(false, false),
  _FusedConv2D: conv(false, true),
  DepthwiseConv2dNative: conv(true, false),
  FusedDepthwiseConv2dNative: conv(true, true),
  Conv2DBackpropInput: convBackpropInput,
  MatMul: matmul(false),
  _FusedMatMul: matmul(true),
  BatchMatMul: batchMatMul,
  BatchMatMulV2: batchMatMul,
  BatchMatMulV3: batchMatMul,
  BiasAdd: biasAdd,
  BiasAddV1: biasAdd,
  FusedBatchNorm: batchNorm,
  FusedBatchNormV2: batchNorm,
  FusedBatchNormV3: batchNorm,
  MaxPool: pool('MaxPool'),
  AvgPool: pool('AveragePool'),
  DepthToSpace: depthSpace('DepthToSpace'),
  SpaceToDepth: depthSpace('SpaceToDepth'),
  ResizeBilinear: resize('linear'),
  ResizeNearestNeighbor: resize('nearest'),
};
