import fs from 'node:fs';

import { DeviceBuffer, Event, HostBuffer, Stream, dataTypeSize, shapeSize } from '@kiln/core';
import { Runtime } from '@kiln/runtime';

import { UsageError, numberFlag, parseShapes, unknownInput } from '../usage';
import { type BuildFlags, buildFromFlags } from './build';

/** The flags of `kiln run` (alias `bench`). */
export interface RunFlags extends BuildFlags {
  loadEngine?: string;
  iterations?: string;
  duration?: string;
  warmUp?: string;
  noDataTransfers?: boolean;
  exportTimes?: string;
  json?: string;
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

// Deterministic inputs in [-1, 1) (a sine sweep), zeros for integer and bool inputs.
function fill(view: ArrayBuffer, dtype: string): void {
  if (dtype !== 'float32') return;
  const f = new Float32Array(view);
  for (let i = 0; i < f.length; i++) f[i] = Math.sin(i * 0.731);
}

/** Runs an engine the way trtexec does and prints its performance summary. */
export async function run(flags: RunFlags, log: (line: string) => void): Promise<void> {
  if (flags.loadEngine && flags.onnx)
    throw new UsageError('give either --loadEngine or --onnx, not both');
  let plan: Uint8Array;
  if (flags.loadEngine) {
    if (!fs.existsSync(flags.loadEngine))
      throw new UsageError(`--loadEngine: no such file '${flags.loadEngine}'`);
    plan = fs.readFileSync(flags.loadEngine);
  } else {
    plan = await buildFromFlags(flags, log);
  }
  const iterations = numberFlag('iterations', flags.iterations) ?? 10;
  const duration = numberFlag('duration', flags.duration, false) ?? 3;
  const warmUp = numberFlag('warmUp', flags.warmUp, false) ?? 200;
  const engine = new Runtime().deserializeEngine(plan);
  const ctx = engine.createExecutionContext();
  const shapes = flags.shapes ? parseShapes('shapes', flags.shapes) : new Map<string, number[]>();
  for (const name of shapes.keys())
    if (!engine.inputNames.includes(name)) throw unknownInput('shapes', name, engine.inputNames);
  for (const name of engine.inputNames) {
    const info = engine.getTensorInfo(name);
    // Like trtexec: a dynamic input without --shapes runs at its profile's opt shape.
    const shape =
      shapes.get(name) ??
      (info.shape.every((d) => d >= 0)
        ? info.shape
        : engine.profiles[0]?.find((r) => r.name === name)?.opt);
    if (!shape)
      throw new UsageError(
        `input '${name}' has dynamic dims ${JSON.stringify(info.shape)}: give --shapes=${name}:...`,
      );
    ctx.setInputShape(name, shape);
  }
  const stream = new Stream();
  const io = [...engine.inputNames, ...engine.outputNames].map((name) => {
    const info = engine.getTensorInfo(name);
    const bytes = Math.max(1, shapeSize(ctx.getTensorShape(name)) * dataTypeSize(info.dtype));
    const host = new HostBuffer(bytes);
    if (info.mode === 'input') fill(host.arrayBuffer, info.dtype);
    const device = new DeviceBuffer(bytes);
    ctx.setTensorAddress(name, device);
    return { name, mode: info.mode, host, device };
  });
  const events = Array.from({ length: 4 }, () => new Event());
  const once = async () => {
    const [start, h2d, compute, end] = events as [Event, Event, Event, Event];
    const t0 = performance.now();
    start.record(stream);
    if (!flags.noDataTransfers)
      for (const b of io) if (b.mode === 'input') stream.copyHostToDevice(b.device, b.host);
    h2d.record(stream);
    const e0 = performance.now();
    ctx.enqueue(stream);
    const enqueueMs = performance.now() - e0;
    compute.record(stream);
    if (!flags.noDataTransfers)
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
  };
  const warmEnd = performance.now() + warmUp;
  do await once();
  while (performance.now() < warmEnd);
  const times: Awaited<ReturnType<typeof once>>[] = [];
  const started = performance.now();
  while (times.length < iterations || performance.now() - started < duration * 1000)
    times.push(await once());
  const wall = (performance.now() - started) / 1000;
  const summary = {
    iterations: times.length,
    throughput: times.length / wall,
    latency: stats(times.map((t) => t.latency)),
    enqueue: stats(times.map((t) => t.enqueue)),
    h2d: stats(times.map((t) => t.h2d)),
    compute: stats(times.map((t) => t.compute)),
    d2h: stats(times.map((t) => t.d2h)),
    totalWallSeconds: wall,
    totalComputeSeconds: times.reduce((a, t) => a + t.compute, 0) / 1000,
    shapes: Object.fromEntries(engine.inputNames.map((n) => [n, ctx.getTensorShape(n)])),
  };
  log('=== Performance summary ===');
  log(`Throughput: ${summary.throughput.toFixed(3)} qps`);
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
  for (const b of io) {
    b.host.dispose();
    b.device.dispose();
  }
}
