import type { TfGraph } from '../proto/graph';

/** A graph tensor that becomes an ONNX input or output. */
export interface IoTensor {
  /** Tensor reference in the TF graph, 'node:0'. */
  ref: string;
  /** ONNX name. */
  name: string;
  /** TF dtype when the source declares it (0 = unknown). */
  dtype?: number;
  /** Declared shape (-1 unknown dims), null/undefined when unknown. */
  shape?: number[] | null;
}

/** What every reader produces: a flat TF graph plus its interface. */
export interface GraphSpec {
  graph: TfGraph;
  /** Declared inputs; undefined: every Placeholder. */
  inputs: IoTensor[] | undefined;
  /** Declared outputs; undefined: every tensor no node reads. */
  outputs: IoTensor[] | undefined;
  /** Where it came from, for messages. */
  source: string;
}
