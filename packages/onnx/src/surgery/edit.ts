import { KilnError } from '@kiln/core';
import type { Graph } from '../ir/graph';
import { Node, type NodeInit } from '../ir/node';

/**
 * Adds nodes to the graph, giving unnamed ones unique names, placed just before the first node
 * that reads one of their outputs (so the graph stays topologically sorted).
 */
export function insertNodes(graph: Graph, inits: (NodeInit | Node)[]): Node[] {
  const nodes = inits.map((i) => (i instanceof Node ? i : new Node(i)));
  for (const n of nodes) {
    if (n.name === '') n.name = graph.uniqueName(`kiln_${n.opType}`);
    graph.nodes.push(n);
  }
  graph.topologicalSort();
  return nodes;
}

/** Replaces every read of tensor `from` with `to` (node inputs, subgraph reads and graph outputs stay named). */
export function replaceUses(
  graph: Graph,
  from: string,
  to: string,
  options: { except?: Node[] } = {},
): number {
  let count = 0;
  const except = new Set(options.except ?? []);
  for (const n of graph.nodes) {
    if (except.has(n)) continue;
    n.inputs = n.inputs.map((i) => (i === from ? (count++, to) : i));
    for (const s of n.subgraphs()) count += replaceUses(s, from, to);
  }
  return count;
}

/** Removes a single-input-passthrough node, rewiring its readers to its first input. */
export function removeNode(graph: Graph, node: Node): void {
  const at = graph.nodes.indexOf(node);
  if (at < 0)
    throw new KilnError('NOT_FOUND', `node '${node.label}' is not in graph '${graph.name}'`);
  const source = node.inputs[0];
  const output = node.outputs[0];
  if (output !== undefined && output !== '') {
    if (graph.outputs.some((v) => v.name === output)) {
      throw new KilnError(
        'INVALID_STATE',
        `node '${node.label}' produces graph output '${output}'; rename the output first`,
      );
    }
    if (source === undefined || source === '') {
      throw new KilnError(
        'INVALID_STATE',
        `node '${node.label}' has no input to rewire its readers to`,
      );
    }
    replaceUses(graph, output, source);
  }
  graph.nodes.splice(at, 1);
}

/** Replaces `node` with `replacement` nodes; the replacements must produce the node's outputs. */
export function replaceNode(graph: Graph, node: Node, replacement: (NodeInit | Node)[]): Node[] {
  const at = graph.nodes.indexOf(node);
  if (at < 0)
    throw new KilnError('NOT_FOUND', `node '${node.label}' is not in graph '${graph.name}'`);
  const nodes = replacement.map((i) => (i instanceof Node ? i : new Node(i)));
  const produced = new Set(nodes.flatMap((n) => n.outputs));
  for (const o of node.outputs) {
    if (o !== '' && !produced.has(o))
      throw new KilnError(
        'INVALID_ARGUMENT',
        `the replacement of '${node.label}' does not produce its output '${o}'`,
      );
  }
  graph.nodes.splice(at, 1);
  return insertNodes(graph, nodes);
}

/** Renames a tensor everywhere in the graph: producer, readers, IO, value_info, initializer. */
export function renameTensor(graph: Graph, from: string, to: string): void {
  if (from === to) return;
  if (graph.names().has(to))
    throw new KilnError(
      'INVALID_ARGUMENT',
      `cannot rename '${from}' to '${to}': that name is taken`,
    );
  for (const n of graph.nodes) n.outputs = n.outputs.map((o) => (o === from ? to : o));
  replaceUses(graph, from, to);
  for (const v of [...graph.inputs, ...graph.outputs]) if (v.name === from) v.name = to;
  const vi = graph.valueInfo.get(from);
  if (vi) {
    graph.valueInfo.delete(from);
    vi.name = to;
    graph.valueInfo.set(to, vi);
  }
  const init = graph.initializers.get(from);
  if (init) {
    graph.initializers.delete(from);
    init.name = to;
    graph.initializers.set(to, init);
  }
}

/** Renames a graph input or output (the tensor is renamed throughout). */
export function renameIO(graph: Graph, from: string, to: string): void {
  if (!graph.inputs.some((v) => v.name === from) && !graph.outputs.some((v) => v.name === from)) {
    throw new KilnError(
      'NOT_FOUND',
      `'${from}' is not an input or output of graph '${graph.name}'`,
    );
  }
  renameTensor(graph, from, to);
}
