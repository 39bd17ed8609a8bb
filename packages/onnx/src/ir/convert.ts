import { KilnError } from '@kiln/core';
import { isExternal, resolveExternal } from '../io/external';
import type {
  AttributeProto,
  GraphProto,
  ModelProto,
  NodeProto,
  TensorProto,
} from '../io/proto-types';
import { type Attribute, AttrType } from './attribute';
import { Graph } from './graph';
import { Initializer } from './initializer';
import { Model } from './model';
import { Node } from './node';
import { Value } from './value';

// Converts between decoded protos and the IR. Every field the IR does not model is carried in a
// `proto` object on the IR object, so ModelProto -> IR -> ModelProto loses nothing.

/** Where the bytes came from: `file` for messages, `baseDir` for external data. */
export interface ConvertContext {
  file: string;
  baseDir: string | undefined;
}

/** Builds a Model from a decoded ModelProto. */
export function modelFromProto(p: ModelProto, ctx: ConvertContext): Model {
  if (p.graph === undefined)
    throw new KilnError('INVALID_MODEL', `${ctx.file}: ModelProto has no graph`);
  const { graph, ...rest } = p;
  return new Model(graphFromProto(graph, ctx, 'graph'), rest, ctx.file);
}

/** Builds a Graph from a GraphProto; `path` locates it in messages. */
export function graphFromProto(p: GraphProto, ctx: ConvertContext, path: string): Graph {
  const g = new Graph();
  const { node, initializer, input, output, valueInfo, sparseInitializer, name, ...rest } = p;
  g.name = name ?? '';
  g.proto = rest;
  const where = `${ctx.file}: ${path}${name ? ` '${name}'` : ''}`;
  g.inputs = input.map((v, i) => Value.fromProto(v, `${where} input[${i}]`));
  g.outputs = output.map((v, i) => Value.fromProto(v, `${where} output[${i}]`));
  for (let i = 0; i < valueInfo.length; i++) {
    const v = Value.fromProto(valueInfo[i]!, `${where} value_info[${i}]`);
    g.valueInfo.set(v.name, v);
  }
  for (let i = 0; i < initializer.length; i++) {
    const t = initializer[i]!;
    const init = tensorFromProto(
      t,
      ctx,
      `${where} initializer[${i}]${t.name ? ` '${t.name}'` : ''}`,
    );
    if (init.name === '')
      throw new KilnError(
        'INVALID_MODEL',
        `${where} initializer[${i}]: an initializer needs a name`,
      );
    g.initializers.set(init.name, init);
  }
  g.sparseInitializers = sparseInitializer;
  g.nodes = node.map((n, i) =>
    nodeFromProto(n, ctx, `${where} node[${i}]${n.name ? ` '${n.name}'` : ''}`),
  );
  return g;
}

/** Builds an Initializer, resolving (and checking) external data. */
export function tensorFromProto(t: TensorProto, ctx: ConvertContext, where: string): Initializer {
  const external = isExternal(t) ? resolveExternal(t, ctx.baseDir, where) : undefined;
  return new Initializer(t, where, external);
}

function nodeFromProto(p: NodeProto, ctx: ConvertContext, where: string): Node {
  // name and domain stay in `rest` too: an explicit empty domain must be written back as such.
  const { input, output, opType, attribute, ...rest } = p;
  const { name, domain } = p;
  if (opType === undefined || opType === '')
    throw new KilnError('INVALID_MODEL', `${where}: node has no op_type`);
  const attributes = attribute.map((a, i) =>
    attributeFromProto(
      a,
      ctx,
      `${where} (${opType}) attribute[${i}]${a.name ? ` '${a.name}'` : ''}`,
    ),
  );
  return new Node(
    { opType, name: name ?? '', domain: domain ?? '', inputs: input, outputs: output, attributes },
    rest,
  );
}

// Old exporters leave AttributeProto.type unset; the field that holds a value says the type.
function inferAttrType(a: AttributeProto): number {
  if (a.f !== undefined) return AttrType.FLOAT;
  if (a.i !== undefined) return AttrType.INT;
  if (a.s !== undefined) return AttrType.STRING;
  if (a.t !== undefined) return AttrType.TENSOR;
  if (a.g !== undefined) return AttrType.GRAPH;
  if (a.floats.length) return AttrType.FLOATS;
  if (a.ints.length) return AttrType.INTS;
  if (a.strings.length) return AttrType.STRINGS;
  if (a.tensors.length) return AttrType.TENSORS;
  if (a.graphs.length) return AttrType.GRAPHS;
  return 0;
}

function attributeFromProto(a: AttributeProto, ctx: ConvertContext, where: string): Attribute {
  if (a.name === undefined || a.name === '')
    throw new KilnError('INVALID_MODEL', `${where}: attribute without a name`);
  const type = a.type !== undefined && a.type !== 0 ? a.type : inferAttrType(a);
  const out: Attribute = { name: a.name, type, proto: a };
  if (type === AttrType.TENSOR) {
    if (a.t === undefined)
      throw new KilnError('INVALID_MODEL', `${where}: TENSOR attribute has no tensor (field t)`);
    out.tensor = tensorFromProto(a.t, ctx, `${where} t`);
  }
  if (type === AttrType.GRAPH) {
    if (a.g === undefined)
      throw new KilnError('INVALID_MODEL', `${where}: GRAPH attribute has no graph (field g)`);
    out.graph = graphFromProto(a.g, ctx, `${where} g`);
  }
  if (type === AttrType.GRAPHS)
    out.graphs = a.graphs.map((g, i) => graphFromProto(g, ctx, `${where} graphs[${i}]`));
  return out;
}

/** How initializers are written: inline, or through `external` (which returns the proto to write). */
export interface TensorWriter {
  (init: Initializer): TensorProto;
}

const inline: TensorWriter = (init) => init.toProto();

/** Converts a Model back to a ModelProto. */
export function modelToProto(m: Model, writeTensor: TensorWriter = inline): ModelProto {
  return { ...m.proto, graph: graphToProto(m.graph, writeTensor) };
}

/** Converts a Graph back to a GraphProto. */
export function graphToProto(g: Graph, writeTensor: TensorWriter = inline): GraphProto {
  return {
    quantizationAnnotation: [],
    metadataProps: [],
    ...g.proto,
    name: g.name,
    node: g.nodes.map((n) => nodeToProto(n, writeTensor)),
    initializer: [...g.initializers.values()].map((t) => writeTensor(t)),
    sparseInitializer: g.sparseInitializers,
    input: g.inputs.map((v) => v.toProto()),
    output: g.outputs.map((v) => v.toProto()),
    valueInfo: [...g.valueInfo.values()].map((v) => v.toProto()),
  };
}

function nodeToProto(n: Node, writeTensor: TensorWriter): NodeProto {
  const p: NodeProto = {
    metadataProps: [],
    ...n.proto,
    input: n.inputs,
    output: n.outputs,
    opType: n.opType,
    attribute: [...n.attributes.values()].map((a) => attributeToProto(a, writeTensor)),
  };
  if (n.name !== '' || n.proto.name !== undefined) p.name = n.name;
  else delete p.name;
  if (n.domain !== '' || n.proto.domain !== undefined) p.domain = n.domain;
  else delete p.domain;
  return p;
}

function attributeToProto(a: Attribute, writeTensor: TensorWriter): AttributeProto {
  const p: AttributeProto = { ...a.proto, name: a.name, type: a.type };
  // Constants stay inline: ONNX tools expect attribute tensors in the model file itself.
  if (a.tensor) p.t = a.tensor.toProto();
  if (a.graph) p.g = graphToProto(a.graph, writeTensor);
  if (a.graphs) p.graphs = a.graphs.map((g) => graphToProto(g, writeTensor));
  return p;
}
