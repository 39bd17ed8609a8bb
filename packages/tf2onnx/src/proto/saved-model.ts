import { decodeGraphDef, decodeShape, type TfGraph } from './graph';
import { ProtoReader } from './wire';

// SavedModel messages (tensorflow/core/protobuf), field numbers:
//   SavedModel: saved_model_schema_version=1 meta_graphs=2
//   MetaGraphDef: meta_info_def=1 graph_def=2 saver_def=3 collection_def=4 signature_def=5 (map)
//     asset_file_def=6 object_graph_def=7 · MetaInfoDef: tags=4
//   SignatureDef: inputs=1 (map) outputs=2 (map) method_name=3 · TensorInfo: name=1 dtype=2 tensor_shape=3
//   SavedObjectGraph: nodes=1 concrete_functions=2 (map) · SavedConcreteFunction: bound_inputs=2
//   SavedObject: children=1 variable=7 · SavedVariable: dtype=1 shape=2 name=6
//   TrackableObjectGraph: nodes=1 · TrackableObject: children=1 attributes=2
//     SerializedTensor: name=1 full_name=2 checkpoint_key=3

/** A signature's tensor. */
export interface TfTensorInfo {
  /** Graph tensor name, 'node:0'. */
  name: string;
  dtype: number;
  shape: number[] | null;
}

/** A SignatureDef. */
export interface TfSignature {
  inputs: Map<string, TfTensorInfo>;
  outputs: Map<string, TfTensorInfo>;
  methodName: string;
}

/** What the converter needs of a SavedObjectGraph. */
export interface TfObjectGraph {
  /** Per object: its SavedVariable name, when the object is a variable. */
  variables: (string | undefined)[];
  /** Concrete function name -> node ids of its captured inputs. */
  boundInputs: Map<string, number[]>;
}

/** A MetaGraphDef. */
export interface TfMetaGraph {
  tags: string[];
  graph: TfGraph;
  signatures: Map<string, TfSignature>;
  objectGraph: TfObjectGraph | undefined;
}

/** Decodes saved_model.pb. */
export function decodeSavedModel(bytes: Uint8Array, where: string): TfMetaGraph[] {
  const r = new ProtoReader(bytes, where);
  const out: TfMetaGraph[] = [];
  for (let f = r.next(); f; f = r.next())
    if (f.no === 2) out.push(decodeMetaGraph(r.sub(f, 'SavedModel.meta_graphs')));
  return out;
}

function decodeMetaGraph(r: ProtoReader): TfMetaGraph {
  const m: TfMetaGraph = {
    tags: [],
    graph: { nodes: [], functions: new Map() },
    signatures: new Map(),
    objectGraph: undefined,
  };
  for (let f = r.next(); f; f = r.next()) {
    if (f.no === 1) {
      const info = r.sub(f, 'MetaGraphDef.meta_info_def');
      for (let i = info.next(); i; i = info.next())
        if (i.no === 4) m.tags.push(info.string(i, 'MetaInfoDef.tags'));
    } else if (f.no === 2) m.graph = decodeGraphDef(r.bytes, r.where, f.start, f.end);
    else if (f.no === 5) {
      const e = r.sub(f, 'MetaGraphDef.signature_def');
      let key = '';
      let sig: TfSignature = { inputs: new Map(), outputs: new Map(), methodName: '' };
      for (let ef = e.next(); ef; ef = e.next()) {
        if (ef.no === 1) key = e.string(ef, 'signature key');
        else if (ef.no === 2) sig = decodeSignature(e.sub(ef, 'SignatureDef'));
      }
      m.signatures.set(key, sig);
    } else if (f.no === 7)
      m.objectGraph = decodeObjectGraph(r.sub(f, 'MetaGraphDef.object_graph_def'));
  }
  return m;
}

function decodeSignature(r: ProtoReader): TfSignature {
  const s: TfSignature = { inputs: new Map(), outputs: new Map(), methodName: '' };
  for (let f = r.next(); f; f = r.next()) {
    if (f.no === 1 || f.no === 2) {
      const e = r.sub(f, 'SignatureDef map');
      let key = '';
      const info: TfTensorInfo = { name: '', dtype: 0, shape: null };
      for (let ef = e.next(); ef; ef = e.next()) {
        if (ef.no === 1) key = e.string(ef, 'TensorInfo key');
        else if (ef.no === 2) {
          const t = e.sub(ef, 'TensorInfo');
          for (let tf = t.next(); tf; tf = t.next()) {
            if (tf.no === 1) info.name = t.string(tf, 'TensorInfo.name');
            else if (tf.no === 2) info.dtype = t.int(tf, 'TensorInfo.dtype');
            else if (tf.no === 3) info.shape = decodeShape(t.sub(tf, 'TensorInfo.tensor_shape'));
          }
        }
      }
      (f.no === 1 ? s.inputs : s.outputs).set(key, info);
    } else if (f.no === 3) s.methodName = r.string(f, 'SignatureDef.method_name');
  }
  return s;
}

function decodeObjectGraph(r: ProtoReader): TfObjectGraph {
  const g: TfObjectGraph = { variables: [], boundInputs: new Map() };
  for (let f = r.next(); f; f = r.next()) {
    if (f.no === 1) {
      const o = r.sub(f, 'SavedObjectGraph.nodes');
      let variable: string | undefined;
      for (let of = o.next(); of; of = o.next()) {
        if (of.no === 7) {
          const v = o.sub(of, 'SavedObject.variable');
          variable = '';
          for (let vf = v.next(); vf; vf = v.next())
            if (vf.no === 6) variable = v.string(vf, 'SavedVariable.name');
        }
      }
      g.variables.push(variable);
    } else if (f.no === 2) {
      const e = r.sub(f, 'SavedObjectGraph.concrete_functions');
      let key = '';
      const bound: number[] = [];
      for (let ef = e.next(); ef; ef = e.next()) {
        if (ef.no === 1) key = e.string(ef, 'concrete function key');
        else if (ef.no === 2) {
          const c = e.sub(ef, 'SavedConcreteFunction');
          for (let cf = c.next(); cf; cf = c.next())
            if (cf.no === 2) c.packedInts(cf, bound, 'bound_inputs');
        }
      }
      g.boundInputs.set(key, bound);
    }
  }
  return g;
}

/** Decodes a TrackableObjectGraph: per node, its attribute name -> checkpoint key. */
export function decodeTrackableObjectGraph(
  bytes: Uint8Array,
  where: string,
): Map<string, string>[] {
  const r = new ProtoReader(bytes, where);
  const out: Map<string, string>[] = [];
  for (let f = r.next(); f; f = r.next()) {
    if (f.no !== 1) continue;
    const o = r.sub(f, 'TrackableObjectGraph.nodes');
    const attrs = new Map<string, string>();
    for (let of = o.next(); of; of = o.next()) {
      if (of.no !== 2) continue;
      const a = o.sub(of, 'TrackableObject.attributes');
      let name = '';
      let key = '';
      for (let af = a.next(); af; af = a.next()) {
        if (af.no === 1) name = a.string(af, 'SerializedTensor.name');
        else if (af.no === 3) key = a.string(af, 'SerializedTensor.checkpoint_key');
      }
      attrs.set(name, key);
    }
    out.push(attrs);
  }
  return out;
}
