import { decodeGraphDef } from '../proto/graph';
import { inlineFunctions } from './inline';
import { readFile } from './safe-path';
import type { GraphSpec } from './spec';

/** Reads a frozen GraphDef (.pb bytes or a path); library functions are inlined. */
export function readGraphDef(source: Uint8Array | string): GraphSpec {
  const where = typeof source === 'string' ? source : '<GraphDef bytes>';
  const bytes = typeof source === 'string' ? readFile(source, 'GraphDef') : source;
  const g = decodeGraphDef(bytes, where);
  const flat = g.functions.size > 0 ? inlineFunctions(g).nodes : g.nodes;
  return {
    graph: { nodes: flat, functions: new Map() },
    inputs: undefined,
    outputs: undefined,
    source: where,
  };
}
