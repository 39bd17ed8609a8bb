import { KilnError } from '@kiln/core';
import { tfDTypeSize, TfDType } from './dtype';
import { ProtoReader } from './wire';

// TensorFlow's graph messages, decoded by hand. Field numbers, from tensorflow/core/framework:
//   GraphDef: node=1 library=2 versions=4 · NodeDef: name=1 op=2 input=3 device=4 attr=5 (map)
//   AttrValue: list=1 s=2 i=3 f=4 b=5 type=6 shape=7 tensor=8 placeholder=9 func=10
//   AttrValue.ListValue: s=2 i=3 f=4 b=5 type=6 shape=7 tensor=8 func=9 · NameAttrList: name=1 attr=2
//   TensorShapeProto: dim=2 (Dim: size=1 name=2) unknown_rank=3
//   TensorProto: dtype=1 tensor_shape=2 version_number=3 tensor_content=4 float_val=5 double_val=6
//     int_val=7 string_val=8 scomplex_val=9 int64_val=10 bool_val=11 dcomplex_val=12 half_val=13
//     uint32_val=16 uint64_val=17
//   FunctionDefLibrary: function=1 · FunctionDef: signature=1 node_def=3 ret=4 (map) attr=5
//   OpDef: name=1 input_arg=2 output_arg=3 · OpDef.ArgDef: name=1 type=3 type_attr=4 number_attr=5
//   map<K,V> entries: key=1 value=2

/** A constant tensor: little-endian element bytes (string tensors keep `strings`). */
export interface TfTensor {
  /** TF DataType. */
  dtype: number;
  /** Static dims. */
  shape: number[];
  /** Element bytes, little-endian, row-major. */
  data: Uint8Array;
  /** Elements of a DT_STRING tensor. */
  strings?: Uint8Array[];
}

/** A NodeDef attribute value (one of the fields is set). */
export interface TfAttr {
  s?: Uint8Array;
  i?: number;
  f?: number;
  b?: boolean;
  type?: number;
  /** Dims (-1 unknown); null for unknown rank. */
  shape?: number[] | null;
  tensor?: TfTensor;
  func?: { name: string; attr: Record<string, TfAttr> };
  placeholder?: string;
  list?: {
    s: Uint8Array[];
    i: number[];
    f: number[];
    b: boolean[];
    type: number[];
    shape: (number[] | null)[];
    tensor: TfTensor[];
    func: { name: string; attr: Record<string, TfAttr> }[];
  };
}

/** A graph node: inputs are 'node', 'node:1' or '^node' (control), as NodeDef writes them. */
export interface TfNode {
  name: string;
  op: string;
  inputs: string[];
  attr: Record<string, TfAttr>;
}

/** An argument of a function signature. */
export interface TfArgDef {
  name: string;
  type: number;
  typeAttr: string;
  numberAttr: string;
  typeListAttr: string;
}

/** A FunctionDef: its signature, body and return mapping. */
export interface TfFunction {
  name: string;
  inputs: TfArgDef[];
  outputs: TfArgDef[];
  nodes: TfNode[];
  /** Output arg name -> 'node:out_arg:index' or an input arg name. */
  ret: Record<string, string>;
}

/** A GraphDef with its function library. */
export interface TfGraph {
  nodes: TfNode[];
  functions: Map<string, TfFunction>;
}

/** An empty ListValue. */
export function emptyList(): NonNullable<TfAttr['list']> {
  return { s: [], i: [], f: [], b: [], type: [], shape: [], tensor: [], func: [] };
}

/** Decodes a GraphDef message. */
export function decodeGraphDef(
  bytes: Uint8Array,
  where: string,
  start = 0,
  end = bytes.length,
): TfGraph {
  const r = new ProtoReader(bytes, where, start, end);
  const g: TfGraph = { nodes: [], functions: new Map() };
  for (let f = r.next(); f; f = r.next()) {
    if (f.no === 1) g.nodes.push(decodeNodeDef(r.sub(f, 'GraphDef.node')));
    else if (f.no === 2) {
      const lib = r.sub(f, 'GraphDef.library');
      for (let lf = lib.next(); lf; lf = lib.next()) {
        if (lf.no === 1) {
          const fn = decodeFunctionDef(lib.sub(lf, 'FunctionDefLibrary.function'));
          g.functions.set(fn.name, fn);
        }
      }
    }
  }
  return g;
}

/** Decodes a NodeDef. */
export function decodeNodeDef(r: ProtoReader): TfNode {
  const n: TfNode = { name: '', op: '', inputs: [], attr: {} };
  for (let f = r.next(); f; f = r.next()) {
    if (f.no === 1) n.name = r.string(f, 'NodeDef.name');
    else if (f.no === 2) n.op = r.string(f, 'NodeDef.op');
    else if (f.no === 3) n.inputs.push(r.string(f, 'NodeDef.input'));
    else if (f.no === 5) decodeAttrEntry(r.sub(f, 'NodeDef.attr'), n.attr);
  }
  if (n.op === '') throw r.fail(`node '${n.name}' has no op`);
  return n;
}

function decodeAttrEntry(r: ProtoReader, into: Record<string, TfAttr>): void {
  let key = '';
  let value: TfAttr = {};
  for (let f = r.next(); f; f = r.next()) {
    if (f.no === 1) key = r.string(f, 'attr key');
    else if (f.no === 2) value = decodeAttrValue(r.sub(f, `attr '${key}'`));
  }
  into[key] = value;
}

function decodeAttrValue(r: ProtoReader): TfAttr {
  const a: TfAttr = {};
  for (let f = r.next(); f; f = r.next()) {
    switch (f.no) {
      case 1:
        a.list = decodeList(r.sub(f, 'AttrValue.list'));
        break;
      case 2:
        a.s = r.bytesOf(f, 'AttrValue.s');
        break;
      case 3:
        a.i = r.int(f, 'AttrValue.i');
        break;
      case 4:
        a.f = r.float(f, 'AttrValue.f');
        break;
      case 5:
        a.b = r.int(f, 'AttrValue.b') !== 0;
        break;
      case 6:
        a.type = r.int(f, 'AttrValue.type');
        break;
      case 7:
        a.shape = decodeShape(r.sub(f, 'AttrValue.shape'));
        break;
      case 8:
        a.tensor = decodeTensor(r.sub(f, 'AttrValue.tensor'));
        break;
      case 9:
        a.placeholder = r.string(f, 'AttrValue.placeholder');
        break;
      case 10:
        a.func = decodeNameAttrList(r.sub(f, 'AttrValue.func'));
        break;
    }
  }
  return a;
}

function decodeNameAttrList(r: ProtoReader): { name: string; attr: Record<string, TfAttr> } {
  const out = { name: '', attr: {} as Record<string, TfAttr> };
  for (let f = r.next(); f; f = r.next()) {
    if (f.no === 1) out.name = r.string(f, 'NameAttrList.name');
    else if (f.no === 2) decodeAttrEntry(r.sub(f, 'NameAttrList.attr'), out.attr);
  }
  return out;
}

function decodeList(r: ProtoReader): NonNullable<TfAttr['list']> {
  const l = emptyList();
  for (let f = r.next(); f; f = r.next()) {
    switch (f.no) {
      case 2:
        l.s.push(r.bytesOf(f, 'ListValue.s'));
        break;
      case 3:
        r.packedInts(f, l.i, 'ListValue.i');
        break;
      case 4:
        r.packedFloats(f, l.f, 'ListValue.f');
        break;
      case 5: {
        const b: number[] = [];
        r.packedInts(f, b, 'ListValue.b');
        l.b.push(...b.map((v) => v !== 0));
        break;
      }
      case 6:
        r.packedInts(f, l.type, 'ListValue.type');
        break;
      case 7:
        l.shape.push(decodeShape(r.sub(f, 'ListValue.shape')));
        break;
      case 8:
        l.tensor.push(decodeTensor(r.sub(f, 'ListValue.tensor')));
        break;
      case 9:
        l.func.push(decodeNameAttrList(r.sub(f, 'ListValue.func')));
        break;
    }
  }
  return l;
}

/** Decodes a TensorShapeProto: dims (-1 unknown) or null for unknown rank. */
export function decodeShape(r: ProtoReader): number[] | null {
  const dims: number[] = [];
  let unknownRank = false;
  for (let f = r.next(); f; f = r.next()) {
    if (f.no === 2) {
      const d = r.sub(f, 'TensorShapeProto.dim');
      let size = 0;
      for (let df = d.next(); df; df = d.next()) if (df.no === 1) size = d.int(df, 'Dim.size');
      if (size < -1) throw r.fail(`a dimension of size ${size}`);
      dims.push(size);
    } else if (f.no === 3) unknownRank = r.int(f, 'unknown_rank') !== 0;
  }
  return unknownRank ? null : dims;
}

/** Decodes a TensorProto into packed little-endian bytes. */
export function decodeTensor(r: ProtoReader): TfTensor {
  let dtype = 0;
  let shape: number[] | null = [];
  let content: Uint8Array | undefined;
  const ints: number[] = [];
  const floats: number[] = [];
  const bigs: bigint[] = [];
  const strings: Uint8Array[] = [];
  for (let f = r.next(); f; f = r.next()) {
    switch (f.no) {
      case 1:
        dtype = r.int(f, 'TensorProto.dtype');
        break;
      case 2:
        shape = decodeShape(r.sub(f, 'TensorProto.tensor_shape'));
        break;
      case 4:
        content = r.bytesOf(f, 'TensorProto.tensor_content');
        break;
      case 5:
        r.packedFloats(f, floats, 'float_val');
        break;
      case 6:
        r.packedDoubles(f, floats, 'double_val');
        break;
      case 7:
      case 11:
      case 13:
      case 16:
        r.packedInts(f, ints, 'int_val');
        break;
      case 10:
      case 17:
        if (f.wire === 0) bigs.push(f.big);
        else {
          const s = r.sub(f, 'int64_val');
          while (s.pos < s.end) bigs.push(s.varintBig());
        }
        break;
      case 8:
        strings.push(r.bytesOf(f, 'string_val'));
        break;
    }
  }
  if (shape === null || shape.some((d) => d < 0))
    throw r.fail('a constant tensor without a fully known shape');
  const size = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(size)) throw r.fail(`a tensor of ${size} elements`);
  if (dtype === TfDType.STRING) {
    const all =
      size > 0 && strings.length > 0
        ? Array.from({ length: size }, (_, i) => strings[Math.min(i, strings.length - 1)]!)
        : [];
    return { dtype, shape, data: new Uint8Array(0), strings: all };
  }
  const width = tfDTypeSize(dtype);
  if (width === undefined)
    throw new KilnError('UNSUPPORTED', `${r.where}: constant of TensorFlow dtype ${dtype}`);
  if (size * width > 2 ** 31) throw r.fail(`a tensor of ${size} elements is too large`);
  if (content !== undefined) {
    if (content.length !== size * width)
      throw r.fail(
        `tensor_content holds ${content.length} bytes for ${size} elements of ${width} bytes`,
      );
    return { dtype, shape, data: content, strings: undefined };
  }
  const out = new Uint8Array(size * width);
  const dv = new DataView(out.buffer);
  const isBig = dtype === TfDType.INT64 || dtype === TfDType.UINT64;
  const src: readonly (number | bigint)[] = isBig
    ? bigs
    : dtype === TfDType.FLOAT || dtype === TfDType.DOUBLE
      ? floats
      : ints;
  if (src.length > size) throw r.fail(`${src.length} values for a tensor of ${size} elements`);
  if (src.length > 0) {
    // TensorFlow repeats the last value to fill the shape.
    for (let i = 0; i < size; i++) writeElement(dv, dtype, i, src[Math.min(i, src.length - 1)]!);
  }
  return { dtype, shape, data: out };
}

function writeElement(dv: DataView, dtype: number, i: number, v: number | bigint): void {
  switch (dtype) {
    case TfDType.FLOAT:
      dv.setFloat32(i * 4, Number(v), true);
      break;
    case TfDType.DOUBLE:
      dv.setFloat64(i * 8, Number(v), true);
      break;
    case TfDType.INT32:
    case TfDType.UINT32:
      dv.setInt32(i * 4, Number(v), true);
      break;
    case TfDType.INT64:
    case TfDType.UINT64:
      dv.setBigInt64(i * 8, BigInt.asIntN(64, BigInt(v)), true);
      break;
    case TfDType.INT16:
    case TfDType.UINT16:
    case TfDType.HALF:
    case TfDType.BFLOAT16:
      dv.setUint16(i * 2, Number(v) & 0xffff, true);
      break;
    default:
      dv.setUint8(i, Number(v) & 0xff);
  }
}

/** Decodes a FunctionDef. */
export function decodeFunctionDef(r: ProtoReader): TfFunction {
  const fn: TfFunction = { name: '', inputs: [], outputs: [], nodes: [], ret: {} };
  for (let f = r.next(); f; f = r.next()) {
    if (f.no === 1) {
      const s = r.sub(f, 'FunctionDef.signature');
      for (let sf = s.next(); sf; sf = s.next()) {
        if (sf.no === 1) fn.name = s.string(sf, 'OpDef.name');
        else if (sf.no === 2) fn.inputs.push(decodeArgDef(s.sub(sf, 'OpDef.input_arg')));
        else if (sf.no === 3) fn.outputs.push(decodeArgDef(s.sub(sf, 'OpDef.output_arg')));
      }
    } else if (f.no === 3) fn.nodes.push(decodeNodeDef(r.sub(f, 'FunctionDef.node_def')));
    else if (f.no === 4) {
      const e = r.sub(f, 'FunctionDef.ret');
      let k = '';
      let v = '';
      for (let ef = e.next(); ef; ef = e.next()) {
        if (ef.no === 1) k = e.string(ef, 'ret key');
        else if (ef.no === 2) v = e.string(ef, 'ret value');
      }
      fn.ret[k] = v;
    }
  }
  return fn;
}

function decodeArgDef(r: ProtoReader): TfArgDef {
  const a: TfArgDef = { name: '', type: 0, typeAttr: '', numberAttr: '', typeListAttr: '' };
  for (let f = r.next(); f; f = r.next()) {
    if (f.no === 1) a.name = r.string(f, 'ArgDef.name');
    else if (f.no === 3) a.type = r.int(f, 'ArgDef.type');
    else if (f.no === 4) a.typeAttr = r.string(f, 'ArgDef.type_attr');
    else if (f.no === 5) a.numberAttr = r.string(f, 'ArgDef.number_attr');
    else if (f.no === 6) a.typeListAttr = r.string(f, 'ArgDef.type_list_attr');
  }
  return a;
}
