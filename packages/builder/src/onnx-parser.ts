import { KilnError, type NativeAttr, getLogger, nativeAddon } from '@kiln/core';
import {
  AttrType,
  type Attribute,
  type Graph,
  type Initializer,
  type Model,
  type Node,
  checkOpset,
  foldConstants,
  inferShapes,
  kilnDataType,
  loadModel,
  upgradeLegacyOpset,
} from '@kiln/onnx';

import { Layer, NetworkDefinition, NetworkTensor } from './network';
import { unsupportedReason } from './op-support';

/** One node the parser could not turn into a layer, and why. */
export interface UnsupportedNode {
  name: string;
  op: string;
  reason: string;
}

/** Options of OnnxParser.parse. */
export interface ParseOptions {
  /** Fold constant subgraphs (Shape chains on static dims included) first. Default true. */
  foldConstants?: boolean;
}

type Guard = Layer['guards'][number];
type Scope = Map<string, NetworkTensor>;

const decoder = new TextDecoder();

/**
 * Fills a NetworkDefinition from an ONNX model (like TensorRT's OnnxParser). Every node the
 * native core cannot run is collected, and parsing fails once with all of them listed. If
 * nodes are flattened: each branch's layers run under a guard on the condition.
 */
export class OnnxParser {
  readonly network: NetworkDefinition;
  #unsupported: UnsupportedNode[] = [];
  #supported = new Set<string>();
  #opset = 0;
  #source = '';

  constructor(network: NetworkDefinition) {
    this.network = network;
  }

  /** Parses a model (a @kiln/onnx Model, .onnx bytes or a path). */
  parse(source: Model | Uint8Array | string, options: ParseOptions = {}): void {
    const model =
      typeof source === 'string' || source instanceof Uint8Array ? loadModel(source) : source;
    checkOpset(upgradeLegacyOpset(model));
    if (options.foldConstants ?? true) foldConstants(model);
    inferShapes(model);
    this.#opset = model.requireOpset();
    this.#source = model.source;
    this.#supported = new Set(nativeAddon().supportedOps());
    this.#unsupported = [];
    const g = model.graph;
    const scope: Scope = new Map();
    for (const v of g.inputs) {
      if (g.initializers.has(v.name)) continue; // an initializer listed as an input (old exporters)
      const dtype = kilnDataType(v.elemType);
      if (!dtype) {
        this.#unsupported.push({
          name: v.name,
          op: 'input',
          reason: `element type ${v.elemType} is not supported`,
        });
        continue;
      }
      const shape = (v.shape ?? []).map((d) => (typeof d === 'number' ? d : -1));
      scope.set(v.name, this.network.addInput(v.name, dtype, shape));
    }
    this.parseGraph(g, scope, []);
    if (this.#unsupported.length > 0) {
      const list = this.#unsupported.map((u) => `  ${u.name} (${u.op}): ${u.reason}`).join('\n');
      throw new KilnError(
        'UNSUPPORTED',
        `${model.source}: ${this.#unsupported.length} node(s) cannot be built:\n${list}`,
      );
    }
    for (const v of g.outputs) {
      let t = scope.get(v.name);
      if (!t)
        throw new KilnError(
          'INVALID_MODEL',
          `${model.source}: graph output '${v.name}' is never produced`,
        );
      if (this.network.inputs.includes(t)) {
        throw new KilnError(
          'UNSUPPORTED',
          `${model.source}: graph output '${v.name}' is a graph input; pass it through outside the engine`,
        );
      }
      if (t.isConstant) {
        // The engine writes outputs into their own buffers: a constant output is copied there by
        // an Identity that takes over the output's name.
        const out = new NetworkTensor(t.name, t.dtype, [...t.shape]);
        t.name = this.network.uniqueName(`${t.name}_source`);
        this.network.layers.push(
          new Layer(
            this.network.uniqueLayerName(`${v.name}_identity`),
            'Identity',
            [t],
            [out],
            new Map(),
          ),
        );
        t = out;
      }
      this.network.markOutput(t);
    }
    getLogger().log(
      'info',
      `OnnxParser: ${g.nodes.length} nodes -> ${this.network.layers.length} layers`,
    );
  }

  // Adds a graph's initializers and nodes; names resolve in `scope` (a branch sees its parent's).
  private parseGraph(g: Graph, scope: Scope, guards: Guard[]): void {
    for (const init of g.initializers.values()) {
      const t = this.constant(init, init.name);
      if (t) scope.set(init.name, t);
      else
        this.#unsupported.push({
          name: init.name,
          op: 'initializer',
          reason: `element type ${init.elemType} is not supported`,
        });
    }
    g.topologicalSort(); // exporters do not always write nodes in order
    for (const node of g.nodes) this.parseNode(node, g, scope, guards);
  }

  private parseNode(node: Node, g: Graph, scope: Scope, guards: Guard[]): void {
    const label = node.name || node.outputs[0] || node.opType;
    const net = this.network;
    if (node.opType === 'Constant' && (node.domain === '' || node.domain === 'ai.onnx')) {
      const t = this.constantNode(node);
      if (t) scope.set(node.outputs[0]!, t);
      else
        this.#unsupported.push({
          name: label,
          op: 'Constant',
          reason: 'unsupported value attribute or element type',
        });
      return;
    }
    const reason = unsupportedReason(node, this.#supported);
    if (reason) {
      this.#unsupported.push({ name: label, op: node.opType, reason });
      // Placeholders let parsing go on, so that every unsupported node is reported at once.
      for (const name of node.outputs) scope.set(name, new NetworkTensor(name, 'float32', []));
      return;
    }
    const inputs = node.inputs.map((name) => {
      if (name === '') return null;
      const t = scope.get(name);
      if (!t)
        throw new KilnError(
          'INVALID_MODEL',
          `${this.#source}: node '${label}' reads '${name}', which nothing produces`,
        );
      return t;
    });
    while (node.outputs.length > 0 && node.outputs[node.outputs.length - 1] === '')
      node.outputs.pop();
    const outputs = node.outputs.map((name) => {
      const info = g.value(name);
      // Inferred dims (-1 where symbolic or unknown) let passes prove shape facts.
      const shape = (info?.shape ?? []).map((d) => (typeof d === 'number' ? d : -1));
      return new NetworkTensor(
        net.uniqueName(name),
        kilnDataType(info?.elemType) ?? 'float32',
        shape,
      );
    });
    let attrs = new Map<string, NativeAttr>();
    if (node.opType === 'If') {
      // ONNX requires a bool condition; value info for a tensor of an enclosing graph may be
      // missing in a branch, so say so here rather than trust a float32 fallback.
      if (!inputs[0]!.isConstant) inputs[0]!.dtype = 'bool';
      inputs.push(...this.branchResults(node, 'then_branch', scope, guards, inputs[0]!, true));
      inputs.push(...this.branchResults(node, 'else_branch', scope, guards, inputs[0]!, false));
    } else {
      attrs = this.attributes(node);
    }
    const layer = new Layer(
      net.uniqueLayerName(node.name || `${node.opType}_${net.layers.length}`),
      node.opType,
      inputs,
      outputs,
      attrs,
    );
    layer.guards = [...guards];
    net.layers.push(layer);
    node.outputs.forEach((name, i) => scope.set(name, outputs[i]!));
  }

  // Parses one If branch under an extra guard; returns the tensors of its outputs.
  private branchResults(
    node: Node,
    key: string,
    scope: Scope,
    guards: Guard[],
    cond: NetworkTensor,
    value: boolean,
  ): NetworkTensor[] {
    const branch = node.attr(key)?.graph;
    if (!branch)
      throw new KilnError('INVALID_MODEL', `${this.#source}: If node '${node.name}' has no ${key}`);
    const inner: Scope = new Map(scope);
    this.parseGraph(branch, inner, [...guards, { tensor: cond, value }]);
    return branch.outputs.map((v) => {
      const t = inner.get(v.name);
      if (!t)
        throw new KilnError(
          'INVALID_MODEL',
          `${this.#source}: ${key} of '${node.name}' never produces '${v.name}'`,
        );
      return t;
    });
  }

  private attributes(node: Node): Map<string, NativeAttr> {
    const attrs = new Map<string, NativeAttr>();
    for (const a of node.attributes.values()) {
      if (a.type === AttrType.TENSOR && node.opType === 'ConstantOfShape') continue;
      attrs.set(a.name, convertAttr(a));
    }
    const fill = node.opType === 'ConstantOfShape' ? node.tensor('value') : undefined;
    if (fill) {
      // The core takes the fill value as a number and its element type, not as a tensor.
      attrs.set('value', { kind: 'f', value: Number(fill.toNumbers()[0] ?? 0) });
      attrs.set('value_dtype', { kind: 'i', value: fill.elemType });
    }
    // Softmax/LogSoftmax changed meaning at opset 13; the core needs to know which applies.
    if (node.opType === 'Softmax' || node.opType === 'LogSoftmax')
      attrs.set('opset', { kind: 'i', value: this.#opset });
    return attrs;
  }

  private constant(init: Initializer, name: string): NetworkTensor | undefined {
    const dtype = kilnDataType(init.elemType);
    return dtype ? this.network.addConstant(init.dims, dtype, init.bytes(), name) : undefined;
  }

  private constantNode(node: Node): NetworkTensor | undefined {
    const out = node.outputs[0]!;
    const tensor = node.tensor('value');
    if (tensor) return this.constant(tensor, out);
    const f = node.attr('value_float');
    if (f) return this.network.addConstant([], 'float32', new Float32Array([f.proto.f ?? 0]), out);
    const fs = node.attr('value_floats');
    if (fs)
      return this.network.addConstant(
        [fs.proto.floats.length],
        'float32',
        Float32Array.from(fs.proto.floats),
        out,
      );
    const i = node.attr('value_int');
    if (i)
      return this.network.addConstant(
        [],
        'int64',
        new BigInt64Array([BigInt(i.proto.i ?? 0)]),
        out,
      );
    const is = node.attr('value_ints');
    if (is)
      return this.network.addConstant(
        [is.proto.ints.length],
        'int64',
        BigInt64Array.from(is.proto.ints, (v) => BigInt(v)),
        out,
      );
    return undefined;
  }
}

function convertAttr(a: Attribute): NativeAttr {
  const p = a.proto;
  switch (a.type) {
    case AttrType.INT:
      return { kind: 'i', value: Number(p.i ?? 0) };
    case AttrType.FLOAT:
      return { kind: 'f', value: p.f ?? 0 };
    case AttrType.INTS:
      return { kind: 'is', value: p.ints.map(Number) };
    case AttrType.FLOATS:
      return { kind: 'fs', value: [...p.floats] };
    case AttrType.STRING:
      return { kind: 's', value: decoder.decode(p.s ?? new Uint8Array()) };
    default:
      throw new KilnError('UNSUPPORTED', `attribute '${a.name}' of type ${a.type}`);
  }
}
