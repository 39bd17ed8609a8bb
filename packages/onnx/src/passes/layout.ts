import { KilnError } from '@kiln/core';
import { intsAttr } from '../ir/attribute';
import { nodeReads, type Graph } from '../ir/graph';
import type { Model } from '../ir/model';
import type { Value } from '../ir/value';
import { insertNodes, replaceUses } from '../surgery/edit';

/** Options of inputsAsNchw / outputsAsNchw: which inputs or outputs (default: every rank-3+ one). */
export interface LayoutOptions {
  names?: string[];
}

/** perm that turns channels-first into channels-last: [0, 2, ..., r-1, 1]. */
export function toChannelsLast(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
}

/** perm that turns channels-last into channels-first: [0, r-1, 1, ..., r-2]. */
export function toChannelsFirst(rank: number): number[] {
  return [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
}

function pick(values: Value[], options: LayoutOptions, what: string): Value[] {
  if (!options.names) return values.filter((v) => (v.shape?.length ?? 0) >= 3);
  return options.names.map((n) => {
    const v = values.find((x) => x.name === n);
    if (!v)
      throw new KilnError(
        'INVALID_ARGUMENT',
        `${what}: '${n}' is not a graph ${what.startsWith('inputs') ? 'input' : 'output'}`,
      );
    if ((v.shape?.length ?? 0) < 3)
      throw new KilnError(
        'INVALID_ARGUMENT',
        `${what}: '${n}' needs a known rank of 3 or more to change layout`,
      );
    return v;
  });
}

/**
 * tf2onnx's --inputs-as-nchw: the given NHWC inputs become NCHW; a Transpose inside the graph
 * turns them back for the nodes that expect NHWC. Their shapes are permuted accordingly.
 */
export function inputsAsNchw(model: Model, options: LayoutOptions = {}): Model {
  const g = model.graph;
  for (const v of pick(g.inputs, options, 'inputsAsNchw')) {
    const rank = v.shape!.length;
    const inner = g.uniqueName(`${v.name}__nhwc`);
    replaceUses(g, v.name, inner);
    for (const o of g.outputs)
      if (o.name === v.name)
        throw new KilnError(
          'UNSUPPORTED',
          `inputsAsNchw: input '${v.name}' is also a graph output`,
        );
    insertNodes(g, [
      {
        opType: 'Transpose',
        inputs: [v.name],
        outputs: [inner],
        attributes: [intsAttr('perm', toChannelsLast(rank))],
      },
    ]);
    v.shape = toChannelsFirst(rank).map((p) => v.shape![p]!);
  }
  cancelTransposePairs(g);
  return model;
}

/** The given NHWC outputs become NCHW, through a Transpose at the end of the graph. */
export function outputsAsNchw(model: Model, options: LayoutOptions = {}): Model {
  const g = model.graph;
  for (const v of pick(g.outputs, options, 'outputsAsNchw')) {
    const rank = v.shape!.length;
    const inner = g.uniqueName(`${v.name}__nhwc`);
    const producer = g.producers().get(v.name);
    if (!producer)
      throw new KilnError(
        'UNSUPPORTED',
        `outputsAsNchw: output '${v.name}' is not produced by a node`,
      );
    producer.outputs = producer.outputs.map((o) => (o === v.name ? inner : o));
    replaceUses(g, v.name, inner);
    insertNodes(g, [
      {
        opType: 'Transpose',
        inputs: [inner],
        outputs: [v.name],
        attributes: [intsAttr('perm', toChannelsFirst(rank))],
      },
    ]);
    v.shape = toChannelsFirst(rank).map((p) => v.shape![p]!);
    g.valueInfo.delete(v.name);
  }
  cancelTransposePairs(g);
  return model;
}

/**
 * Transpose(Transpose(x, p), q) where q∘p is the identity reads x directly; the pair goes away
 * when nothing else reads the inner one. This is what makes inputsAsNchw free on a model that
 * itself starts by transposing NHWC to NCHW.
 */
export function cancelTransposePairs(g: Graph): void {
  const producers = g.producers();
  const outputs = new Set(g.outputs.map((v) => v.name));
  for (const outer of g.nodes) {
    if (!outer.is('Transpose')) continue;
    const inner = producers.get(outer.inputs[0] ?? '');
    if (!inner?.is('Transpose')) continue;
    const p = inner.ints('perm');
    const q = outer.ints('perm');
    if (!p || !q || p.length !== q.length || !q.every((qi, i) => p[qi] === i)) continue;
    if (outputs.has(outer.outputs[0]!)) continue;
    replaceUses(g, outer.outputs[0]!, inner.inputs[0]!);
  }
  // Transposes nobody reads any more are dead now (the inner one only once the outer is gone).
  for (let before = -1; before !== g.nodes.length;) {
    before = g.nodes.length;
    // nodeReads: an If/Loop body may read a Transpose's output from the outer scope.
    const read = new Set(g.nodes.flatMap(nodeReads));
    for (const v of g.outputs) read.add(v.name);
    g.nodes = g.nodes.filter((n) => !n.is('Transpose') || n.outputs.some((o) => read.has(o)));
  }
}
