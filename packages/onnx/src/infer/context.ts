import { KilnError } from '@kiln/core';
import type { Graph } from '../ir/graph';
import type { Node } from '../ir/node';
import type { Dim } from '../ir/shape';

/** What inference knows about one tensor. */
export interface TensorInfo {
  /** ONNX element type code. */
  elemType?: number;
  /** Shape, undefined when the rank is unknown. */
  shape?: Dim[];
  /** The elements of a small tensor when known (shape arithmetic, constant indices), row-major. */
  value?: Dim[];
}

/** What an op's inference rule sees. */
export interface InferContext {
  /** The node. */
  readonly node: Node;
  /** The default-domain opset of the model. */
  readonly opset: number;
  /** Info of each input ('' inputs are undefined). */
  readonly inputs: readonly (TensorInfo | undefined)[];
  /** Largest tensor (in elements) whose values are tracked: small for inference, large for folding. */
  readonly valueLimit: number;
  /** Infers a subgraph given the infos of its formal inputs; returns its outputs' infos. */
  inferSubgraph(graph: Graph, inputs: (TensorInfo | undefined)[]): TensorInfo[];
}

/** An inference rule: outputs' infos from the context. */
export type InferRule = (ctx: InferContext) => (TensorInfo | undefined)[];

/** The info of input `i`, or a KilnError naming the node. */
export function input(ctx: InferContext, i: number): TensorInfo {
  const info = ctx.inputs[i];
  if (info === undefined)
    throw new KilnError(
      'INVALID_MODEL',
      `node '${ctx.node.label}' (${ctx.node.opType}): input ${i} is missing or has no known type`,
    );
  return info;
}

/** The shape of input `i` or undefined. */
export function shapeOf(ctx: InferContext, i: number): Dim[] | undefined {
  return ctx.inputs[i]?.shape;
}

/** The known numeric value of input `i` (every element a number), or undefined. */
export function numbersOf(ctx: InferContext, i: number): number[] | undefined {
  const v = ctx.inputs[i]?.value;
  if (v === undefined || !v.every((d) => typeof d === 'number')) return undefined;
  return v as number[];
}

/** A KilnError for an inconsistent node, naming it. */
export function inferError(ctx: InferContext, message: string): KilnError {
  return new KilnError(
    'INVALID_MODEL',
    `node '${ctx.node.label}' (${ctx.node.opType}): ${message}`,
  );
}

/** Normalises a possibly negative axis against `rank`, or throws naming the node. */
export function axis(ctx: InferContext, a: number, rank: number): number {
  const r = a < 0 ? a + rank : a;
  if (r < 0 || r >= rank) throw inferError(ctx, `axis ${a} is out of range for rank ${rank}`);
  return r;
}
