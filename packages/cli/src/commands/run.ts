import fs from 'node:fs';

import {
  DeviceBuffer,
  Event,
  HostBuffer,
  Stream,
  type DataType,
  Tensor,
  dataTypeSize,
  float32ToFloat16,
  shapeSize,
  threadCount,
} from '@kiln/core';
import { type Engine, type ExecutionContext, Runtime } from '@kiln/runtime';

import { formatNpy, parseNpy } from '../npy';
import { UsageError, numberFlag, parseShapes, unknownInput } from '../usage';
import { type BuildFlags, buildFromFlags } from './build';
import { applyThreads } from './threads';

/** The flags of `kiln run` (alias `bench`). */
export interface RunFlags extends BuildFlags {
  loadEngine?: string;
  iterations?: string;
  duration?: string;
  warmUp?: string;
  noDataTransfers?: boolean;
  exportTimes?: string;
  json?: string;
  /** Concurrent execution contexts, each on its own stream. */
  streams?: string;
  /** Which optimization profile the contexts use (trtexec's --profile). */
  profile?: string;
  loadInputs?: string;
  exportOutput?: string;
  /** Per-layer times as JSON (trtexec's layout), from a profiling run after the benchmark. */
  exportProfile?: string;
  /** Prints the per-layer times. */
  dumpProfile?: boolean;
}

/** Statistics of one timing series, in milliseconds. */
export interface Stats {
  min: number;
  max: number;
  mean: number;
  median: number;
  p90: number;
  p95: number;
  p99: number;
}

/** Nearest-rank percentiles of a series. */
export function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return {
    min: s[0]!,
    max: s[s.length - 1]!,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    median: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
  };
}

function line(label: string, st: Stats): string {
  const f = (v: number) => `${v.toFixed(4)} ms`;
  return `${label}: min = ${f(st.min)}, max = ${f(st.max)}, mean = ${f(st.mean)}, median = ${f(st.median)}, percentile(90%) = ${f(st.p90)}, percentile(95%) = ${f(st.p95)}, percentile(99%) = ${f(st.p99)}`;
}

/** Runs an engine the way trtexec does and prints its performance summary. */
export async function run(flags: RunFlags, log: (line: string) => void): Promise<void> {
  if (flags.loadEngine && (flags.onnx || flags.tfjs || flags.graphdef || flags['saved-model']))
    throw new UsageError('give either --loadEngine or a model to build, not both');
  let plan: Uint8Array;
  if (flags.loadEngine) {
    if (!fs.existsSync(flags.loadEngine))
      throw new UsageError(`--loadEngine: no such file '${flags.loadEngine}'`);
    applyThreads(flags.threads);
    plan = fs.readFileSync(flags.loadEngine);
  } else {
    plan = await buildFromFlags(flags, log);
  }
  const iterations = numberFlag('iterations', flags.iterations) ?? 10;
  const duration = numberFlag('duration', flags.duration, false) ?? 3;
  const warmUp = numberFlag('warmUp', flags.warmUp, false) ?? 200;
  const streamCount = numberFlag('streams', flags.streams) ?? 1;
  if (streamCount < 1) throw new UsageError('--streams: expected at least 1');
  const engine = new Runtime().deserializeEngine(plan);
  const profile = numberFlag('profile', flags.profile) ?? 0;
  if (profile >= Math.max(1, engine.profiles.length))
    throw new UsageError(
      `--profile=${profile}: the engine has ${engine.profiles.length} profile(s), numbered from 0`,
    );
  const loaded = loadInputs(engine, flags.loadInputs);
  const shapes = inputShapes(engine, profile, flags.shapes, loaded);
  const lanes = Array.from({ length: streamCount }, () =>
    makeLane(engine, profile, shapes, loaded, !flags.noDataTransfers),
  );
  try {
    const warmEnd = performance.now() + warmUp;
    await Promise.all(
      lanes.map(async (lane) => {
        do await lane.once();
        while (performance.now() < warmEnd);
      }),
    );
    const times: Timing[] = [];
    const started = performance.now();
    const more = () => times.length < iterations || performance.now() - started < duration * 1000;
    await Promise.all(
      lanes.map(async (lane) => {
        while (more()) times.push(await lane.once());
      }),
    );
    const wall = (performance.now() - started) / 1000;
    const summary = {
      iterations: times.length,
      streams: streamCount,
      throughput: times.length / wall,
      latency: stats(times.map((t) => t.latency)),
      enqueue: stats(times.map((t) => t.enqueue)),
      h2d: stats(times.map((t) => t.h2d)),
      compute: stats(times.map((t) => t.compute)),
      d2h: stats(times.map((t) => t.d2h)),
      totalWallSeconds: wall,
      totalComputeSeconds: times.reduce((a, t) => a + t.compute, 0) / 1000,
      threads: threadCount(),
      shapes: Object.fromEntries(shapes),
    };
    log('=== Performance summary ===');
    log(
      `Throughput: ${summary.throughput.toFixed(3)} qps (${streamCount} stream(s), ${summary.threads} thread(s))`,
    );
    log(line('Latency', summary.latency));
    log(line('Enqueue Time', summary.enqueue));
    log(line('H2D Latency', summary.h2d));
    log(line('Compute Time', summary.compute));
    log(line('D2H Latency', summary.d2h));
    log(`Total Host Walltime: ${wall.toFixed(4)} s`);
    log(`Total Compute Time: ${summary.totalComputeSeconds.toFixed(4)} s`);
    log(
      'Latency is host to host, with copies unless --noDataTransfers: the limit frame rate without pre/post-processing.',
    );
    if (flags.exportTimes) fs.writeFileSync(flags.exportTimes, JSON.stringify(times, null, 1));
    if (flags.json) fs.writeFileSync(flags.json, JSON.stringify(summary, null, 1));
    if (flags.exportProfile || flags.dumpProfile)
      await profileLayers(lanes[0]!, Math.max(1, iterations), flags, log);
    if (flags.exportOutput) {
      writeOutputs(flags.exportOutput, await lanes[0]!.outputs());
      log(`Outputs of the last inference written to ${flags.exportOutput}`);
    }
  } finally {
    for (const lane of lanes) lane.dispose();
  }
}

// A separate run with the profiler on (trtexec's --separateProfileRun): timing every layer
// costs a clock read each, which the benchmark above should not pay.
async function profileLayers(
  lane: Lane,
  runs: number,
  flags: RunFlags,
  log: (line: string) => void,
): Promise<void> {
  lane.context.profiling = true;
  for (let i = 0; i < runs; i++) await lane.once();
  lane.context.profiling = false;
  const profile = lane.context.layerProfile();
  const total = profile.layers.reduce((a, l) => a + l.totalMs, 0);
  const rows = profile.layers.map((l) => ({
    name: l.name,
    op: l.op,
    timeMs: l.totalMs,
    averageMs: l.averageMs,
    percentage: total > 0 ? (100 * l.totalMs) / total : 0,
  }));
  if (flags.exportProfile)
    fs.writeFileSync(
      flags.exportProfile,
      JSON.stringify([{ count: profile.runs }, ...rows], null, 1),
    );
  if (flags.dumpProfile) {
    log(`=== Profile (${profile.runs} iterations, layers by time) ===`);
    log('   Time(ms)   Avg.(ms)   Time(%)   Layer');
    for (const r of [...rows].sort((a, b) => b.timeMs - a.timeMs)) {
      const f = (v: number, w: number) => v.toFixed(4).padStart(w);
      log(
        `${f(r.timeMs, 11)} ${f(r.averageMs, 10)} ${r.percentage.toFixed(1).padStart(9)}   ${r.name} (${r.op})`,
      );
    }
    log(
      `${total.toFixed(4).padStart(11)} ${(total / profile.runs).toFixed(4).padStart(10)} ${'100.0'.padStart(9)}   Total`,
    );
  }
}

interface Timing {
  latency: number;
  enqueue: number;
  h2d: number;
  compute: number;
  d2h: number;
}

/** One execution context with its own stream, buffers and events (trtexec's --streams). */
interface Lane {
  readonly context: ExecutionContext;
  once(): Promise<Timing>;
  /** Copies the outputs of the last run to host tensors. */
  outputs(): Promise<Map<string, Tensor>>;
  dispose(): void;
}

function makeLane(
  engine: Engine,
  profile: number,
  shapes: Map<string, number[]>,
  loaded: Map<string, LoadedInput>,
  copies: boolean,
): Lane {
  const ctx = engine.createExecutionContext();
  if (engine.profiles.length > 0) ctx.setOptimizationProfile(profile);
  for (const [name, shape] of shapes) ctx.setInputShape(name, shape);
  const stream = new Stream();
  const io = [...engine.inputNames, ...engine.outputNames].map((name) => {
    const info = engine.getTensorInfo(name);
    const bytes = Math.max(1, shapeSize(ctx.getTensorShape(name)) * dataTypeSize(info.dtype));
    const host = new HostBuffer(bytes);
    if (info.mode === 'input') {
      const data = loaded.get(name)?.data;
      if (data) new Uint8Array(host.arrayBuffer).set(data);
      else fill(host.arrayBuffer, info.dtype);
    }
    const device = new DeviceBuffer(bytes);
    ctx.setTensorAddress(name, device);
    return { name, dtype: info.dtype, mode: info.mode, host, device };
  });
  // Without transfers the inputs are copied once, so the engine still sees the loaded values.
  if (!copies)
    for (const b of io) if (b.mode === 'input') stream.copyHostToDevice(b.device, b.host);
  const [start, h2d, compute, end] = Array.from({ length: 4 }, () => new Event()) as [
    Event,
    Event,
    Event,
    Event,
  ];
  return {
    context: ctx,
    async once() {
      const t0 = performance.now();
      start.record(stream);
      if (copies)
        for (const b of io) if (b.mode === 'input') stream.copyHostToDevice(b.device, b.host);
      h2d.record(stream);
      const e0 = performance.now();
      ctx.enqueue(stream);
      const enqueueMs = performance.now() - e0;
      compute.record(stream);
      if (copies)
        for (const b of io) if (b.mode === 'output') stream.copyDeviceToHost(b.host, b.device);
      end.record(stream);
      await stream.synchronize();
      return {
        latency: performance.now() - t0,
        enqueue: enqueueMs,
        h2d: Event.elapsedTime(start, h2d),
        compute: Event.elapsedTime(h2d, compute),
        d2h: Event.elapsedTime(compute, end),
      };
    },
    async outputs() {
      const out = new Map<string, Tensor>();
      for (const b of io) {
        if (b.mode !== 'output') continue;
        stream.copyDeviceToHost(b.host, b.device);
        await stream.synchronize();
        const shape = ctx.getTensorShape(b.name);
        const bytes = shapeSize(shape) * dataTypeSize(b.dtype);
        out.set(b.name, new Tensor(b.dtype, shape, b.host.arrayBuffer.slice(0, bytes)));
      }
      return out;
    },
    dispose() {
      for (const b of io) {
        b.host.dispose();
        b.device.dispose();
      }
    },
  };
}

// Deterministic inputs (a sine sweep in [-1, 1), in int8 scaled to [-127, 127]); zeros for
// other integer and bool inputs.
function fill(view: ArrayBuffer, dtype: DataType): void {
  const n = Math.floor(view.byteLength / dataTypeSize(dtype));
  const sweep = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731));
  if (dtype === 'float32') new Float32Array(view).set(sweep);
  else if (dtype === 'float16') new Uint16Array(view).set(float32ToFloat16(sweep));
  else if (dtype === 'int8') new Int8Array(view).set(sweep.map((v) => Math.round(v * 127)));
}

// Input shapes: --shapes, else a loaded .npy's shape, else the static shape, else (like
// trtexec) the chosen profile's opt shape.
function inputShapes(
  engine: Engine,
  profile: number,
  spec: string | undefined,
  loaded: Map<string, LoadedInput>,
): Map<string, number[]> {
  const given = spec ? parseShapes('shapes', spec) : new Map<string, number[]>();
  for (const name of given.keys())
    if (!engine.inputNames.includes(name)) throw unknownInput('shapes', name, engine.inputNames);
  const shapes = new Map<string, number[]>();
  for (const name of engine.inputNames) {
    const info = engine.getTensorInfo(name);
    const fromFile = loaded.get(name)?.shape;
    const shape =
      given.get(name) ??
      fromFile ??
      (info.shape.every((d) => d >= 0)
        ? info.shape
        : engine.profiles[profile]?.find((r) => r.name === name)?.opt);
    if (!shape)
      throw new UsageError(
        `input '${name}' has dynamic dims ${JSON.stringify(info.shape)}: give --shapes=${name}:...`,
      );
    if (fromFile && fromFile.join('x') !== shape.join('x'))
      throw new UsageError(
        `--loadInputs: '${name}' holds shape ${fromFile.join('x')} but --shapes gives ${shape.join('x')}`,
      );
    shapes.set(name, [...shape]);
  }
  for (const [name, { data }] of loaded) {
    const shape = shapes.get(name)!;
    const bytes = shapeSize(shape) * dataTypeSize(engine.getTensorInfo(name).dtype);
    if (data.length !== bytes)
      throw new UsageError(
        `--loadInputs: '${name}' has ${data.length} bytes but shape ${shape.join('x')} ${engine.getTensorInfo(name).dtype} needs ${bytes}`,
      );
  }
  return shapes;
}

/** An input's bytes from --loadInputs, with the shape when the file declares one (.npy). */
interface LoadedInput {
  data: Uint8Array;
  shape?: number[];
}

/** --loadInputs=name:file[,name:file]: .npy files (dtype checked) or raw little-endian bytes. */
function loadInputs(engine: Engine, spec: string | undefined): Map<string, LoadedInput> {
  const loaded = new Map<string, LoadedInput>();
  if (!spec) return loaded;
  for (const part of spec.split(',')) {
    const colon = part.lastIndexOf(':');
    const [name, file] = [part.slice(0, colon).replace(/^'(.*)'$/, '$1'), part.slice(colon + 1)];
    if (colon <= 0 || file.length === 0)
      throw new UsageError(`--loadInputs: '${part}' is not name:file`);
    if (!engine.inputNames.includes(name))
      throw unknownInput('loadInputs', name, engine.inputNames);
    if (!fs.existsSync(file)) throw new UsageError(`--loadInputs: no such file '${file}'`);
    const bytes = new Uint8Array(fs.readFileSync(file));
    if (!file.endsWith('.npy')) {
      loaded.set(name, { data: bytes });
      continue;
    }
    const array = parseNpy(bytes, file);
    const dtype = engine.getTensorInfo(name).dtype;
    if (array.dtype !== dtype)
      throw new UsageError(`--loadInputs: ${file} holds ${array.dtype} but '${name}' is ${dtype}`);
    loaded.set(name, { data: array.data, shape: array.shape });
  }
  return loaded;
}

/** --exportOutput: FILE.json (trtexec's layout: name, dimensions, values) or FILE.npy. */
function writeOutputs(file: string, outputs: Map<string, Tensor>): void {
  if (file.endsWith('.json')) {
    const values = (t: Tensor) =>
      Array.from(
        t.dtype === 'float16' || t.dtype === 'bfloat16' ? t.to('float32').data : t.data,
        Number,
      );
    const json = [...outputs].map(([name, t]) => ({
      name,
      dtype: t.dtype,
      dimensions: t.shape,
      values: values(t),
    }));
    fs.writeFileSync(file, JSON.stringify(json));
    return;
  }
  if (!file.endsWith('.npy'))
    throw new UsageError(`--exportOutput: '${file}' should end in .json or .npy`);
  // One output: FILE.npy; several: FILE.<output>.npy each, names made file-safe.
  for (const [name, t] of outputs) {
    const target =
      outputs.size === 1 ? file : `${file.slice(0, -4)}.${name.replace(/[^\w.-]/g, '_')}.npy`;
    const data = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    fs.writeFileSync(target, formatNpy({ dtype: t.dtype, shape: [...t.shape], data }));
  }
}
