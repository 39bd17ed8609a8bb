import { join } from 'node:path';
import { KilnError } from '@kiln/core';
import type { TfGraph, TfNode, TfTensor } from '../proto/graph';
import {
  decodeSavedModel,
  decodeTrackableObjectGraph,
  type TfMetaGraph,
  type TfSignature,
} from '../proto/saved-model';
import { inlineFunctions, parseRef } from './inline';
import { readFile, resolveInside } from './safe-path';
import { TensorBundle } from './tensor-bundle';
import type { GraphSpec } from './spec';

/** Options choosing what to read from a SavedModel. */
export interface SavedModelReadOptions {
  /** MetaGraph tags (default ['serve']). */
  tags?: string[];
  /** Signature key (default 'serving_default'). */
  signature?: string;
}

const OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH';
const VARIABLE_ATTR = 'VARIABLE_VALUE';

/**
 * Reads a SavedModel folder into a flat graph: picks the MetaGraph by tags and the signature,
 * inlines the function library and replaces resource variables by their checkpoint values.
 */
export function readSavedModel(dir: string, options: SavedModelReadOptions = {}): GraphSpec {
  const tags = options.tags ?? ['serve'];
  const sigKey = options.signature ?? 'serving_default';
  const pbPath = resolveInside(dir, 'saved_model.pb', 'SavedModel');
  const metas = decodeSavedModel(readFile(pbPath, 'SavedModel'), pbPath);
  const meta =
    metas.find((m) => tags.every((t) => m.tags.includes(t)) && m.tags.length === tags.length) ??
    metas.find((m) => tags.every((t) => m.tags.includes(t)));
  if (meta === undefined) {
    const have = metas.map((m) => `[${m.tags.join(', ')}]`).join(', ') || 'none';
    throw new KilnError(
      'NOT_FOUND',
      `${pbPath}: no MetaGraph has tags [${tags.join(', ')}]; it has ${have}`,
    );
  }
  const sig = meta.signatures.get(sigKey);
  if (sig === undefined) {
    const have =
      [...meta.signatures.keys()].filter((k) => !k.startsWith('__')).join(', ') || 'none';
    throw new KilnError('NOT_FOUND', `${pbPath}: no signature '${sigKey}'; signatures: ${have}`);
  }
  const graph = freezeVariables(dir, meta);
  const flat = inlineFunctions(graph);
  return {
    graph: { nodes: flat.nodes, functions: new Map() },
    inputs: signatureTensors(sig, 'inputs', flat.resolve),
    outputs: signatureTensors(sig, 'outputs', flat.resolve),
    source: dir,
  };
}

function signatureTensors(
  sig: TfSignature,
  which: 'inputs' | 'outputs',
  resolve: (r: string) => string,
): GraphSpec['inputs'] {
  // Sorted by key so the ONNX interface does not depend on map order in the file.
  return [...sig[which]]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, info]) => ({
      ref: resolve(info.name),
      name: key,
      dtype: info.dtype,
      shape: info.shape,
    }));
}

/** Turns every VarHandleOp of the main graph into a Const holding its checkpoint value. */
function freezeVariables(dir: string, meta: TfMetaGraph): TfGraph {
  const handles = meta.graph.nodes.filter((n) => n.op === 'VarHandleOp');
  if (handles.length === 0) return meta.graph;
  let bundle: TensorBundle;
  try {
    bundle = new TensorBundle(dir, join('variables', 'variables'));
  } catch (e) {
    if (e instanceof KilnError && e.code === 'NOT_FOUND') {
      throw new KilnError(
        'NOT_FOUND',
        `${dir}: the graph reads ${handles.length} variables but variables/variables.index is missing`,
      );
    }
    throw e;
  }
  const keys = variableKeys(bundle, meta);
  const values = new Map<string, TfTensor>();
  for (const h of handles) {
    const key = keys.get(h.name) ?? sharedNameKey(bundle, h);
    if (key === undefined) continue; // unused handles (saver plumbing) may stay unresolved
    values.set(h.name, bundle.tensor(key));
  }
  const nodes = meta.graph.nodes.map((n): TfNode => {
    const v = values.get(n.name);
    if (n.op === 'VarHandleOp' && v !== undefined)
      return {
        name: n.name,
        op: 'Const',
        inputs: [],
        attr: { value: { tensor: v }, dtype: { type: v.dtype } },
      };
    return n;
  });
  return { nodes, functions: meta.graph.functions };
}

// Which checkpoint key holds each VarHandleOp: a call's captured inputs line up with its
// concrete function's bound_inputs (object ids), and the checkpoint's own object graph gives each
// object's VARIABLE_VALUE key (the two graphs number objects the same way).
function variableKeys(bundle: TensorBundle, meta: TfMetaGraph): Map<string, string> {
  const out = new Map<string, string>();
  const og = meta.objectGraph;
  if (og === undefined || !bundle.entries.has(OBJECT_GRAPH_KEY)) return out;
  const graphBytes = bundle.tensor(OBJECT_GRAPH_KEY).strings?.[0];
  if (graphBytes === undefined) return out;
  const trackable = decodeTrackableObjectGraph(graphBytes, `checkpoint ${OBJECT_GRAPH_KEY}`);
  const byName = new Map(meta.graph.nodes.map((n) => [n.name, n]));
  for (const n of meta.graph.nodes) {
    const fname = n.attr.f?.func?.name;
    if (fname === undefined) continue;
    const bound = og.boundInputs.get(fname);
    if (bound === undefined || bound.length === 0) continue;
    const data = n.inputs.filter((i) => !i.startsWith('^'));
    const captured = data.slice(data.length - bound.length);
    captured.forEach((ref, j) => {
      const h = byName.get(parseRef(ref).node);
      const key = trackable[bound[j]!]?.get(VARIABLE_ATTR);
      if (h?.op === 'VarHandleOp' && key !== undefined) out.set(h.name, key);
    });
  }
  return out;
}

// TF1-style checkpoints key variables by their names.
function sharedNameKey(bundle: TensorBundle, h: TfNode): string | undefined {
  const s = h.attr.shared_name?.s;
  const name = s && s.length > 0 ? new TextDecoder().decode(s) : h.name;
  return bundle.entries.has(name) ? name : undefined;
}
