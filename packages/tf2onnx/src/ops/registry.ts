import type { OpHandler } from '../convert/context';
import { BATCH_SPACE } from './batch-space';
import { ELEMENTWISE } from './elementwise';
import { NN } from './nn';
import { SHAPE } from './shape';

/**
 * Every TF op the converter handles, by TF op name. A handler checks `ctx.opset` itself where
 * ONNX changed between opsets (Reduce*, Split). Users may add handlers for custom ops.
 */
export const OP_HANDLERS = new Map<string, OpHandler>(
  Object.entries({ ...ELEMENTWISE, ...NN, ...SHAPE, ...BATCH_SPACE }),
);

/** Ops that forward their first input unchanged. */
export const PASS_THROUGH = new Set([
  'Identity',
  'StopGradient',
  'Snapshot',
  'PreventGradient',
  'ReadVariableOp',
  'PlaceholderWithDefault',
  'EnsureShape',
  'CheckNumerics',
]);
