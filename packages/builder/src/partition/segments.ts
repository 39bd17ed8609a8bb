import { KilnError, expectInteger, invalidParameterError, nativeAddon } from '@kiln/core';
import {
  type Graph,
  type Model,
  type Node,
  checkOpset,
  extractSubgraph,
  foldConstants,
  inferShapes,
  loadModel,
  nodeReads,
  upgradeLegacyOpset,
} from '@kiln/onnx';

import { unsupportedReason } from '../op-support';

/** Options of partitionModel. */
export interface PartitionOptions {
  /**
   * Runs of supported nodes shorter than this go to the fallback too, since a tiny engine costs
   * more in copies than it saves (TF-TRT's minimum_segment_size). Default 3.
   */
  minimumSegmentSize?: number;
  /** Op types to leave to the fallback even though kiln builds them (a kernel to avoid, or tests). */
  unsupportedOps?: readonly string[];
  /** False when no fallback executor exists: then every node must be kiln's, whatever its run's size. */
  fallback?: boolean;
}

/** A node of a segment; `reason` says why a fallback node is not kiln's. */
export interface SegmentNode {
  name: string;
  op: string;
  reason?: string;
}

/** A part of a partitioned model: a kiln engine or a fallback subgraph, in execution order. */
export interface Segment {
  kind: 'kiln' | 'fallback';
  nodes: SegmentNode[];
  /** Tensors it reads from the model's inputs or from earlier segments. */
  inputs: string[];
  /** Tensors later segments or the model's outputs read. */
  outputs: string[];
  /** The segment as a standalone ONNX model (inputs -> outputs). */
  model: Model;
}

const isConstant = (n: Node) =>
  n.opType === 'Constant' && (n.domain === '' || n.domain === 'ai.onnx');

/**
 * Splits a model into kiln segments (supported nodes) and fallback segments (the rest), like
 * TF-TRT's segmenter. Nodes are ordered topologically, keeping each kind together as long as
 * the dependencies allow, so that segments run one after the other and no segment feeds an
 * earlier one. A kiln run with fewer than minimumSegmentSize nodes (Constants not counted)
 * joins the fallback. With `fallback: false`, an unsupported node is an error listing them all.
 */
export function partitionModel(
  source: string | Uint8Array | Model,
  options: PartitionOptions = {},
): Segment[] {
  if (options === null || typeof options !== 'object')
    throw invalidParameterError('options', 'a PartitionOptions object', options);
  const minimum = expectInteger('minimumSegmentSize', options.minimumSegmentSize ?? 3, 1);
  const forced = options.unsupportedOps ?? [];
  if (!Array.isArray(forced) || !forced.every((op) => typeof op === 'string'))
    throw invalidParameterError('unsupportedOps', 'an array of op types', forced);
  const model =
    typeof source === 'string' || source instanceof Uint8Array ? loadModel(source) : source;
  checkOpset(upgradeLegacyOpset(model));
  foldConstants(model);
  inferShapes(model);
  const g = model.graph;
  g.topologicalSort();
  const supported = new Set(nativeAddon().supportedOps());
  const reasons = new Map<Node, string>();
  for (const node of g.nodes) {
    const reason = forced.includes(node.opType)
      ? 'listed in unsupportedOps'
      : isConstant(node)
        ? undefined
        : branchReason(node, supported);
    if (reason) reasons.set(node, reason);
  }
  if (reasons.size > 0 && options.fallback === false) {
    const list = [...reasons].map(([n, r]) => `  ${n.label} (${n.opType}): ${r}`).join('\n');
    throw new KilnError(
      'UNSUPPORTED',
      `${model.source}: ${reasons.size} node(s) cannot be built by kiln and no fallback executor is available (install onnxruntime-node, an optional peer dependency of @kiln/builder):\n${list}`,
    );
  }
  const runs = groupedOrder(g, (n) => !reasons.has(n));
  for (const run of runs) {
    const size = run.nodes.filter((n) => !isConstant(n)).length;
    if (!run.kiln || size >= minimum || options.fallback === false) continue;
    run.kiln = false;
    const reason = `in a run of ${size} supported node(s), under minimumSegmentSize ${minimum}`;
    for (const n of run.nodes) reasons.set(n, reason);
  }
  // Neighbours of one kind (after small kiln runs joined the fallback) make one segment.
  const merged: { kiln: boolean; nodes: Node[] }[] = [];
  for (const run of runs) {
    const last = merged[merged.length - 1];
    if (last && last.kiln === run.kiln) last.nodes.push(...run.nodes);
    else merged.push({ kiln: run.kiln, nodes: [...run.nodes] });
  }
  return boundaries(model, merged, reasons);
}

// Why an If node (or any other) cannot be kiln's: its own reason, or one of its branch nodes'.
function branchReason(node: Node, supported: ReadonlySet<string>): string | undefined {
  const own = unsupportedReason(node, supported);
  if (own || node.opType !== 'If') return own;
  for (const branch of node.subgraphs()) {
    for (const inner of branch.nodes) {
      if (isConstant(inner)) continue;
      const reason = branchReason(inner, supported);
      if (reason) return `its branch node ${inner.label} (${inner.opType}): ${reason}`;
    }
  }
  return undefined;
}

// Kahn's algorithm with a ready list per kind: emit nodes of the current kind while any is
// ready, switching kind only when none is. Each switch starts a new run.
function groupedOrder(g: Graph, isKiln: (n: Node) => boolean): { kiln: boolean; nodes: Node[] }[] {
  const producers = g.producers();
  const waiting = new Map<Node, number>();
  const dependents = new Map<Node, Node[]>();
  for (const node of g.nodes) {
    const deps = new Set(
      nodeReads(node)
        .map((t) => producers.get(t))
        .filter((p): p is Node => p !== undefined && p !== node),
    );
    waiting.set(node, deps.size);
    for (const d of deps) dependents.set(d, [...(dependents.get(d) ?? []), node]);
  }
  const ready = { kiln: [] as Node[], fallback: [] as Node[] };
  const push = (n: Node) => (isKiln(n) ? ready.kiln : ready.fallback).push(n);
  for (const node of g.nodes) if (waiting.get(node) === 0) push(node);
  const runs: { kiln: boolean; nodes: Node[] }[] = [];
  let kind: 'kiln' | 'fallback' = ready.kiln.length > 0 ? 'kiln' : 'fallback';
  while (ready.kiln.length + ready.fallback.length > 0) {
    if (ready[kind].length === 0) kind = kind === 'kiln' ? 'fallback' : 'kiln';
    const run = { kiln: kind === 'kiln', nodes: [] as Node[] };
    runs.push(run);
    while (ready[kind].length > 0) {
      const node = ready[kind].shift()!;
      run.nodes.push(node);
      for (const d of dependents.get(node) ?? []) {
        const left = waiting.get(d)! - 1;
        waiting.set(d, left);
        if (left === 0) push(d);
      }
    }
  }
  return runs;
}

// Each segment's inputs (read, produced elsewhere, not constant) and outputs (read later or by
// the model's outputs), and the segment as a model of its own.
function boundaries(
  model: Model,
  groups: { kiln: boolean; nodes: Node[] }[],
  reasons: ReadonlyMap<Node, string>,
): Segment[] {
  const g = model.graph;
  const graphOutputs = new Set(g.outputs.map((v) => v.name));
  const readers = groups.map((group) => new Set(group.nodes.flatMap(nodeReads)));
  const segments: Segment[] = groups.map((group, i) => {
    const produced = new Set(group.nodes.flatMap((n) => n.outputs.filter((o) => o !== '')));
    const inputs = [...readers[i]!].filter((t) => !produced.has(t) && !g.initializers.has(t));
    const later = readers.slice(i + 1);
    const outputs = [...produced].filter(
      (t) => graphOutputs.has(t) || later.some((reads) => reads.has(t)),
    );
    return {
      kind: group.kiln ? 'kiln' : 'fallback',
      nodes: group.nodes.map((n) => ({
        name: n.label,
        op: n.opType,
        ...(reasons.has(n) ? { reason: reasons.get(n)! } : {}),
      })),
      inputs,
      outputs,
      model: extractSubgraph(model, inputs, outputs),
    };
  });
  // A segment whose results nothing reads is dead code: it is not run at all.
  return segments.filter((s) => s.outputs.length > 0);
}
