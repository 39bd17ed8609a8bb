import { isKilnError, KilnError } from '@kiln/core';
import type { Graph } from '../ir/graph';
import type { Model } from '../ir/model';
import type { Dim } from '../ir/shape';
import { Value } from '../ir/value';
import type { InferContext, TensorInfo } from './context';
import { constantInfo } from './ops/shape-ops';
import { INFER_RULES } from './registry';

/** Options of inferShapes. */
export interface InferOptions {
  /** Fail on ops without an inference rule (default: their outputs stay unknown). */
  strict?: boolean;
  /** Values of graph inputs known in advance (e.g. Silero's sample rate), which can decide If branches. */
  inputValues?: Record<string, number[]>;
  /** Track values of tensors up to this many elements (default 64; constant folding raises it). */
  valueLimit?: number;
}

/** What inference found: every tensor's info, by name, across the main graph and subgraphs. */
export type InferResult = Map<string, TensorInfo>;

/**
 * Shape and type inference with symbolic dims. Writes value_info for every intermediate tensor
 * and refines graph outputs (a known dim replaces an unknown one; declared dims stay otherwise).
 * Returns the model (changed in place) for use as a pass.
 */
export function inferShapes(model: Model, options: InferOptions = {}): Model {
  runInference(model, options);
  return model;
}

/** Runs inference and returns the per-tensor infos without needing the pass form. */
export function runInference(model: Model, options: InferOptions = {}): InferResult {
  const opset = model.requireOpset();
  const all: InferResult = new Map();
  const given = new Map<string, TensorInfo>();
  for (const [name, value] of Object.entries(options.inputValues ?? {})) {
    const v = model.graph.inputs.find((i) => i.name === name);
    if (!v)
      throw new KilnError(
        'INVALID_ARGUMENT',
        `inputValues names '${name}', which is not a graph input`,
      );
    given.set(name, { ...infoOfValue(v), value });
  }
  inferGraph(
    model.graph,
    opset,
    given,
    all,
    options.strict ?? false,
    true,
    options.valueLimit ?? 64,
  );
  return all;
}

function infoOfValue(v: Value): TensorInfo {
  return { elemType: v.elemType, shape: v.shape ? [...v.shape] : undefined };
}

function inferGraph(
  g: Graph,
  opset: number,
  outer: ReadonlyMap<string, TensorInfo>,
  all: InferResult,
  strict: boolean,
  isMain: boolean,
  valueLimit: number,
): TensorInfo[] {
  const known = new Map(outer);
  for (const v of g.inputs) if (!known.has(v.name) || !isMain) known.set(v.name, infoOfValue(v));
  for (const [name, t] of g.initializers) known.set(name, constantInfo(t, valueLimit));
  for (const node of g.topologicalOrder()) {
    const rule =
      node.domain === '' || node.domain === 'ai.onnx' ? INFER_RULES.get(node.opType) : undefined;
    let outs: (TensorInfo | undefined)[] = [];
    if (rule === undefined) {
      if (strict)
        throw new KilnError(
          'UNSUPPORTED',
          `node '${node.label}': no shape inference for ${node.domain ? node.domain + '.' : ''}${node.opType}`,
        );
    } else {
      const ctx: InferContext = {
        node,
        opset,
        valueLimit,
        inputs: node.inputs.map((i) =>
          i === '' ? undefined : (known.get(i) ?? fromValueInfo(g, i)),
        ),
        inferSubgraph: (sub, ins) => {
          const scope = new Map(known);
          sub.inputs.forEach((v, k) => ins[k] && scope.set(v.name, ins[k]!));
          return inferGraph(sub, opset, scope, all, strict, false, valueLimit);
        },
      };
      try {
        outs = rule(ctx);
      } catch (error) {
        if (isKilnError(error)) throw error;
        throw new KilnError(
          'INTERNAL',
          `node '${node.label}' (${node.opType}): shape inference failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    node.outputs.forEach((name, k) => {
      if (name === '') return;
      const info = outs[k] ?? fromValueInfo(g, name) ?? {};
      known.set(name, info);
      all.set(name, info);
    });
  }
  // Record what was learnt: value_info for intermediates, refined types for outputs.
  const outputNames = new Set(g.outputs.map((v) => v.name));
  for (const node of g.nodes) {
    for (const name of node.outputs) {
      if (name === '' || outputNames.has(name)) continue;
      const info = known.get(name);
      if (!info || (info.elemType === undefined && info.shape === undefined)) continue;
      const old = g.valueInfo.get(name);
      const v = old ?? new Value(name);
      v.elemType = info.elemType ?? v.elemType;
      v.shape = refine(v.shape, info.shape);
      g.valueInfo.set(name, v);
    }
  }
  return g.outputs.map((v) => {
    const info = known.get(v.name);
    if (info) {
      v.elemType = info.elemType ?? v.elemType;
      v.shape = refine(v.shape, info.shape);
    }
    return { elemType: v.elemType, shape: v.shape };
  });
}

function fromValueInfo(g: Graph, name: string): TensorInfo | undefined {
  const v = g.value(name);
  return v ? infoOfValue(v) : undefined;
}

// A known dim wins over an unknown one; where both are known, inference wins.
function refine(declared: Dim[] | undefined, inferred: Dim[] | undefined): Dim[] | undefined {
  if (!inferred) return declared;
  if (!declared || declared.length !== inferred.length) return [...inferred];
  return inferred.map((d, i) => (d === null ? declared[i]! : d));
}
