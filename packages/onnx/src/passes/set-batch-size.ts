import { KilnError } from '@kiln/core';
import type { TensorInfo } from '../infer/context';
import { runInference } from '../infer/infer';
import { ElemType } from '../ir/elem-type';
import { initializerFromNumbers } from '../ir/from-numbers';
import type { Graph } from '../ir/graph';
import type { Model } from '../ir/model';
import type { Node, NodeInit } from '../ir/node';
import { type Dim, formatShape } from '../ir/shape';
import { intAttr, intsAttr } from '../ir/attribute';
import { insertNodes } from '../surgery/edit';

/** A fixed batch size, or a symbolic one named `dynamic`. */
export type BatchSize = number | { dynamic: string };

/** Options of setBatchSize. */
export interface SetBatchSizeOptions {
  /** The graph inputs whose dim 0 is the batch (default: every non-scalar input). */
  inputs?: string[];
}

// A symbol no real model uses, so every dim that carries it is provably batch-derived.
const MARK = '__kiln_batch__';

function carries(d: Dim | undefined): boolean {
  return typeof d === 'string' && d.split('*').includes(MARK);
}

function carriesAny(shape: Dim[] | undefined): boolean {
  return shape !== undefined && shape.some(carries);
}

/**
 * Sets the batch dimension (dim 0 of the batch inputs) to a number or a symbol. Rewrites inputs,
 * outputs and value_info, and finds nodes that pin the old batch: a Reshape whose constant
 * target starts with the old batch is rewritten to copy dim 0 (provably the batch), a batch-1
 * constant concatenated with batch data is expanded to the batch; anything else that pins it
 * (a constant of the old batch mixed with batch data, a Reshape that folds the batch away) fails
 * with a KilnError naming the node. Never returns a silently wrong model.
 */
export function setBatchSize(
  model: Model,
  size: BatchSize,
  options: SetBatchSizeOptions = {},
): Model {
  const target = checkSize(size);
  const g = model.graph;
  const batchInputs = g.inputs.filter((v) =>
    options.inputs
      ? options.inputs.includes(v.name)
      : !g.initializers.has(v.name) && (v.shape?.length ?? 0) > 0,
  );
  for (const name of options.inputs ?? []) {
    if (!g.inputs.some((v) => v.name === name))
      throw new KilnError('INVALID_ARGUMENT', `setBatchSize: '${name}' is not a graph input`);
  }
  if (batchInputs.length === 0)
    throw new KilnError(
      'INVALID_ARGUMENT',
      'setBatchSize: the model has no input with a batch dimension',
    );
  const old = batchInputs[0]!.shape![0]!;
  for (const v of batchInputs) {
    if (!v.shape || v.shape.length === 0)
      throw new KilnError('INVALID_ARGUMENT', `setBatchSize: input '${v.name}' has no dims`);
    v.shape[0] = MARK;
  }
  // Shapes recorded for the old batch would mislead inference and the runtime alike.
  clearBatchTypes(g);
  // Fix pins one round at a time: a fix changes what inference sees downstream.
  for (let round = 0; round < 1000; round++) {
    const infos = runInference(model);
    if (!fixFirstPin(model, infos, old)) break;
  }
  for (const v of batchInputs) v.shape![0] = target;
  clearBatchTypes(g);
  const infos = runInference(model);
  for (const v of g.outputs) {
    const inferred = infos.get(v.name)?.shape;
    if (inferred) v.shape = inferred.map((d) => renameMark(d, target));
  }
  for (const v of g.valueInfo.values())
    if (v.shape) v.shape = v.shape.map((d) => renameMark(d, target));
  return model;
}

function checkSize(size: BatchSize): number | string {
  if (typeof size === 'number') {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new KilnError(
        'INVALID_ARGUMENT',
        `setBatchSize: expected a positive integer batch size, got ${size}`,
      );
    return size;
  }
  if (
    size !== null &&
    typeof size === 'object' &&
    typeof size.dynamic === 'string' &&
    size.dynamic !== ''
  ) {
    if (size.dynamic.includes('*'))
      throw new KilnError(
        'INVALID_ARGUMENT',
        `setBatchSize: a dynamic batch name may not contain '*'`,
      );
    return size.dynamic;
  }
  throw new KilnError(
    'INVALID_ARGUMENT',
    `setBatchSize: expected a number or { dynamic: name }, got ${JSON.stringify(size)}`,
  );
}

function renameMark(d: Dim, target: number | string): Dim {
  if (!carries(d)) return d;
  const parts = (d as string).split('*');
  if (typeof target === 'string') return parts.map((p) => (p === MARK ? target : p)).join('*');
  return parts.reduce((n, p) => n * (p === MARK ? target : Number(p)), 1);
}

function clearBatchTypes(g: Graph): void {
  g.valueInfo.clear();
  for (const v of g.outputs) if (v.shape && v.shape.length > 0) v.shape[0] = null;
}

/** Finds the first node that pins the batch and fixes it; false when there is none. */
function fixFirstPin(model: Model, infos: Map<string, TensorInfo>, old: Dim): boolean {
  const g = model.graph;
  const info = (name: string): TensorInfo | undefined =>
    infos.get(name) ?? g.value(name) ?? undefined;
  const shapeOf = (name: string): Dim[] | undefined => {
    const i = g.initializers.get(name);
    if (i) return [...i.dims];
    const v = g.inputs.find((x) => x.name === name);
    return v?.shape ?? info(name)?.shape;
  };
  for (const node of g.nodes) {
    if (node.is('Reshape')) {
      const data = shapeOf(node.inputs[0] ?? '');
      const out = infos.get(node.outputs[0] ?? '')?.shape;
      // The batch must stay outermost when it was (flattening it into rows keeps it outermost);
      // a -1 that swallows it into an inner dim moves it elsewhere.
      const kept = data?.[0] === MARK ? carries(out?.[0]) : carriesAny(out);
      if (!carriesAny(data) || kept) continue;
      fixReshape(model, node, data!, old);
      return true;
    }
    if (node.is('Concat')) {
      const shapes = node.inputs.map((i) => shapeOf(i));
      const rank = shapes[0]?.length ?? 0;
      const ax = ((node.int('axis') ?? 0) + rank) % Math.max(rank, 1);
      const batchAt = ax === 0 ? -1 : 0;
      if (batchAt < 0 || !shapes.some((s) => carries(s?.[0]))) continue;
      const k = shapes.findIndex((s) => s !== undefined && !carries(s[0]));
      if (k < 0) continue;
      expandToBatch(
        model,
        node,
        k,
        shapes.findIndex((s) => carries(s?.[0])),
        old,
      );
      return true;
    }
    if (ELEMENTWISE.has(node.opType) && node.domain === '') {
      // Broadcasting a dim of 1 against the batch is fine; any other size is the old batch baked in.
      const shapes = node.inputs.map((i) => (i === '' ? undefined : shapeOf(i)));
      const rank = Math.max(0, ...shapes.map((s) => s?.length ?? 0));
      for (let axis = 0; axis < rank; axis++) {
        const dims = shapes.map((s) => (s ? s[axis - (rank - s.length)] : undefined));
        if (!dims.some(carries)) continue;
        const fixed = dims.find((d) => typeof d === 'number' && d !== 1);
        if (fixed !== undefined) {
          throw pinError(
            node,
            `an input has ${fixed} at dim ${axis}, where the batch flows; a tensor sized for the old batch cannot be rewritten safely`,
          );
        }
      }
    }
  }
  return false;
}

const ELEMENTWISE = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Where',
  'Equal',
  'Less',
  'Greater',
  'And',
  'Or',
  'Max',
  'Min',
  'PRelu',
]);

function pinError(node: Node, why: string): KilnError {
  return new KilnError(
    'UNSUPPORTED',
    `setBatchSize: node '${node.label}' (${node.opType}) pins the batch size: ${why}`,
  );
}

function constantTarget(g: Graph, name: string): number[] | undefined {
  const init = g.initializers.get(name);
  if (init && (init.elemType === ElemType.INT64 || init.elemType === ElemType.INT32))
    return init.toNumbers();
  return undefined;
}

// Reshape(x[batch, ...], [old, d1, ...]) -> [0, d1, ...]: 0 copies x's dim 0, which is the batch.
function fixReshape(model: Model, node: Node, data: Dim[], old: Dim): void {
  const g = model.graph;
  const targetName = node.inputs[1] ?? '';
  const t = constantTarget(g, targetName);
  if (!t)
    throw pinError(
      node,
      `its target shape '${targetName}' is computed, and the batch does not survive it`,
    );
  if (node.int('allowzero', 0) === 1)
    throw pinError(node, 'it has allowzero=1, so 0 cannot copy the batch');
  if (data[0] !== MARK)
    throw pinError(node, `its input ${formatShape(data)} does not have the batch at dim 0`);
  if (t[0] !== old)
    throw pinError(node, `its target [${t.join(', ')}] does not start with the old batch ${old}`);
  const rest = t.slice(1);
  const restData = data.slice(1);
  const known = restData.every((d) => typeof d === 'number');
  if (!rest.includes(-1)) {
    const a = rest.reduce((p, d, i) => p * (d === 0 ? (restData[i] as number) : d), 1);
    const b = known ? (restData as number[]).reduce((p, d) => p * d, 1) : NaN;
    if (a !== b)
      throw pinError(
        node,
        `its target [${t.join(', ')}] does not keep one sample per batch row of ${formatShape(data)}`,
      );
  }
  const name = g.uniqueName(`${targetName}_batch`);
  g.initializers.set(name, initializerFromNumbers(name, ElemType.INT64, [t.length], [0, ...rest]));
  node.inputs[1] = name;
}

// Concat(batchData, constant[old=1, ...]) -> Concat(batchData, Expand(constant, [batch, ...])).
function expandToBatch(model: Model, node: Node, k: number, ref: number, old: Dim): void {
  const g = model.graph;
  const name = node.inputs[k]!;
  const shape = g.initializers.get(name)?.dims;
  if (!shape)
    throw pinError(
      node,
      `input '${name}' is not batched but is not a constant either, so it cannot be expanded safely`,
    );
  if (shape[0] !== 1 || old !== 1)
    throw pinError(
      node,
      `constant input '${name}' has dim 0 of ${shape[0]}, which cannot be expanded to the batch`,
    );
  const refName = node.inputs[ref]!;
  const opset = model.requireOpset();
  const batchDim = g.uniqueName(`${name}_batch`);
  const restName = g.uniqueName(`${name}_dims`);
  const fullName = g.uniqueName(`${name}_target`);
  const expanded = g.uniqueName(`${name}_expanded`);
  g.initializers.set(
    restName,
    initializerFromNumbers(restName, ElemType.INT64, [shape.length - 1], shape.slice(1)),
  );
  // Shape(ref)[0:1]: Shape's start/end from opset 15, else a Slice (attributes before opset 10).
  const shapeNodes: NodeInit[] = [];
  if (opset >= 15) {
    shapeNodes.push({
      opType: 'Shape',
      inputs: [refName],
      outputs: [batchDim],
      attributes: [intAttr('start', 0), intAttr('end', 1)],
    });
  } else {
    const full = g.uniqueName(`${name}_ref_shape`);
    shapeNodes.push({ opType: 'Shape', inputs: [refName], outputs: [full] });
    if (opset >= 10) {
      shapeNodes.push({
        opType: 'Slice',
        inputs: [full, sliceConst(g, 'starts', [0]), sliceConst(g, 'ends', [1])],
        outputs: [batchDim],
      });
    } else {
      shapeNodes.push({
        opType: 'Slice',
        inputs: [full],
        outputs: [batchDim],
        attributes: [intsAttr('starts', [0]), intsAttr('ends', [1]), intsAttr('axes', [0])],
      });
    }
  }
  insertNodes(g, [
    ...shapeNodes,
    {
      opType: 'Concat',
      inputs: [batchDim, restName],
      outputs: [fullName],
      attributes: [intAttr('axis', 0)],
    },
    { opType: 'Expand', inputs: [name, fullName], outputs: [expanded] },
  ]);
  node.inputs[k] = expanded;
}

function sliceConst(g: Graph, what: string, values: number[]): string {
  const name = g.uniqueName(`kiln_${what}`);
  g.initializers.set(name, initializerFromNumbers(name, ElemType.INT64, [values.length], values));
  return name;
}
