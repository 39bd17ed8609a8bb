import { runInference } from '../infer/infer';
import { ElemType } from '../ir/elem-type';
import { initializerFromNumbers } from '../ir/from-numbers';
import { Initializer } from '../ir/initializer';
import type { Node } from '../ir/node';
import type { Model } from '../ir/model';
import { isStaticShape, staticSize } from '../ir/shape';
import { cleanupGraph } from '../surgery/cleanup';

/** Options of foldConstants. */
export interface FoldOptions {
  /** Largest tensor (elements) folding may create (default 1 << 20). */
  maxElements?: number;
}

const FOLDABLE_TYPES = new Set<number>([
  ElemType.FLOAT,
  ElemType.DOUBLE,
  ElemType.INT32,
  ElemType.INT64,
  ElemType.BOOL,
  ElemType.UINT8,
  ElemType.INT8,
]);

/**
 * Constant folding: every main-graph node whose outputs are fully known at build time (constant
 * subgraphs, and Shape-of-static-shape chains such as Shape -> Gather -> Concat -> Reshape
 * targets) becomes an initializer; then dead nodes are removed. The arithmetic is inference's
 * value propagation run with a large value limit, so folding and inference cannot disagree.
 */
export function foldConstants(model: Model, options: FoldOptions = {}): Model {
  const limit = options.maxElements ?? 1 << 20;
  const infos = runInference(model, { valueLimit: limit });
  const g = model.graph;
  const outputs = new Set(g.outputs.map((v) => v.name));
  let folded = 0;
  for (const node of g.nodes) {
    if (node.subgraphs().length > 0 || node.domain !== '') continue;
    const outs = node.outputs.filter((o) => o !== '');
    const tensor = constantTensor(node, limit);
    if (tensor && outs.length === 1 && !outputs.has(outs[0]!)) {
      // The weights of a Constant node (PaddlePaddle exports every weight so) become an
      // initializer as they are: a view of the same bytes, never a round trip through numbers.
      g.initializers.set(
        outs[0]!,
        Initializer.fromBytes(outs[0]!, tensor.elemType, tensor.dims, tensor.bytes()),
      );
      g.valueInfo.delete(outs[0]!);
      node.outputs = node.outputs.map(() => '');
      folded++;
      continue;
    }
    const ready = outs.every((o) => {
      const info = infos.get(o);
      return (
        info?.value !== undefined &&
        info.elemType !== undefined &&
        FOLDABLE_TYPES.has(info.elemType) &&
        isStaticShape(info.shape) &&
        staticSize(info.shape) === info.value.length &&
        info.value.every((d) => typeof d === 'number')
      );
    });
    // A graph output stays produced by a node: an initializer cannot be a graph output in every runtime.
    if (!ready || outs.length === 0 || outs.some((o) => outputs.has(o))) continue;
    for (const o of outs) {
      const info = infos.get(o)!;
      g.initializers.set(
        o,
        initializerFromNumbers(o, info.elemType!, info.shape as number[], info.value as number[]),
      );
      g.valueInfo.delete(o);
    }
    node.outputs = node.outputs.map(() => '');
    folded++;
  }
  if (folded > 0) {
    g.nodes = g.nodes.filter((n) => n.outputs.some((o) => o !== ''));
    cleanupGraph(g);
  }
  return model;
}

// Element types whose bytes the number round trip of folding reproduces exactly.
const EXACT_TYPES = new Set<number>([
  ElemType.FLOAT,
  ElemType.DOUBLE,
  ElemType.INT32,
  ElemType.UINT8,
  ElemType.INT8,
]);

// The `value` tensor of a Constant node that folding may take over, else undefined.
function constantTensor(node: Node, limit: number): Initializer | undefined {
  if (node.opType !== 'Constant') return undefined;
  const t = node.tensor('value');
  if (!t || !EXACT_TYPES.has(t.elemType) || t.size > limit) return undefined;
  return t;
}
