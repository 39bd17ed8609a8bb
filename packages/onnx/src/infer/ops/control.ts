import type { Dim } from '../../ir/shape';
import { inferError, type InferRule, type TensorInfo } from '../context';

function mergeDim(a: Dim, b: Dim): Dim {
  return a === b ? a : null;
}

function merge(a: TensorInfo | undefined, b: TensorInfo | undefined): TensorInfo {
  if (!a || !b) return {};
  const out: TensorInfo = { elemType: a.elemType === b.elemType ? a.elemType : undefined };
  if (a.shape && b.shape && a.shape.length === b.shape.length)
    out.shape = a.shape.map((d, i) => mergeDim(d, b.shape![i]!));
  return out;
}

/** If: each output is what both branches agree on. */
export const ifRule: InferRule = (ctx) => {
  const thenG = ctx.node.attr('then_branch')?.graph;
  const elseG = ctx.node.attr('else_branch')?.graph;
  if (!thenG || !elseG) throw inferError(ctx, 'If needs then_branch and else_branch graphs');
  // A condition known at inference time (shape math, or a value the caller fixed) picks the branch;
  // the other branch is left alone, since what we know may not hold inside it.
  const cond = ctx.inputs[0]?.value;
  if (cond?.length === 1 && typeof cond[0] === 'number')
    return ctx.inferSubgraph(cond[0] !== 0 ? thenG : elseG, []);
  const a = ctx.inferSubgraph(thenG, []);
  const b = ctx.inferSubgraph(elseG, []);
  return ctx.node.outputs.map((_, i) => merge(a[i], b[i]));
};
