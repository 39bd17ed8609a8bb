import { KilnError, Tensor, dataTypeCode, getLogger, invalidParameterError } from '@kiln/core';
import { type Model, loadModel, serializeModel } from '@kiln/onnx';
import { EngineCache, type EngineCacheOptions } from '@kiln/runtime';

import { type EngineBuilderOptions, engineBuilderFor } from '../engine-builder';
import { type FallbackExecutor, onnxruntimeFallback } from './fallback';
import { type PartitionOptions, type Segment, partitionModel } from './segments';

/** Options of PartitionedModel.create. */
export interface PartitionedModelOptions extends Omit<PartitionOptions, 'fallback'> {
  /** What runs the nodes kiln does not build: onnxruntime-node when installed (default), or false for none. */
  fallback?: FallbackExecutor | false;
  /** How the engines of kiln segments are built. */
  build?: EngineBuilderOptions;
  /** The engine caches of kiln segments whose input shapes vary. */
  cache?: Pick<EngineCacheOptions, 'maximumCachedEngines' | 'cacheDir'>;
}

/** A segment as PartitionedModel lists it (Segment without its model). */
export type SegmentInfo = Omit<Segment, 'model'>;

interface Runner {
  inputs: string[];
  outputs: string[];
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
}

/**
 * A model kiln runs in part, like a TF-TRT converted graph: supported segments run as kiln
 * engines (an EngineCache each, so varying shapes build on demand), the rest in a fallback
 * executor; `infer` runs them in order and behaves as the whole model.
 */
export class PartitionedModel {
  /** The segments in execution order. */
  readonly segments: readonly SegmentInfo[];
  /** The model's input names. */
  readonly inputNames: readonly string[];
  /** The model's output names. */
  readonly outputNames: readonly string[];
  readonly #runners: Runner[];
  readonly #constants: Map<string, Tensor>;

  private constructor(
    segments: SegmentInfo[],
    model: Model,
    runners: Runner[],
    constants: Map<string, Tensor>,
  ) {
    this.segments = Object.freeze(segments);
    const g = model.graph;
    this.inputNames = g.inputs.map((v) => v.name).filter((n) => !g.initializers.has(n));
    this.outputNames = g.outputs.map((v) => v.name);
    this.#runners = runners;
    this.#constants = constants;
  }

  /**
   * Partitions `model` (a path, .onnx bytes or a @kiln/onnx Model, which is changed), prepares
   * every segment (engines of fixed-shape segments are built now), and logs the segments at
   * 'info'. With no fallback, a model with unsupported nodes fails listing them.
   */
  static async create(
    model: string | Uint8Array | Model,
    options: PartitionedModelOptions = {},
  ): Promise<PartitionedModel> {
    if (options === null || typeof options !== 'object')
      throw invalidParameterError('options', 'a PartitionedModelOptions object', options);
    const given = options.fallback;
    if (given !== undefined && given !== false && typeof given?.load !== 'function')
      throw invalidParameterError('fallback', 'a FallbackExecutor or false', given);
    const fallback = given === false ? undefined : (given ?? (await onnxruntimeFallback()));
    const source =
      typeof model === 'string' || model instanceof Uint8Array ? loadModel(model) : model;
    const segments = partitionModel(source, { ...options, fallback: fallback !== undefined });
    logSegments(source.source, segments, fallback);
    const runners: Runner[] = [];
    for (const [index, segment] of segments.entries()) {
      const prepare = async (model: Model): Promise<Runner['run']> => {
        const bytes = serializeModel(model);
        if (segment.kind === 'kiln') return kilnRunner(bytes, options);
        const session = await fallback!.load(bytes);
        return (feeds) => session.run(feeds);
      };
      const run = untypedInputs(segment.model).length
        ? preparedAtFirstCall(index, segment.model, prepare)
        : await prepare(segment.model);
      runners.push({ inputs: segment.inputs, outputs: segment.outputs, run });
    }
    // A model output may be a constant outright; no segment produces it.
    const constants = new Map<string, Tensor>();
    for (const v of source.graph.outputs) {
      const init = source.graph.initializers.get(v.name);
      if (init) constants.set(v.name, init.tensor());
    }
    const infos = segments.map(({ model: _, ...info }) => info);
    return new PartitionedModel(infos, source, runners, constants);
  }

  /** Runs the whole model on host tensors: each segment in turn, kiln's or the fallback's. */
  async infer(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (feeds === null || typeof feeds !== 'object')
      throw invalidParameterError('feeds', 'an object of Tensors by input name', feeds);
    const values = new Map<string, Tensor>(this.#constants);
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!(t instanceof Tensor))
        throw new KilnError('INVALID_ARGUMENT', `input '${name}' needs a Tensor`);
      values.set(name, t);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.inputNames.includes(name)) {
        throw new KilnError(
          'NOT_FOUND',
          `'${name}' is not an input; the inputs are ${this.inputNames.map((n) => `'${n}'`).join(', ')}`,
        );
      }
    }
    for (const runner of this.#runners) {
      const inputs = Object.fromEntries(runner.inputs.map((n) => [n, values.get(n)!]));
      const results = await runner.run(inputs);
      for (const name of runner.outputs) {
        const t = results[name];
        if (!t) throw new KilnError('INTERNAL', `a segment did not produce '${name}'`);
        values.set(name, t);
      }
    }
    return Object.fromEntries(this.outputNames.map((n) => [n, values.get(n)!]));
  }
}

// Inputs whose element type or shape shape inference could not tell: they follow an op kiln
// has no shape rule for (often the very op it cannot build).
const untypedInputs = (model: Model) =>
  model.graph.inputs.filter((v) => v.elemType === undefined || v.shape === undefined);

// A segment prepared at its first call, when the tensors reaching its untyped inputs give their
// types and ranks (every dim left free); later calls reuse it.
function preparedAtFirstCall(
  index: number,
  model: Model,
  prepare: (model: Model) => Promise<Runner['run']>,
): Runner['run'] {
  let ready: Promise<Runner['run']> | undefined;
  return (feeds) => {
    if (!ready) {
      const untyped = untypedInputs(model);
      for (const v of untyped) {
        const t = feeds[v.name]!;
        v.elemType = dataTypeCode(t.dtype);
        v.shape = t.shape.map((_, i) => `${v.name}_dim${i}`);
      }
      getLogger().log(
        'info',
        `partition: segment #${index} is prepared now: the types of ${untyped.map((v) => `'${v.name}'`).join(', ')} are known only at run time`,
      );
      ready = prepare(model);
    }
    return ready.then((run) => run(feeds));
  };
}

// An EngineCache over the segment; fixed-shape segments are built at once (TF-TRT's static mode).
async function kilnRunner(bytes: Uint8Array, options: PartitionedModelOptions) {
  const builder = engineBuilderFor(bytes, options.build);
  const fixed = builder.inputs.every((t) => t.shape.every((d) => d >= 0));
  const cache = new EngineCache({
    ...options.cache,
    ...builder,
    ...(fixed
      ? {
          mode: 'static' as const,
          staticShapes: [Object.fromEntries(builder.inputs.map((t) => [t.name, t.shape]))],
        }
      : {}),
  });
  await cache.warmUp();
  return (feeds: Record<string, Tensor>) => cache.infer(feeds);
}

// The build log: one line per segment, with its nodes by op and its boundary tensors.
function logSegments(
  source: string,
  segments: Segment[],
  fallback: FallbackExecutor | undefined,
): void {
  const kiln = segments.filter((s) => s.kind === 'kiln').length;
  const lines = [
    `partition of ${source}: ${segments.length} segment(s), ${kiln} kiln, ${segments.length - kiln} fallback${fallback ? ` (${fallback.name})` : ''}`,
  ];
  segments.forEach((s, i) => {
    const ops = new Map<string, number>();
    for (const n of s.nodes) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
    const counts = [...ops].map(([op, c]) => (c > 1 ? `${op} x${c}` : op)).join(', ');
    const why = [...new Set(s.nodes.flatMap((n) => (n.reason ? [`${n.name}: ${n.reason}`] : [])))];
    lines.push(
      `  #${i} ${s.kind}: ${s.nodes.length} node(s) (${counts}); in: ${s.inputs.join(', ')}; out: ${s.outputs.join(', ')}${why.length > 0 ? `; ${why.slice(0, 5).join('; ')}${why.length > 5 ? '; ...' : ''}` : ''}`,
    );
  });
  getLogger().log('info', lines.join('\n'));
}
