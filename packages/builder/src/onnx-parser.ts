import { KilnError, type NativeAttr, getLogger, nativeAddon } from '@kiln/core';
import {
  AttrType,
  type Attribute,
  type Initializer,
  type Model,
  type Node,
  checkOpset,
  foldConstants,
  inferShapes,
  kilnDataType,
  loadModel,
} from '@kiln/onnx';

import { Layer, NetworkDefinition, NetworkTensor } from './network';

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

const decoder = new TextDecoder();

/**
 * Fills a NetworkDefinition from an ONNX model (like TensorRT's OnnxParser). Every node the
 * native core cannot run is collected, and parsing fails once with all of them listed.
 */
export class OnnxParser {
  readonly network: NetworkDefinition;

  constructor(network: NetworkDefinition) {
    this.network = network;
  }

  /** Parses a model (a @kiln/onnx Model, .onnx bytes or a path). */
  parse(source: Model | Uint8Array | string, options: ParseOptions = {}): void {
    const model =
      typeof source === 'string' || source instanceof Uint8Array ? loadModel(source) : source;
    checkOpset(model);
    if (options.foldConstants ?? true) foldConstants(model);
    inferShapes(model);
    const opset = model.requireOpset();
    const g = model.graph;
    g.topologicalSort();
    const supported = new Set(nativeAddon().supportedOps());
    const unsupported: UnsupportedNode[] = [];
    const tensors = new Map<string, NetworkTensor>();
    const net = this.network;

    const constant = (init: Initializer, name: string): NetworkTensor | undefined => {
      const dtype = kilnDataType(init.elemType);
      if (!dtype) return undefined;
      return net.addConstant(init.dims, dtype, init.bytes(), name);
    };

    for (const init of g.initializers.values()) {
      const t = constant(init, init.name);
      if (!t)
        unsupported.push({
          name: init.name,
          op: 'initializer',
          reason: `element type ${init.elemType} is not supported`,
        });
      else tensors.set(init.name, t);
    }
    for (const v of g.inputs) {
      if (tensors.has(v.name)) continue; // an initializer listed as an input (old exporters)
      const dtype = kilnDataType(v.elemType);
      if (!dtype) {
        unsupported.push({
          name: v.name,
          op: 'input',
          reason: `element type ${v.elemType} is not supported`,
        });
        continue;
      }
      const shape = (v.shape ?? []).map((d) => (typeof d === 'number' ? d : -1));
      tensors.set(v.name, net.addInput(v.name, dtype, shape));
    }

    for (const node of g.nodes) {
      const label = node.name || node.outputs[0] || node.opType;
      if (node.opType === 'Constant' && (node.domain === '' || node.domain === 'ai.onnx')) {
        const t = this.constantNode(node);
        if (t) tensors.set(node.outputs[0]!, t);
        else
          unsupported.push({
            name: label,
            op: 'Constant',
            reason: 'unsupported value attribute or element type',
          });
        continue;
      }
      const reason = this.unsupportedReason(node, supported);
      if (reason) {
        unsupported.push({ name: label, op: node.opType, reason });
        // Placeholders let parsing go on, so that every unsupported node is reported at once.
        for (const name of node.outputs) tensors.set(name, new NetworkTensor(name, 'float32', []));
        continue;
      }
      const inputs = node.inputs.map((name) => {
        if (name === '') return null;
        const t = tensors.get(name);
        if (!t)
          throw new KilnError(
            'INVALID_MODEL',
            `${model.source}: node '${label}' reads '${name}', which nothing produces`,
          );
        return t;
      });
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
        attrs.set('opset', { kind: 'i', value: opset });
      while (node.outputs.length > 0 && node.outputs[node.outputs.length - 1] === '')
        node.outputs.pop();
      const outputs = node.outputs.map((name) => {
        const info = g.value(name);
        const t = new NetworkTensor(
          net.uniqueName(name),
          kilnDataType(info?.elemType) ?? 'float32',
          [],
        );
        tensors.set(name, t);
        return t;
      });
      net.layers.push(
        new Layer(
          net.uniqueLayerName(node.name || `${node.opType}_${net.layers.length}`),
          node.opType,
          inputs,
          outputs,
          attrs,
        ),
      );
    }
    if (unsupported.length > 0) {
      const list = unsupported.map((u) => `  ${u.name} (${u.op}): ${u.reason}`).join('\n');
      throw new KilnError(
        'UNSUPPORTED',
        `${model.source}: ${unsupported.length} node(s) cannot be built:\n${list}`,
      );
    }
    for (const v of g.outputs) {
      const t = tensors.get(v.name);
      if (!t)
        throw new KilnError(
          'INVALID_MODEL',
          `${model.source}: graph output '${v.name}' is never produced`,
        );
      net.markOutput(t);
    }
    getLogger().log('info', `OnnxParser: ${g.nodes.length} nodes -> ${net.layers.length} layers`);
  }

  private unsupportedReason(node: Node, supported: Set<string>): string | undefined {
    if (node.domain !== '' && node.domain !== 'ai.onnx')
      return `domain '${node.domain}' is not supported`;
    if (!supported.has(node.opType)) return 'the native core has no implementation of this op yet';
    for (const a of node.attributes.values()) {
      if (a.type === AttrType.TENSOR && node.opType === 'ConstantOfShape') {
        if (!kilnDataType(a.tensor?.elemType)) return `its value has an unsupported element type`;
        continue;
      }
      if (a.type === AttrType.GRAPH || a.type === AttrType.GRAPHS)
        return `attribute '${a.name}' holds a subgraph, not supported yet`;
      if (
        a.type === AttrType.TENSOR ||
        a.type === AttrType.STRINGS ||
        a.type === AttrType.TENSORS
      ) {
        return `attribute '${a.name}' has a type the core does not take yet`;
      }
    }
    return undefined;
  }

  private constantNode(node: Node): NetworkTensor | undefined {
    const out = node.outputs[0]!;
    const tensor = node.tensor('value');
    if (tensor) {
      const dtype = kilnDataType(tensor.elemType);
      return dtype ? this.network.addConstant(tensor.dims, dtype, tensor.bytes(), out) : undefined;
    }
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
