import type { Graph } from '../ir/graph';
import type { Node } from '../ir/node';

/** What to match: op type, name (string or RegExp), domain, or any predicate. */
export interface NodeQuery {
  opType?: string;
  name?: string | RegExp;
  domain?: string;
  where?: (node: Node) => boolean;
}

/** Nodes of `graph` (not its subgraphs) that match every given part of `query`. */
export function findNodes(graph: Graph, query: NodeQuery): Node[] {
  return graph.nodes.filter(
    (n) =>
      (query.opType === undefined || n.opType === query.opType) &&
      (query.domain === undefined || n.domain === query.domain) &&
      (query.name === undefined ||
        (typeof query.name === 'string' ? n.name === query.name : query.name.test(n.name))) &&
      (query.where === undefined || query.where(n)),
  );
}

/** The one node named `name`, or undefined. */
export function findNode(graph: Graph, name: string): Node | undefined {
  return graph.nodes.find((n) => n.name === name);
}

/** Names of tensors matching a string or RegExp (inputs, outputs, initializers, node outputs). */
export function findTensors(graph: Graph, pattern: string | RegExp): string[] {
  return [...graph.names()].filter((n) =>
    typeof pattern === 'string' ? n === pattern : pattern.test(n),
  );
}
