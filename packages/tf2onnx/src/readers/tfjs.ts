import { dirname } from 'node:path';
import { float16ToFloat32, KilnError } from '@kiln/core';
import { tfDTypeFromName, TfDType } from '../proto/dtype';
import {
  emptyList,
  type TfAttr,
  type TfFunction,
  type TfNode,
  type TfTensor,
} from '../proto/graph';
import { inlineFunctions } from './inline';
import { readFile, readInside } from './safe-path';
import type { GraphSpec, IoTensor } from './spec';

// TF.js graph models: model.json holds the GraphDef as protobuf JSON (attr values in JSON
// mapping: s base64, i as decimal strings, type as 'DT_*' names) and a weights manifest; the
// weights are the Const nodes' values, concatenated in manifest order across each group's
// shard files. Quantized weights store q with value = q * scale + min (uint8/uint16) or IEEE half.

/** Reads model.json and its weight shards. */
export function readTfjs(modelJsonPath: string): GraphSpec {
  const where = modelJsonPath;
  const text = new TextDecoder().decode(readFile(modelJsonPath, 'TF.js model.json'));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new KilnError('INVALID_MODEL', `${where}: not valid JSON (${(e as Error).message})`);
  }
  const m = obj(json, `${where}`);
  const topology = obj(m.modelTopology, `${where}: modelTopology`);
  const dir = dirname(modelJsonPath);
  const weights = readWeights(dir, m.weightsManifest, where);
  const nodes = arr(topology.node, `${where}: modelTopology.node`).map((n, i) =>
    jsonNode(n, `${where}: node ${i}`),
  );
  for (const n of nodes) {
    if (n.op !== 'Const') continue;
    const w = weights.get(n.name);
    if (w !== undefined) n.attr.value = { tensor: w };
    else if (n.attr.value?.tensor === undefined)
      throw new KilnError(
        'INVALID_MODEL',
        `${where}: Const '${n.name}' has no weight in the manifest`,
      );
  }
  const functions = new Map<string, TfFunction>();
  const lib =
    topology.library === undefined ? undefined : obj(topology.library, `${where}: library`);
  for (const [i, f] of (lib?.function === undefined
    ? []
    : arr(lib.function, `${where}: library.function`)
  ).entries()) {
    const fn = jsonFunction(f, `${where}: library.function[${i}]`);
    functions.set(fn.name, fn);
  }
  const flat = functions.size > 0 ? inlineFunctions({ nodes, functions }).nodes : nodes;
  const sig = m.signature === undefined ? undefined : obj(m.signature, `${where}: signature`);
  return {
    graph: { nodes: flat, functions: new Map() },
    inputs: sigTensors(sig?.inputs, where),
    outputs: sigTensors(sig?.outputs, where),
    source: where,
  };
}

function sigTensors(v: unknown, where: string): IoTensor[] | undefined {
  if (v === undefined) return undefined;
  const entries = Object.entries(obj(v, `${where}: signature`));
  if (entries.length === 0) return undefined;
  return entries.map(([key, t]) => {
    const info = obj(t, `${where}: signature '${key}'`);
    const name = str(info.name, `${where}: signature '${key}'.name`);
    const ref = name.includes(':') ? name : `${name}:0`;
    const shape = info.tensorShape === undefined ? undefined : jsonShape(info.tensorShape, where);
    return {
      ref,
      name: name.replace(/:0$/, ''),
      dtype: info.dtype === undefined ? 0 : tfDTypeFromName(str(info.dtype, where), where),
      shape,
    };
  });
}

const QUANT_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };
const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  int64: 8,
  uint8: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  float16: 2,
};
const DTYPE_TF: Record<string, number> = {
  float32: TfDType.FLOAT,
  int32: TfDType.INT32,
  bool: TfDType.BOOL,
  int64: TfDType.INT64,
  uint8: TfDType.UINT8,
  int8: TfDType.INT8,
  int16: TfDType.INT16,
  uint16: TfDType.UINT16,
  float16: TfDType.HALF,
  string: TfDType.STRING,
};

function readWeights(dir: string, manifest: unknown, where: string): Map<string, TfTensor> {
  const out = new Map<string, TfTensor>();
  if (manifest === undefined) return out;
  for (const [gi, group] of arr(manifest, `${where}: weightsManifest`).entries()) {
    const g = obj(group, `${where}: weightsManifest[${gi}]`);
    const parts = arr(g.paths, `${where}: weightsManifest[${gi}].paths`).map((p) =>
      readInside(dir, str(p, `${where}: weight path`), `${where}: weight shard`),
    );
    const total = parts.reduce((n, p) => n + p.length, 0);
    const data = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
    }
    let offset = 0;
    for (const [wi, wv] of arr(g.weights, `${where}: weightsManifest[${gi}].weights`).entries()) {
      const wwhere = `${where}: weightsManifest[${gi}].weights[${wi}]`;
      const w = obj(wv, wwhere);
      const name = str(w.name, `${wwhere}.name`);
      const dtype = str(w.dtype, `${wwhere}.dtype`);
      const shape = arr(w.shape, `${wwhere}.shape`).map((d) => {
        if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
          throw new KilnError('INVALID_MODEL', `${wwhere}: bad dimension ${String(d)}`);
        return d;
      });
      const size = shape.reduce((a, b) => a * b, 1);
      const tfType = DTYPE_TF[dtype];
      if (tfType === undefined)
        throw new KilnError('UNSUPPORTED', `${wwhere}: weight dtype '${dtype}'`);
      if (dtype === 'string') {
        const strings: Uint8Array[] = [];
        for (let i = 0; i < size; i++) {
          if (offset + 4 > data.length) throw truncated(wwhere);
          const len = new DataView(data.buffer, offset, 4).getUint32(0, true);
          offset += 4;
          if (offset + len > data.length) throw truncated(wwhere);
          strings.push(data.subarray(offset, offset + len));
          offset += len;
        }
        out.set(name, { dtype: tfType, shape, data: new Uint8Array(0), strings });
        continue;
      }
      const q =
        w.quantization === undefined ? undefined : obj(w.quantization, `${wwhere}.quantization`);
      const qType = q === undefined ? undefined : str(q.dtype, `${wwhere}.quantization.dtype`);
      const width = qType === undefined ? DTYPE_BYTES[dtype]! : QUANT_BYTES[qType];
      if (width === undefined)
        throw new KilnError('UNSUPPORTED', `${wwhere}: quantization dtype '${qType}'`);
      const bytes = size * width;
      if (offset + bytes > data.length) throw truncated(wwhere);
      const raw = data.slice(offset, offset + bytes);
      offset += bytes;
      if (q === undefined) {
        out.set(name, { dtype: tfType, shape, data: raw });
        continue;
      }
      let values: Float32Array;
      if (qType === 'float16') values = float16ToFloat32(new Uint16Array(raw.buffer, 0, size));
      else {
        const scale = num(q.scale, `${wwhere}.quantization.scale`);
        const min = num(q.min, `${wwhere}.quantization.min`);
        const ints = qType === 'uint8' ? raw : new Uint16Array(raw.buffer, 0, size);
        values = new Float32Array(size);
        for (let i = 0; i < size; i++) values[i] = ints[i]! * scale + min;
      }
      if (tfType === TfDType.FLOAT)
        out.set(name, { dtype: tfType, shape, data: new Uint8Array(values.buffer) });
      else if (tfType === TfDType.INT32)
        out.set(name, {
          dtype: tfType,
          shape,
          data: new Uint8Array(Int32Array.from(values, (v) => Math.round(v)).buffer),
        });
      else throw new KilnError('UNSUPPORTED', `${wwhere}: quantized weights of dtype '${dtype}'`);
    }
  }
  return out;
}

function truncated(where: string): KilnError {
  return new KilnError(
    'INVALID_MODEL',
    `${where}: the weight shards end before this weight (truncated or mismatched files)`,
  );
}

function jsonNode(v: unknown, where: string): TfNode {
  const n = obj(v, where);
  const name = str(n.name, `${where}.name`);
  const op = str(n.op, `${where}.op ('${name}')`);
  const inputs =
    n.input === undefined
      ? []
      : arr(n.input, `${where}.input`).map((i) => str(i, `${where}.input`));
  const attr: Record<string, TfAttr> = {};
  if (n.attr !== undefined)
    for (const [k, a] of Object.entries(obj(n.attr, `${where}.attr`)))
      attr[k] = jsonAttr(a, `${where} ('${name}') attr '${k}'`);
  return { name, op, inputs, attr };
}

function jsonFunction(v: unknown, where: string): TfFunction {
  const f = obj(v, where);
  const sig = obj(f.signature, `${where}.signature`);
  const args = (x: unknown) =>
    (x === undefined ? [] : arr(x, where)).map((a) => {
      const o = obj(a, where);
      return { name: str(o.name, where), type: 0, typeAttr: '', numberAttr: '', typeListAttr: '' };
    });
  const ret: Record<string, string> = {};
  if (f.ret !== undefined)
    for (const [k, r] of Object.entries(obj(f.ret, where))) ret[k] = str(r, where);
  return {
    name: str(sig.name, `${where}.signature.name`),
    inputs: args(sig.inputArg),
    outputs: args(sig.outputArg),
    nodes: (f.nodeDef === undefined ? [] : arr(f.nodeDef, where)).map((n, i) =>
      jsonNode(n, `${where}.nodeDef[${i}]`),
    ),
    ret,
  };
}

function jsonShape(v: unknown, where: string): number[] | null {
  const s = obj(v, where);
  if (s.unknownRank === true) return null;
  return (s.dim === undefined ? [] : arr(s.dim, where)).map((d) => {
    const size = obj(d, where).size;
    return size === undefined ? 0 : int(size, where);
  });
}

function jsonAttr(v: unknown, where: string): TfAttr {
  const a = obj(v, where);
  const out: TfAttr = {};
  if (a.s !== undefined) out.s = Buffer.from(str(a.s, where), 'base64');
  if (a.i !== undefined) out.i = int(a.i, where);
  if (a.f !== undefined) out.f = num(a.f, where);
  if (a.b !== undefined) out.b = a.b === true;
  if (a.type !== undefined) out.type = tfDTypeFromName(a.type as string, where);
  if (a.shape !== undefined) out.shape = jsonShape(a.shape, where);
  if (a.tensor !== undefined) {
    const t = obj(a.tensor, where);
    const shape = t.tensorShape === undefined ? [] : jsonShape(t.tensorShape, where);
    if (shape !== null && shape.every((d) => d >= 0) && t.dtype !== undefined) {
      const dtype = tfDTypeFromName(t.dtype as string, where);
      const size = shape.reduce((x, y) => x * y, 1);
      // Only scalar/empty inline tensors carry values in JSON; weights come from the manifest.
      if (size === 0) out.tensor = { dtype, shape, data: new Uint8Array(0) };
    }
  }
  if (a.func !== undefined) {
    const f = obj(a.func, where);
    out.func = { name: str(f.name, where), attr: {} };
  }
  if (a.list !== undefined) {
    const l = obj(a.list, where);
    const list = emptyList();
    if (l.s !== undefined)
      list.s = arr(l.s, where).map((s) => Buffer.from(str(s, where), 'base64'));
    if (l.i !== undefined) list.i = arr(l.i, where).map((i) => int(i, where));
    if (l.f !== undefined) list.f = arr(l.f, where).map((f) => num(f, where));
    if (l.b !== undefined) list.b = arr(l.b, where).map((b) => b === true);
    if (l.type !== undefined)
      list.type = arr(l.type, where).map((t) => tfDTypeFromName(t as string, where));
    if (l.shape !== undefined) list.shape = arr(l.shape, where).map((s) => jsonShape(s, where));
    out.list = list;
  }
  return out;
}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new KilnError('INVALID_MODEL', `${where}: expected an object`);
  return v as Record<string, unknown>;
}

function arr(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new KilnError('INVALID_MODEL', `${where}: expected an array`);
  return v;
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new KilnError('INVALID_MODEL', `${where}: expected a string`);
  return v;
}

function num(v: unknown, where: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || Number.isNaN(n))
    throw new KilnError('INVALID_MODEL', `${where}: expected a number`);
  return n;
}

function int(v: unknown, where: string): number {
  const n = num(v, where);
  if (!Number.isSafeInteger(n))
    throw new KilnError('INVALID_MODEL', `${where}: expected an integer, got ${String(v)}`);
  return n;
}
