import { KilnError } from '@kiln/core';
import type { ModelProto } from '../io/proto-types';
import { Graph } from './graph';

/** A loaded ONNX model: the main graph plus every other ModelProto field, kept for saving. */
export class Model {
  /** The main graph. */
  graph: Graph;
  /** ModelProto fields besides the graph (ir_version, opset_import, producer, metadata_props, functions, unknown fields). */
  proto: Omit<ModelProto, 'graph'>;
  /** The file this was loaded from, for messages ('<bytes>' otherwise). */
  source: string;

  constructor(
    graph = new Graph(),
    proto?: Partial<Omit<ModelProto, 'graph'>>,
    source = '<memory>',
  ) {
    this.graph = graph;
    this.proto = { opsetImport: [], metadataProps: [], trainingInfo: [], functions: [], ...proto };
    this.source = source;
  }

  /** The opset version imported for `domain` ('' is the default ONNX domain), or undefined. */
  opset(domain = ''): number | undefined {
    const d = domain === 'ai.onnx' ? '' : domain;
    const entry = this.proto.opsetImport.find(
      (o) => (o.domain ?? '') === d || (d === '' && o.domain === 'ai.onnx'),
    );
    return entry?.version === undefined ? undefined : Number(entry.version);
  }

  /** Sets the opset version of `domain`. */
  setOpset(version: number, domain = ''): void {
    const entry = this.proto.opsetImport.find((o) => (o.domain ?? '') === domain);
    if (entry) entry.version = version;
    else this.proto.opsetImport.push({ domain, version });
  }

  /** metadata_props as a Map (a copy). */
  metadata(): Map<string, string> {
    return new Map(this.proto.metadataProps.map((e) => [e.key ?? '', e.value ?? '']));
  }

  /** The default-domain opset, or a KilnError when the model imports none. */
  requireOpset(): number {
    const v = this.opset('');
    if (v === undefined)
      throw new KilnError(
        'INVALID_MODEL',
        `${this.source}: the model imports no default-domain opset`,
      );
    return v;
  }
}
