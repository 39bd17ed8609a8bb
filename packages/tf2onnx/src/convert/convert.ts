import { KilnError } from '@kiln/core';
import {
  cleanupGraph,
  ElemType,
  inputsAsNchw,
  intAttr,
  Model,
  Node,
  outputsAsNchw,
  Value,
} from '@kiln/onnx';
import { onnxElemType, TfDType } from '../proto/dtype';
import type { TfNode } from '../proto/graph';
import { normalizeRef, parseRef } from '../readers/inline';
import type { GraphSpec, IoTensor } from '../readers/spec';
import { OP_HANDLERS, PASS_THROUGH } from '../ops/registry';
import { ConversionState, OpContext } from './context';
import { lowerConds, type CondRegion } from './control-flow';
import { emitIf } from './if-node';
import { optimizeTransposes } from './transpose-optimizer';

/** Options of every convert function (tf2onnx's command-line flags, as an object). */
export interface ConvertOptions {
  /** ONNX opset to target (default 17; 13..21). */
  opset?: number;
  /** Graph inputs by tensor name ('x:0' or 'x'); default: the signature's or every Placeholder. */
  inputs?: string[];
  /** Graph outputs by tensor name; default: the signature's or every tensor nothing reads. */
  outputs?: string[];
  /** ONNX input names to take as NCHW (a Transpose to NHWC is inserted and cancelled where it can be). */
  inputsAsNchw?: string[];
  /** ONNX output names to produce as NCHW. */
  outputsAsNchw?: string[];
  /** Fixed dims for inputs, by ONNX input name: -1 keeps a dim unknown. */
  inputShapes?: Record<string, number[]>;
  /** Renames ONNX inputs/outputs: old name -> new name. */
  rename?: Record<string, string>;
  /** Run the transpose optimizer (default true). */
  optimize?: boolean;
}

/** What a conversion did. */
export interface ConversionReport {
  /** TF op type -> number of nodes converted. */
  opsMapped: Record<string, number>;
  /** TF nodes the outputs depend on. */
  nodesBefore: number;
  /** ONNX nodes in the result. */
  nodesAfter: number;
  /** Things that converted but deserve a look. */
  warnings: string[];
}

/** A converted model and its report. */
export interface ConversionResult {
  /** The ONNX model (@kiln/onnx IR); save it with saveModel or writeOnnx. */
  model: Model;
  report: ConversionReport;
}

const MIN_OPSET = 13;
const MAX_OPSET = 21;
const CONST_OPS = new Set(['Const']);
const IGNORED_SINKS = new Set([
  'Const',
  'NoOp',
  'Placeholder',
  'VarHandleOp',
  'SaveV2',
  'RestoreV2',
  'AssignVariableOp',
]);

/** Converts a flat TF graph (from any reader) to ONNX. */
export function convertSpec(spec: GraphSpec, options: ConvertOptions = {}): ConversionResult {
  const opset = options.opset ?? 17;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new KilnError(
      'INVALID_ARGUMENT',
      `Expected an integer between ${MIN_OPSET} and ${MAX_OPSET} for opset but received ${String(opset)}`,
    );
  }
  const declared = new Map<string, TfNode>();
  for (const n of spec.graph.nodes) {
    if (declared.has(n.name))
      throw new KilnError('INVALID_MODEL', `${spec.source}: two nodes are named '${n.name}'`);
    declared.set(n.name, n);
  }
  const inputs = chooseInputs(spec, options, declared);
  const outputs = chooseOutputs(spec, options, declared);
  // tf.cond regions become single nodes, converted to ONNX If below.
  const lowered = lowerConds(
    spec.graph.nodes,
    new Set(outputs.map((o) => parseRef(normalizeRef(o.ref)).node)),
  );
  const conds = lowered.conds;
  // Branch nodes stay listed: references inside a branch resolve through them.
  const nodes = lowered.all;
  const state = new ConversionState(opset);
  const g = state.graph;
  g.name = 'tf2onnx';
  const rename = options.rename ?? {};
  for (const name of [
    ...inputs.map((i) => rename[i.name] ?? i.name),
    ...outputs.map((o) => rename[o.name] ?? o.name),
  ])
    state.reserve(name);

  // Resolve pass-through ops first so every reference names a real producer.
  const resolveRef = (ref: string): string => {
    let cur = normalizeRef(ref);
    for (let hops = 0; hops < 10_000; hops++) {
      const p = parseRef(cur);
      const n = nodes.get(p.node);
      if (n === undefined || !PASS_THROUGH.has(n.op) || inputRefs.has(cur)) return cur;
      const first = n.inputs.find((i) => !i.startsWith('^'));
      if (first === undefined) return cur;
      cur = normalizeRef(first);
    }
    throw new KilnError(
      'INVALID_MODEL',
      `${spec.source}: a cycle of Identity nodes through '${ref}'`,
    );
  };
  const inputRefs = new Set(inputs.map((i) => i.ref));

  for (const inp of inputs) {
    const name = rename[inp.name] ?? inp.name;
    const producer = nodes.get(parseRef(inp.ref).node);
    if (producer === undefined)
      throw new KilnError('NOT_FOUND', `${spec.source}: input '${inp.ref}' names no node`);
    const dtype = inp.dtype || producer.attr.dtype?.type || producer.attr.T?.type || TfDType.FLOAT;
    let shape = inp.shape ?? producer.attr.shape?.shape ?? undefined;
    const fixed = options.inputShapes?.[inp.name] ?? options.inputShapes?.[name];
    if (fixed !== undefined) {
      if (shape && shape.length !== fixed.length)
        throw new KilnError(
          'INVALID_ARGUMENT',
          `inputShapes['${inp.name}'] has rank ${fixed.length}; the input has rank ${shape.length}`,
        );
      shape = fixed;
    }
    const elemType = onnxElemType(dtype, `input '${inp.ref}'`);
    g.inputs.push(
      new Value(
        name,
        elemType,
        shape === null || shape === undefined
          ? undefined
          : shape.map((d, i) => (d >= 0 ? d : i === 0 ? 'batch' : null)),
      ),
    );
    state.tensors.set(inp.ref, name);
    state.types.set(name, { elemType, shape: shape ?? undefined });
  }

  // The nodes the outputs need, in dependency order (iterative: real graphs are deep).
  const order: TfNode[] = [];
  let cycle: string | undefined;
  const state2 = new Map<string, 1 | 2>();
  for (const out of outputs) {
    const stack: { node: TfNode; i: number }[] = [];
    const push = (ref: string): void => {
      const r = resolveRef(ref);
      if (inputRefs.has(r)) return;
      const n = nodes.get(parseRef(r).node);
      if (n === undefined)
        throw new KilnError('INVALID_MODEL', `${spec.source}: '${ref}' names no node`);
      const s = state2.get(n.name);
      if (s === 2) return;
      if (s === 1) {
        // A while loop: reported below, after the unsupported ops its body and frame use.
        cycle ??= n.name;
        return;
      }
      state2.set(n.name, 1);
      stack.push({ node: n, i: 0 });
    };
    push(out.ref);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const data = top.node.inputs.filter((x) => !x.startsWith('^'));
      if (top.i < data.length) push(data[top.i++]!);
      else {
        state2.set(top.node.name, 2);
        order.push(top.node);
        stack.pop();
      }
    }
  }

  // Every TF node to convert, the nodes inside cond branches included; a cond's Switches and
  // Merges become the If itself.
  const condsUsed: CondRegion[] = [];
  const expand = (list: TfNode[]): TfNode[] =>
    list.flatMap((n) => {
      const c = conds.get(n.name);
      if (c === undefined) return [n];
      condsUsed.push(c);
      return [...expand(c.then.nodes), ...expand(c.else.nodes)];
    });
  const converted = expand(order);
  const unsupported = converted.filter(
    (n) => !CONST_OPS.has(n.op) && !OP_HANDLERS.has(n.op) && !PASS_THROUGH.has(n.op),
  );
  const placeholders = converted.filter((n) => n.op === 'Placeholder');
  if (placeholders.length > 0) {
    throw new KilnError(
      'INVALID_ARGUMENT',
      `${spec.source}: the outputs depend on placeholders that are not inputs: ${placeholders.map((n) => `'${n.name}'`).join(', ')}`,
    );
  }
  if (unsupported.length > 0) {
    const list = unsupported.map((n) => `${n.name} (${n.op})`).join(', ');
    throw new KilnError(
      'UNSUPPORTED',
      `${spec.source}: ${unsupported.length} node(s) use ops the converter does not support: ${list}`,
    );
  }

  if (cycle !== undefined)
    throw new KilnError(
      'UNSUPPORTED',
      `${spec.source}: the graph has a cycle through '${cycle}' (while loops are not supported)`,
    );

  const opsMapped: Record<string, number> = {};
  const mapped = [...converted, ...condsUsed.flatMap((c) => [...c.switches, ...c.merges])];
  for (const n of mapped) opsMapped[n.op] = (opsMapped[n.op] ?? 0) + 1;
  const convertNodes = (list: TfNode[]): void => {
    for (const n of list) {
      if (PASS_THROUGH.has(n.op)) continue;
      if (n.op === 'Const') {
        const t = n.attr.value?.tensor;
        if (t === undefined)
          throw new KilnError('INVALID_MODEL', `${spec.source}: Const '${n.name}' has no value`);
        state.consts.set(`${n.name}:0`, t);
        continue;
      }
      const cond = conds.get(n.name);
      if (cond !== undefined) {
        emitIf(state, cond, resolveRef, convertNodes);
        continue;
      }
      const resolved: TfNode = {
        ...n,
        inputs: n.inputs.filter((x) => !x.startsWith('^')).map(resolveRef),
      };
      OP_HANDLERS.get(n.op)!(new OpContext(state, resolved));
    }
  };
  convertNodes(order);

  for (const out of outputs) {
    const name = rename[out.name] ?? out.name;
    const ref = resolveRef(out.ref);
    const src = state.tensor(ref, `output '${out.name}'`);
    const elemType = state.types.get(src)?.elemType ?? ElemType.FLOAT;
    g.nodes.push(
      new Node({
        opType: 'Identity',
        name: state.unique(`${name}/Identity`),
        inputs: [src],
        outputs: [name],
      }),
    );
    g.outputs.push(new Value(name, elemType, undefined));
  }
  void intAttr;

  const model = new Model(g, {
    irVersion: 8,
    producerName: '@kiln/tf2onnx',
    producerVersion: '0.1.0',
  });
  model.setOpset(opset);
  if (options.optimize ?? true) optimizeTransposes(g);
  cleanupGraph(g);
  removeOutputIdentities(model);
  if (options.inputsAsNchw?.length)
    inputsAsNchw(model, { names: options.inputsAsNchw.map((n) => rename[n] ?? n) });
  if (options.outputsAsNchw?.length)
    outputsAsNchw(model, { names: options.outputsAsNchw.map((n) => rename[n] ?? n) });
  if (options.optimize ?? true) optimizeTransposes(g);
  cleanupGraph(g);
  g.topologicalSort();
  g.check(spec.source);
  return {
    model,
    report: {
      opsMapped,
      nodesBefore: mapped.length,
      nodesAfter: g.nodes.length,
      warnings: state.warnings,
    },
  };
}

// An output Identity whose input is made by a node nothing else reads can be folded away.
function removeOutputIdentities(model: Model): void {
  const g = model.graph;
  const producers = g.producers();
  const consumers = g.consumers();
  const inputs = new Set(g.inputs.map((v) => v.name));
  const outputs = new Set(g.outputs.map((v) => v.name));
  g.nodes = g.nodes.filter((n) => {
    if (!n.is('Identity') || !outputs.has(n.outputs[0]!)) return true;
    const src = n.inputs[0]!;
    const p = producers.get(src);
    if (
      p === undefined ||
      inputs.has(src) ||
      outputs.has(src) ||
      (consumers.get(src)?.length ?? 0) !== 1
    )
      return true;
    p.outputs = p.outputs.map((o) => (o === src ? n.outputs[0]! : o));
    return false;
  });
}

function chooseInputs(
  spec: GraphSpec,
  options: ConvertOptions,
  nodes: Map<string, TfNode>,
): IoTensor[] {
  if (options.inputs) {
    return options.inputs.map((name) => {
      const ref = normalizeRef(name);
      const declared = spec.inputs?.find((i) => i.ref === ref || i.name === name);
      if (declared) return declared;
      if (!nodes.has(parseRef(ref).node))
        throw new KilnError('NOT_FOUND', `${spec.source}: input '${name}' names no node`);
      return { ref, name: name.endsWith(':0') ? name.slice(0, -2) : name };
    });
  }
  if (spec.inputs) return spec.inputs;
  return spec.graph.nodes
    .filter((n) => n.op === 'Placeholder')
    .map((n) => ({ ref: `${n.name}:0`, name: n.name }));
}

function chooseOutputs(
  spec: GraphSpec,
  options: ConvertOptions,
  nodes: Map<string, TfNode>,
): IoTensor[] {
  if (options.outputs) {
    return options.outputs.map((name) => {
      const ref = normalizeRef(name);
      const declared = spec.outputs?.find((o) => o.ref === ref || o.name === name);
      if (declared) return declared;
      if (!nodes.has(parseRef(ref).node))
        throw new KilnError('NOT_FOUND', `${spec.source}: output '${name}' names no node`);
      return { ref, name: name.endsWith(':0') ? name.slice(0, -2) : name };
    });
  }
  if (spec.outputs) return spec.outputs;
  const read = new Set<string>();
  for (const n of spec.graph.nodes) for (const i of n.inputs) read.add(parseRef(i).node);
  const sinks = spec.graph.nodes.filter((n) => !read.has(n.name) && !IGNORED_SINKS.has(n.op));
  if (sinks.length === 0)
    throw new KilnError(
      'INVALID_MODEL',
      `${spec.source}: the graph has no outputs (every node is read by another, or only constants)`,
    );
  return sinks.map((n) => ({ ref: `${n.name}:0`, name: n.name }));
}
