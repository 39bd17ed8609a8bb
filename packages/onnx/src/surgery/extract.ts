import { KilnError } from '@kiln/core';
import { Graph, nodeReads } from '../ir/graph';
import { Model } from '../ir/model';
import { Value } from '../ir/value';
import { runInference } from '../infer/infer';

/**
 * A new model computing `outputs` from `inputs` (tensor names of `model`): the nodes between
 * them, the initializers they read, and boundary types from value_info or shape inference (which
 * records value_info in `model`). Fails, naming the
 * tensor, when an output depends on something that is neither a given input nor a constant.
 */
export function extractSubgraph(model: Model, inputs: string[], outputs: string[]): Model {
  const g = model.graph;
  const producers = g.producers();
  const stop = new Set(inputs);
  const chosen = new Set<number>();
  const index = new Map(g.nodes.map((n, i) => [n, i]));
  const needInits = new Set<string>();
  const stack = [...outputs];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    if (stop.has(t)) continue;
    if (g.initializers.has(t)) {
      needInits.add(t);
      continue;
    }
    const p = producers.get(t);
    if (p === undefined) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `cannot extract: '${t}' is needed but is neither produced by a node, a given input, nor a constant`,
      );
    }
    chosen.add(index.get(p)!);
    stack.push(...nodeReads(p));
  }
  const sub = new Graph();
  sub.name = `${g.name}_extract`;
  sub.nodes = [...chosen].sort((a, b) => a - b).map((i) => g.nodes[i]!);
  // Boundary tensors need types; where the file has none, shape inference supplies them.
  const infos = [...inputs, ...outputs].some((n) => model.graph.value(n)?.elemType === undefined)
    ? runInference(model)
    : undefined;
  const typed = (name: string): Value => {
    const v = model.graph.value(name);
    if (v?.elemType !== undefined) return v.clone();
    const info = infos?.get(name);
    return new Value(name, info?.elemType, info?.shape ? [...info.shape] : undefined);
  };
  sub.inputs = inputs.map(typed);
  sub.outputs = outputs.map(typed);
  for (const name of needInits) sub.initializers.set(name, g.initializers.get(name)!);
  for (const n of sub.nodes)
    for (const o of n.outputs) {
      const v = g.valueInfo.get(o);
      if (v && !outputs.includes(o)) sub.valueInfo.set(o, v.clone());
    }
  return new Model(sub, structuredCloneProto(model), model.source);
}

function structuredCloneProto(model: Model): Model['proto'] {
  return { ...model.proto, opsetImport: model.proto.opsetImport.map((o) => ({ ...o })) };
}
