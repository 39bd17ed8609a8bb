import { KilnError } from '@kiln/core';
import type { TfFunction, TfGraph, TfNode } from '../proto/graph';

// Output arg layouts of multi-output ops, so a function body's 'node:arg:i' reference can be
// turned into the flat 'node:k' index a GraphDef uses. Single-output ops need no entry.
const OUTPUT_ARGS: Record<string, string[]> = {
  FusedBatchNorm: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2'],
  FusedBatchNormV2: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2'],
  FusedBatchNormV3: [
    'y',
    'batch_mean',
    'batch_variance',
    'reserve_space_1',
    'reserve_space_2',
    'reserve_space_3',
  ],
  TopKV2: ['values', 'indices'],
  Unique: ['y', 'idx'],
  NonMaxSuppressionV5: ['selected_indices', 'selected_scores', 'valid_outputs'],
};

const CALL_OPS = new Set(['PartitionedCall', 'StatefulPartitionedCall']);
const MAX_INLINED = 100_000;

/** Splits a GraphDef input reference into node name and output index ('^x' control inputs: index -1). */
export function parseRef(ref: string): { node: string; index: number } {
  if (ref.startsWith('^')) return { node: ref.slice(1), index: -1 };
  const m = /^(.*):(\d+)$/.exec(ref);
  return m ? { node: m[1]!, index: Number(m[2]) } : { node: ref, index: 0 };
}

/**
 * Inlines every function call (PartitionedCall, StatefulPartitionedCall, or a node whose op names
 * a library function) into a flat node list. Body nodes are renamed '<call>/<node>'; references
 * to a call's outputs are redirected to what the body returns. Returns the flat graph and a
 * function that resolves a tensor reference through the redirections.
 */
export function inlineFunctions(g: TfGraph): { nodes: TfNode[]; resolve: (ref: string) => string } {
  const alias = new Map<string, string>(); // 'call:i' -> reference inside the inlined body
  const out: TfNode[] = [];
  const work = [...g.nodes].reverse();
  let inlined = 0;
  while (work.length > 0) {
    const n = work.pop()!;
    const fname = CALL_OPS.has(n.op)
      ? n.attr.f?.func?.name
      : g.functions.has(n.op)
        ? n.op
        : undefined;
    if (fname === undefined) {
      out.push(n);
      continue;
    }
    const fn = g.functions.get(fname);
    if (fn === undefined)
      throw new KilnError(
        'INVALID_MODEL',
        `node '${n.name}' calls function '${fname}', which the library lacks`,
      );
    if (++inlined > MAX_INLINED)
      throw new KilnError(
        'INVALID_MODEL',
        `more than ${MAX_INLINED} function calls to inline (recursive functions?)`,
      );
    const dataInputs = n.inputs.filter((i) => !i.startsWith('^'));
    if (dataInputs.length !== fn.inputs.length) {
      throw new KilnError(
        'INVALID_MODEL',
        `node '${n.name}' passes ${dataInputs.length} inputs to '${fname}', which takes ${fn.inputs.length}`,
      );
    }
    const body = instantiate(fn, n.name, dataInputs);
    for (let i = body.nodes.length - 1; i >= 0; i--) work.push(body.nodes[i]!);
    fn.outputs.forEach((arg, i) => {
      const r = fn.ret[arg.name];
      if (r === undefined)
        throw new KilnError(
          'INVALID_MODEL',
          `function '${fname}' returns nothing for output '${arg.name}'`,
        );
      alias.set(`${n.name}:${i}`, body.ref(r));
    });
  }
  const resolve = (ref: string): string => {
    const seen = new Set<string>();
    let cur = ref.startsWith('^') ? ref : normalizeRef(ref);
    while (alias.has(cur)) {
      if (seen.has(cur))
        throw new KilnError('INVALID_MODEL', `a cycle of function outputs through '${cur}'`);
      seen.add(cur);
      cur = normalizeRef(alias.get(cur)!);
    }
    return cur;
  };
  for (const n of out) n.inputs = n.inputs.filter((i) => !i.startsWith('^')).map(resolve);
  return { nodes: out, resolve };
}

/** 'x' -> 'x:0'. */
export function normalizeRef(ref: string): string {
  const p = parseRef(ref);
  return `${p.node}:${p.index}`;
}

function instantiate(
  fn: TfFunction,
  prefix: string,
  args: string[],
): { nodes: TfNode[]; ref: (r: string) => string } {
  const argIndex = new Map(fn.inputs.map((a, i) => [a.name, i]));
  const ops = new Map(fn.nodes.map((n) => [n.name, n.op]));
  const ref = (r: string): string => {
    if (r.startsWith('^')) return `^${prefix}/${r.slice(1)}`;
    const parts = r.split(':');
    if (parts.length === 1) {
      const a = argIndex.get(r);
      if (a === undefined)
        throw new KilnError(
          'INVALID_MODEL',
          `function '${fn.name}': '${r}' is neither an argument nor a node output`,
        );
      return args[a]!;
    }
    if (parts.length !== 3) {
      // 'arg:0' style references to arguments also occur.
      const a = argIndex.get(parts[0]!);
      if (a !== undefined && parts.length === 2) return args[a]!;
      throw new KilnError('INVALID_MODEL', `function '${fn.name}': malformed reference '${r}'`);
    }
    const [node, arg, idx] = parts as [string, string, string];
    const op = ops.get(node);
    if (op === undefined)
      throw new KilnError('INVALID_MODEL', `function '${fn.name}': '${r}' names no node`);
    const layout = OUTPUT_ARGS[op];
    const base = layout ? Math.max(0, layout.indexOf(arg)) : 0;
    return `${prefix}/${node}:${base + Number(idx)}`;
  };
  const nodes = fn.nodes.map((n) => ({
    ...n,
    name: `${prefix}/${n.name}`,
    inputs: n.inputs.map(ref),
  }));
  return { nodes, ref };
}
