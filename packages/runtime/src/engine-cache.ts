import { EventEmitter } from 'node:events';

import {
  type DataType,
  KilnError,
  Tensor,
  expectInteger,
  expectOneOf,
  features,
  getLogger,
  invalidParameterError,
  isKilnError,
} from '@kiln/core';

import { type Engine, Runtime } from './engine';
import { EngineStore, type InputRanges } from './engine-store';
import type { ExecutionContext } from './execution-context';

/**
 * Builds plan bytes for an engine whose inputs accept the given shape ranges. @kiln/builder's
 * engineBuilderFor(model, config) supplies one; any function returning plan bytes will do.
 */
export type BuildEngineFunction = (ranges: InputRanges) => Promise<Uint8Array>;

/** An input of the model an EngineCache builds from; -1 marks dims that vary between requests. */
export interface ModelInput {
  name: string;
  dtype: DataType;
  shape: readonly number[];
}

/** Concrete input shapes by input name. */
export type InputShapes = Record<string, readonly number[]>;

/** Options of EngineCache (TF-TRT's conversion parameters, in kiln's words). */
export interface EngineCacheOptions {
  /** Builds an engine for the input ranges of a new shape. */
  build: BuildEngineFunction;
  /** Identifies model + build config (engineBuilderFor gives a sha256 of both); cacheDir needs it. */
  key?: string;
  /** The model's inputs: requests are checked against them; cachedEngineBatches takes their fixed dims. */
  inputs?: readonly ModelInput[];
  /**
   * 'dynamic' (default, TF-TRT's is_dynamic_op): an engine is built at run time for each new shape.
   * 'static': only staticShapes are served; other shapes are refused unless allowRuntimeBuilds.
   */
  mode?: 'dynamic' | 'static';
  /** Shapes whose engines are built at start and never evicted (each also serves smaller batches). */
  staticShapes?: readonly InputShapes[];
  /** Static mode: build engines for other shapes at run time instead of refusing them. Default false. */
  allowRuntimeBuilds?: boolean;
  /** Run-time engines kept at most; the least recently used is evicted first. Default 5. */
  maximumCachedEngines?: number;
  /** Batch sizes whose engines are built at start (needs `inputs` whose other dims are fixed). */
  cachedEngineBatches?: readonly number[];
  /** A folder keeping built engines between processes, keyed by model, config and core version. */
  cacheDir?: string;
}

/** Emitted as 'buildStart' when an engine is about to be built: the call that waits will be slow. */
export interface EngineBuildEvent {
  /** The largest input shapes the engine will serve. */
  shapes: Record<string, number[]>;
  /** 'startup' for staticShapes and cachedEngineBatches, 'runtime' for a new shape during infer. */
  reason: 'startup' | 'runtime';
}

/** Emitted as 'engineReady' when an engine joins the cache, built or read from cacheDir. */
export interface EngineReadyEvent extends EngineBuildEvent {
  source: 'build' | 'disk';
  milliseconds: number;
}

/** Emitted as 'evict' when the least recently used engine leaves the cache. */
export interface EngineEvictEvent {
  shapes: Record<string, number[]>;
}

/** The events of an EngineCache. */
export interface EngineCacheEvents {
  buildStart: [EngineBuildEvent];
  engineReady: [EngineReadyEvent];
  evict: [EngineEvictEvent];
}

/** Counters of an EngineCache since it was created. */
export interface EngineCacheStats {
  /** Requests served by an engine already in the cache. */
  hits: number;
  /** Requests that found no ready engine (they waited for a build, a load, or a build in flight). */
  misses: number;
  /** Engines built (startup builds included). */
  builds: number;
  /** Engines read from cacheDir instead of built. */
  loads: number;
  evictions: number;
  /** Total time spent building, in milliseconds. */
  buildMilliseconds: number;
  /** Engines in the cache now. */
  engines: number;
}

/** An engine in the cache, as `cachedEngines` lists it. */
export interface CachedEngineInfo {
  /** The largest input shapes it serves. */
  shapes: Record<string, number[]>;
  /** True when it also serves any smaller batch with the other dims equal. */
  smallerBatches: boolean;
  /** True for a static engine, which is never evicted. */
  pinned: boolean;
}

// What a request needs: input ranges, and the signature (shapes without the batch) engines
// must share with it to serve it.
interface Request {
  signature: string;
  batch: number | undefined;
  ranges: InputRanges;
}

interface Entry extends Request {
  engine: Engine;
  idle: ExecutionContext[];
  pinned: boolean;
}

const requestKey = (r: Request) => `${r.signature}|${r.batch ?? ''}`;
const maxShapes = (ranges: InputRanges) =>
  Object.fromEntries(Object.entries(ranges).map(([name, r]) => [name, [...r.max]]));
const formatShapes = (ranges: InputRanges, batch: number | undefined) =>
  Object.entries(ranges)
    .map(([name, r]) => `${name} [${batch === undefined ? '' : '<='}${r.max.join('x')}]`)
    .join(', ');

/**
 * Engines built on demand per input shape, like TF-TRT's dynamic mode: an engine built for
 * batch B serves every batch <= B whose other dims are equal; a new shape builds a new engine
 * (the `buildStart` event says a call is about to be slow); at most `maximumCachedEngines` are
 * kept (least recently used evicted); concurrent requests for one new shape share one build;
 * `cacheDir` keeps engines across restarts. In static mode only shapes known ahead are served.
 */
export class EngineCache extends EventEmitter<EngineCacheEvents> {
  readonly #build: BuildEngineFunction;
  readonly #inputs: readonly ModelInput[] | undefined;
  readonly #runtimeBuilds: boolean;
  readonly #maximum: number;
  readonly #staticShapes: readonly InputShapes[];
  readonly #startupBatches: readonly number[];
  readonly #store: EngineStore | undefined;
  readonly #runtime = new Runtime();
  // Insertion order is recency order: a hit moves its engine to the end.
  readonly #engines = new Map<string, Entry>();
  readonly #pending = new Map<string, { request: Request; entry: Promise<Entry> }>();
  readonly #stats = { hits: 0, misses: 0, builds: 0, loads: 0, evictions: 0, buildMilliseconds: 0 };
  #warm: Promise<void> | undefined;

  /** Validates the options; engines are built by warmUp() or the first infer(). */
  constructor(options: EngineCacheOptions) {
    super();
    if (options === null || typeof options !== 'object')
      throw invalidParameterError('options', 'an EngineCacheOptions object', options);
    if (typeof options.build !== 'function')
      throw invalidParameterError(
        'build',
        'a function (ranges) => Promise<plan bytes>',
        options.build,
      );
    this.#build = options.build;
    this.#inputs = options.inputs === undefined ? undefined : checkInputs(options.inputs);
    const mode = expectOneOf('mode', options.mode ?? 'dynamic', ['dynamic', 'static'] as const);
    this.#runtimeBuilds = mode === 'dynamic' || options.allowRuntimeBuilds === true;
    this.#maximum = expectInteger('maximumCachedEngines', options.maximumCachedEngines ?? 5, 1);
    this.#staticShapes = [...(options.staticShapes ?? [])];
    if (mode === 'static' && this.#staticShapes.length === 0) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        "mode 'static' needs staticShapes: the shapes to build at start",
      );
    }
    if (mode === 'dynamic' && options.staticShapes !== undefined)
      throw new KilnError('INVALID_ARGUMENT', "staticShapes belong to mode 'static'");
    this.#staticShapes.forEach((shapes, i) => this.checkShapes(shapes, `staticShapes[${i}]`));
    const batches = options.cachedEngineBatches ?? [];
    if (!Array.isArray(batches))
      throw invalidParameterError('cachedEngineBatches', 'an array of batch sizes', batches);
    batches.forEach((b, i) => expectInteger(`cachedEngineBatches[${i}]`, b, 1));
    if (batches.length > this.#maximum) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `cachedEngineBatches has ${batches.length} batch sizes but maximumCachedEngines is ${this.#maximum}: raise the maximum`,
      );
    }
    if (batches.length > 0) this.batchTemplate(); // fails early when the inputs do not allow it
    this.#startupBatches = [...new Set(batches)];
    if (options.cacheDir !== undefined) {
      if (typeof options.cacheDir !== 'string' || !options.cacheDir)
        throw invalidParameterError('cacheDir', 'a folder path', options.cacheDir);
      if (typeof options.key !== 'string' || !options.key) {
        throw new KilnError(
          'INVALID_ARGUMENT',
          'cacheDir needs a key identifying the model and build config (engineBuilderFor from @kiln/builder gives one)',
        );
      }
      this.#store = new EngineStore(options.cacheDir, options.key, features().coreVersion);
    }
  }

  /** Counters: hits, misses, builds, loads from cacheDir, evictions, build time, engines held. */
  get stats(): EngineCacheStats {
    return { ...this.#stats, engines: this.#engines.size };
  }

  /** The engines held, least recently used first. */
  get cachedEngines(): CachedEngineInfo[] {
    return [...this.#engines.values()].map((e) => ({
      shapes: maxShapes(e.ranges),
      smallerBatches: e.batch !== undefined,
      pinned: e.pinned,
    }));
  }

  /**
   * Builds (or loads from cacheDir) the engines of staticShapes and cachedEngineBatches, one
   * after the other. infer() calls it first; call it yourself to pay for the builds at start.
   */
  warmUp(): Promise<void> {
    this.#warm ??= this.buildStartupEngines();
    return this.#warm;
  }

  /** Runs the model on host tensors, on a cached engine that serves their shapes. */
  async infer(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (feeds === null || typeof feeds !== 'object')
      throw invalidParameterError('feeds', 'an object of Tensors by input name', feeds);
    for (const [name, t] of Object.entries(feeds))
      if (!(t instanceof Tensor))
        throw new KilnError('INVALID_ARGUMENT', `input '${name}' needs a Tensor`);
    const shapes = Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, t.shape]));
    this.checkShapes(shapes, 'feeds', feeds);
    await this.warmUp();
    const entry = await this.engineFor(this.describe(shapes));
    const context = entry.idle.pop() ?? entry.engine.createExecutionContext();
    try {
      return await context.infer(feeds);
    } finally {
      entry.idle.push(context);
    }
  }

  private async engineFor(request: Request): Promise<Entry> {
    const ready = this.find(this.#engines.values(), request);
    if (ready) {
      this.#stats.hits++;
      const key = requestKey(ready);
      this.#engines.delete(key);
      this.#engines.set(key, ready);
      return ready;
    }
    this.#stats.misses++;
    const pending = this.find(
      [...this.#pending.values()].map((p) => p.request),
      request,
    );
    if (pending) return this.#pending.get(requestKey(pending))!.entry;
    if (!this.#runtimeBuilds) {
      const held = [...this.#engines.values()].map((e) => formatShapes(e.ranges, e.batch));
      throw new KilnError(
        'UNSUPPORTED',
        `no engine of this static EngineCache serves ${formatShapes(request.ranges, undefined)}; its engines serve: ${held.join('; ')}. Add the shapes to staticShapes, or set allowRuntimeBuilds to build them at run time`,
      );
    }
    const stored = this.storedFor(request);
    return this.start(stored ?? request, 'runtime', false);
  }

  // An engine in cacheDir that serves the request (from an earlier process), if any.
  private storedFor(request: Request): Request | undefined {
    const store = this.#store;
    if (!store) return undefined;
    const names = Object.keys(request.ranges);
    const candidates = store
      .list()
      .filter((r) => names.every((n) => r[n]?.max.length === request.ranges[n]!.max.length))
      .map((r) => ({ stored: r, request: this.describe(maxShapes(r)) }))
      .filter((c) => store.fileFor(c.request.ranges) === store.fileFor(c.stored))
      .map((c) => c.request);
    return this.find(candidates, request);
  }

  // The engine among `candidates` with the request's signature and the smallest batch >= its batch.
  private find<T extends Request>(candidates: Iterable<T>, request: Request): T | undefined {
    let best: T | undefined;
    for (const c of candidates) {
      if (c.signature !== request.signature) continue;
      if (request.batch !== undefined && c.batch! < request.batch) continue;
      if (!best || c.batch! < best.batch!) best = c;
    }
    return best;
  }

  // Builds (or loads) one engine and adds it; requests for the same shape wait on the same promise.
  private start(
    request: Request,
    reason: EngineBuildEvent['reason'],
    pinned: boolean,
  ): Promise<Entry> {
    const key = requestKey(request);
    const entry = this.obtain(request, reason, pinned)
      .then((e) => {
        this.insert(key, e);
        return e;
      })
      .finally(() => this.#pending.delete(key));
    this.#pending.set(key, { request, entry });
    return entry;
  }

  private async obtain(
    request: Request,
    reason: EngineBuildEvent['reason'],
    pinned: boolean,
  ): Promise<Entry> {
    const shapes = maxShapes(request.ranges);
    const started = performance.now();
    const stored = this.#store?.read(request.ranges);
    if (stored) {
      try {
        const engine = this.load(stored, request);
        this.#stats.loads++;
        this.emit('engineReady', {
          shapes,
          reason,
          source: 'disk',
          milliseconds: performance.now() - started,
        });
        return { ...request, engine, idle: [], pinned };
      } catch (error) {
        if (!isKilnError(error, 'INVALID_PLAN')) throw error;
        getLogger().log(
          'warning',
          `EngineCache: rebuilding ${this.#store!.fileFor(request.ranges)}: ${error.message}`,
        );
      }
    }
    this.emit('buildStart', { shapes, reason });
    getLogger().log(
      'info',
      `EngineCache: building an engine for ${formatShapes(request.ranges, request.batch)} (${reason})`,
    );
    const plan = await this.#build(structuredClone(request.ranges));
    if (!(plan instanceof Uint8Array))
      throw invalidParameterError('the result of build', 'plan bytes (a Uint8Array)', plan);
    const engine = this.load(plan, request);
    const milliseconds = performance.now() - started;
    this.#stats.builds++;
    this.#stats.buildMilliseconds += milliseconds;
    this.#store?.write(request.ranges, plan);
    this.emit('engineReady', { shapes, reason, source: 'build', milliseconds });
    return { ...request, engine, idle: [], pinned };
  }

  // Loads plan bytes and checks the engine accepts every shape of the request's ranges.
  private load(plan: Uint8Array, request: Request): Engine {
    const engine = this.#runtime.deserializeEngine(plan);
    for (const [name, range] of Object.entries(request.ranges)) {
      const io = engine.ioTensors.find((t) => t.name === name && t.mode === 'input');
      const profile = engine.profiles[0]?.find((r) => r.name === name);
      const accepts = profile ?? (io && { min: io.shape, max: io.shape });
      const covers =
        accepts !== undefined &&
        accepts.min.length === range.min.length &&
        range.min.every((d, i) => accepts.min[i]! <= d && range.max[i]! <= accepts.max[i]!);
      if (!covers) {
        throw new KilnError(
          'INVALID_STATE',
          `the build function returned an engine whose input '${name}' ${accepts ? `accepts [${accepts.min}] to [${accepts.max}]` : 'is missing'}, but [${range.min}] to [${range.max}] was asked for`,
        );
      }
    }
    return engine;
  }

  private insert(key: string, entry: Entry): void {
    this.#engines.set(key, entry);
    let excess = [...this.#engines.values()].filter((e) => !e.pinned).length - this.#maximum;
    for (const [k, e] of this.#engines) {
      if (excess <= 0) break;
      if (e.pinned || e === entry) continue;
      this.#engines.delete(k);
      this.#stats.evictions++;
      excess--;
      getLogger().log(
        'info',
        `EngineCache: evicted the engine for ${formatShapes(e.ranges, e.batch)}`,
      );
      this.emit('evict', { shapes: maxShapes(e.ranges) });
    }
  }

  private async buildStartupEngines(): Promise<void> {
    for (const shapes of this.#staticShapes) {
      const request = this.describe(shapes);
      if (!this.#engines.has(requestKey(request))) await this.start(request, 'startup', true);
    }
    const template = this.#startupBatches.length > 0 ? this.batchTemplate() : [];
    for (const batch of this.#startupBatches) {
      const shapes = Object.fromEntries(
        template.map((t) => [t.name, [batch, ...t.shape.slice(1)]]),
      );
      const request = this.describe(shapes);
      if (!this.#engines.has(requestKey(request))) await this.start(request, 'startup', false);
    }
  }

  // TF-TRT's rule: when every input leads with the same dynamic batch dim, an engine is built
  // for batches 1..B and the signature is the remaining dims; otherwise shapes must match exactly.
  private describe(shapes: InputShapes): Request {
    const names = this.#inputs?.map((i) => i.name) ?? Object.keys(shapes).sort();
    const dims = names.map((n) => [...shapes[n]!]);
    const batch = dims[0]?.[0];
    const batched =
      batch !== undefined &&
      batch >= 1 &&
      dims.every((d) => d[0] === batch) &&
      (this.#inputs?.every((i) => i.shape[0] === -1) ?? true);
    const ranges: InputRanges = {};
    names.forEach((name, i) => {
      const d = dims[i]!;
      ranges[name] = { min: batched ? [1, ...d.slice(1)] : d, opt: d, max: d };
    });
    const signature = JSON.stringify(
      names.map((n, i) => [n, batched ? dims[i]!.slice(1) : dims[i]]),
    );
    return {
      signature: `${batched ? 'batch' : 'exact'}:${signature}`,
      batch: batched ? batch : undefined,
      ranges,
    };
  }

  // The inputs, for building engines by batch size: every dim but the leading one must be fixed.
  private batchTemplate(): readonly ModelInput[] {
    if (!this.#inputs)
      throw new KilnError(
        'INVALID_ARGUMENT',
        'cachedEngineBatches needs the model inputs (the inputs option)',
      );
    for (const t of this.#inputs) {
      if (t.shape.length === 0 || t.shape.slice(1).some((d) => d < 0)) {
        throw new KilnError(
          'INVALID_ARGUMENT',
          `cachedEngineBatches needs inputs whose dims after the batch are fixed, but '${t.name}' is [${t.shape}]: use staticShapes instead`,
        );
      }
    }
    return this.#inputs;
  }

  // Every input given once, each shape of the right rank with the fixed dims and dtype.
  private checkShapes(shapes: InputShapes, what: string, feeds?: Record<string, Tensor>): void {
    if (shapes === null || typeof shapes !== 'object')
      throw invalidParameterError(what, 'shapes by input name', shapes);
    for (const [name, shape] of Object.entries(shapes)) {
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
        throw invalidParameterError(`${what}.${name}`, 'a shape of non-negative integers', shape);
    }
    if (!this.#inputs) {
      if (Object.keys(shapes).length === 0)
        throw new KilnError('INVALID_ARGUMENT', `${what} names no input`);
      return;
    }
    const names = this.#inputs.map((i) => `'${i.name}'`).join(', ');
    for (const name of Object.keys(shapes)) {
      if (!this.#inputs.some((i) => i.name === name))
        throw new KilnError(
          'NOT_FOUND',
          `${what}: '${name}' is not an input; the inputs are ${names}`,
        );
    }
    for (const input of this.#inputs) {
      const shape = shapes[input.name];
      if (!shape) throw new KilnError('INVALID_ARGUMENT', `${what} lacks input '${input.name}'`);
      const fits =
        shape.length === input.shape.length && input.shape.every((d, i) => d < 0 || d === shape[i]);
      if (!fits) {
        throw new KilnError(
          'INVALID_ARGUMENT',
          `${what}: input '${input.name}' is [${input.shape}] (-1: any) but [${shape}] was given`,
        );
      }
      const dtype = feeds?.[input.name]?.dtype;
      if (dtype !== undefined && dtype !== input.dtype)
        throw new KilnError(
          'INVALID_ARGUMENT',
          `input '${input.name}' is ${input.dtype} but the tensor is ${dtype}`,
        );
    }
  }
}

function checkInputs(inputs: readonly ModelInput[]): readonly ModelInput[] {
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw invalidParameterError('inputs', 'a non-empty array of { name, dtype, shape }', inputs);
  for (const t of inputs) {
    const ok =
      t !== null &&
      typeof t === 'object' &&
      typeof t.name === 'string' &&
      typeof t.dtype === 'string' &&
      Array.isArray(t.shape) &&
      t.shape.every((d: number) => Number.isSafeInteger(d) && d >= -1);
    if (!ok)
      throw invalidParameterError('inputs', 'an array of { name, dtype, shape } (-1: any)', inputs);
  }
  return inputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: Object.freeze([...t.shape]) }));
}
