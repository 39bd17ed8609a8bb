import { ElemType, floatAttr, intAttr } from '@kiln/onnx';
import type { OpContext, OpHandler } from '../convert/context';

// Element-wise TF ops: same semantics and numpy broadcasting in ONNX, so most map one to one.

function binary(onnxOp: string, outType?: number): OpHandler {
  return (ctx) =>
    ctx.output(0, ctx.add1(onnxOp, [ctx.input(0), ctx.input(1)], [], outType ?? ctx.inputType(0)));
}

function unary(onnxOp: string): OpHandler {
  return (ctx) => ctx.output(0, ctx.add1(onnxOp, [ctx.input(0)], [], ctx.inputType(0)));
}

const isFloat = (t: number): boolean =>
  t === ElemType.FLOAT ||
  t === ElemType.DOUBLE ||
  t === ElemType.FLOAT16 ||
  t === ElemType.BFLOAT16;

/** Relu6 and friends: Clip(x, lo, hi) with bounds of x's type. */
export function clip(ctx: OpContext, x: string, lo: number, hi: number): string {
  const t = ctx.state.types.get(x)?.elemType ?? ElemType.FLOAT;
  return ctx.add1('Clip', [x, ctx.constOf(t, [lo], []), ctx.constOf(t, [hi], [])], [], t);
}

/** Applies a TF activation by name ('Relu', 'Relu6', 'Elu', 'LeakyRelu', ...) to x. */
export function activation(ctx: OpContext, name: string, x: string, extra: string[] = []): string {
  const t = ctx.state.types.get(x)?.elemType ?? ElemType.FLOAT;
  switch (name) {
    case 'Relu':
      return ctx.add1('Relu', [x], [], t);
    case 'Relu6':
      return clip(ctx, x, 0, 6);
    case 'Elu':
      return ctx.add1('Elu', [x], [], t);
    case 'Selu':
      return ctx.add1(
        'Selu',
        [x],
        [floatAttr('alpha', 1.6732632423543772), floatAttr('gamma', 1.0507009873554805)],
        t,
      );
    case 'Sigmoid':
      return ctx.add1('Sigmoid', [x], [], t);
    case 'Tanh':
      return ctx.add1('Tanh', [x], [], t);
    case 'LeakyRelu':
      return ctx.add1(
        'LeakyRelu',
        [x],
        [floatAttr('alpha', ctx.float('leakyrelu_alpha', ctx.node.attr.alpha?.f ?? 0.2))],
        t,
      );
    case 'Prelu':
      if (extra[0] === undefined) throw ctx.fail('fuses Prelu without an alpha argument');
      return ctx.add1('PRelu', [x, extra[0]], [], t);
    default:
      throw ctx.fail(`fuses the activation '${name}', which is not supported`, 'UNSUPPORTED');
  }
}

/** Handlers of element-wise ops. */
export const ELEMENTWISE: Record<string, OpHandler> = {
  Add: binary('Add'),
  AddV2: binary('Add'),
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  RealDiv: binary('Div'),
  Div: binary('Div'),
  Maximum: binary('Max'),
  Minimum: binary('Min'),
  Pow: binary('Pow'),
  Less: binary('Less', ElemType.BOOL),
  LessEqual: binary('LessOrEqual', ElemType.BOOL),
  Greater: binary('Greater', ElemType.BOOL),
  GreaterEqual: binary('GreaterOrEqual', ElemType.BOOL),
  Equal: binary('Equal', ElemType.BOOL),
  LogicalAnd: binary('And', ElemType.BOOL),
  LogicalOr: binary('Or', ElemType.BOOL),
  LogicalNot: unary('Not'),
  NotEqual: (ctx) =>
    ctx.output(
      0,
      ctx.add1(
        'Not',
        [ctx.add1('Equal', [ctx.input(0), ctx.input(1)], [], ElemType.BOOL)],
        [],
        ElemType.BOOL,
      ),
    ),
  FloorDiv: (ctx) => {
    const a = ctx.input(0);
    const b = ctx.input(1);
    const t = ctx.inputType(0);
    if (isFloat(t)) ctx.output(0, ctx.add1('Floor', [ctx.add1('Div', [a, b], [], t)], [], t));
    // Integer floor division: (a - mod(a, b)) / b is exact, and Mod (fmod=0) floors like Python.
    else
      ctx.output(
        0,
        ctx.add1('Div', [ctx.add1('Sub', [a, ctx.add1('Mod', [a, b], [], t)], [], t), b], [], t),
      );
  },
  FloorMod: (ctx) => {
    const t = ctx.inputType(0);
    ctx.output(
      0,
      ctx.add1('Mod', [ctx.input(0), ctx.input(1)], isFloat(t) ? [intAttr('fmod', 0)] : [], t),
    );
  },
  SquaredDifference: (ctx) => {
    const d = ctx.add1('Sub', [ctx.input(0), ctx.input(1)], [], ctx.inputType(0));
    ctx.output(0, ctx.add1('Mul', [d, d], [], ctx.inputType(0)));
  },
  Square: (ctx) =>
    ctx.output(0, ctx.add1('Mul', [ctx.input(0), ctx.input(0)], [], ctx.inputType(0))),
  Sqrt: unary('Sqrt'),
  Rsqrt: (ctx) =>
    ctx.output(
      0,
      ctx.add1(
        'Reciprocal',
        [ctx.add1('Sqrt', [ctx.input(0)], [], ctx.inputType(0))],
        [],
        ctx.inputType(0),
      ),
    ),
  Reciprocal: unary('Reciprocal'),
  Abs: unary('Abs'),
  Neg: unary('Neg'),
  Exp: unary('Exp'),
  Log: unary('Log'),
  Floor: unary('Floor'),
  Ceil: unary('Ceil'),
  Round: unary('Round'),
  Sign: unary('Sign'),
  Sin: unary('Sin'),
  Cos: unary('Cos'),
  Erf: unary('Erf'),
  Softplus: unary('Softplus'),
  Relu: unary('Relu'),
  Elu: unary('Elu'),
  Sigmoid: unary('Sigmoid'),
  Tanh: unary('Tanh'),
  Selu: (ctx) => ctx.output(0, activation(ctx, 'Selu', ctx.input(0))),
  Relu6: (ctx) => ctx.output(0, clip(ctx, ctx.input(0), 0, 6)),
  LeakyRelu: (ctx) =>
    ctx.output(
      0,
      ctx.add1(
        'LeakyRelu',
        [ctx.input(0)],
        [floatAttr('alpha', ctx.float('alpha', 0.2))],
        ctx.inputType(0),
      ),
    ),
  Prelu: (ctx) =>
    ctx.output(0, ctx.add1('PRelu', [ctx.input(0), ctx.input(1)], [], ctx.inputType(0))),
  AddN: (ctx) => {
    const xs = ctx.node.inputs.map((_, i) => ctx.input(i));
    ctx.output(0, xs.length === 1 ? xs[0]! : ctx.add1('Sum', xs, [], ctx.inputType(0)));
  },
  Cast: (ctx) => {
    const to = ctx.type('DstT');
    ctx.output(0, ctx.add1('Cast', [ctx.input(0)], [intAttr('to', to)], to), to);
  },
  Softmax: (ctx) =>
    ctx.output(0, ctx.add1('Softmax', [ctx.input(0)], [intAttr('axis', -1)], ctx.inputType(0))),
  LogSoftmax: (ctx) =>
    ctx.output(0, ctx.add1('LogSoftmax', [ctx.input(0)], [intAttr('axis', -1)], ctx.inputType(0))),
  Atan: unary('Atan'),
  Atan2: (ctx) => {
    // atan(y / x), moved by ±pi where x < 0 (x = 0 gives ±inf and atan's ±pi/2 already).
    const t = ctx.inputType(0);
    const [y, x] = [ctx.input(0), ctx.input(1)];
    const base = ctx.add1('Atan', [ctx.add1('Div', [y, x], [], t)], [], t);
    const zero = ctx.constOf(t, [0], []);
    const pi = ctx.add1(
      'Where',
      [
        ctx.add1('Less', [y, zero], [], ElemType.BOOL),
        ctx.constOf(t, [-Math.PI], []),
        ctx.constOf(t, [Math.PI], []),
      ],
      [],
      t,
    );
    const shift = ctx.add1(
      'Where',
      [ctx.add1('Less', [x, zero], [], ElemType.BOOL), pi, zero],
      [],
      t,
    );
    ctx.output(0, ctx.add1('Add', [base, shift], [], t));
  },
  Select: (ctx) =>
    ctx.output(
      0,
      ctx.add1('Where', [ctx.input(0), ctx.input(1), ctx.input(2)], [], ctx.inputType(1)),
    ),
  SelectV2: (ctx) =>
    ctx.output(
      0,
      ctx.add1('Where', [ctx.input(0), ctx.input(1), ctx.input(2)], [], ctx.inputType(1)),
    ),
};
