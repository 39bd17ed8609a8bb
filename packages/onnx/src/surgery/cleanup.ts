import { nodeReads, type Graph } from '../ir/graph';
import type { Model } from '../ir/model';

/** Options of cleanup. */
export interface CleanupOptions {
  /** Also drop graph inputs that nothing reads (default false: inputs are the model's interface). */
  removeUnusedInputs?: boolean;
}

/**
 * Removes nodes whose outputs reach no graph output, then initializers and value_info nobody
 * reads (and unused inputs when asked). Recurses into subgraphs. Returns the graph.
 */
export function cleanupGraph(graph: Graph, options: CleanupOptions = {}): Graph {
  const needed = new Set(graph.outputs.map((v) => v.name));
  const keep: typeof graph.nodes = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (n.outputs.some((o) => needed.has(o))) {
      keep.push(n);
      for (const r of nodeReads(n)) needed.add(r);
    }
  }
  graph.nodes = keep.reverse();
  for (const n of graph.nodes)
    for (const s of n.subgraphs()) cleanupGraph(s, { removeUnusedInputs: false });
  for (const name of [...graph.initializers.keys()]) {
    if (needed.has(name)) continue;
    graph.initializers.delete(name);
    // An input backed by an initializer only had a default value; unread, it goes too.
    graph.inputs = graph.inputs.filter((v) => v.name !== name);
  }
  const produced = new Set(graph.nodes.flatMap((n) => n.outputs));
  for (const name of [...graph.valueInfo.keys()])
    if (!produced.has(name)) graph.valueInfo.delete(name);
  if (options.removeUnusedInputs) graph.inputs = graph.inputs.filter((v) => needed.has(v.name));
  return graph;
}

/** Dead-node elimination as a pass: `cleanup(model)` cleans the main graph. */
export function cleanup(model: Model, options: CleanupOptions = {}): Model {
  cleanupGraph(model.graph, options);
  return model;
}
