// A short tour of @kiln/core: what the machine can do, tensors and fp16, and an asynchronous
// host -> device -> host round trip on a stream, timed with events.
import { DeviceBuffer, Event, HostBuffer, Stream, Tensor, devices, features } from '@kiln/core';

const { cpu, cudaBuilt, coreVersion } = features();
const isaFlags = [
  'avx2',
  'fma',
  'f16c',
  'avx512f',
  'avx512vnni',
  'avx512bf16',
  'avx512fp16',
  'avxVnni',
];
console.log(
  `kiln core ${coreVersion} on ${cpu.model} (${cpu.logicalCores} threads), kernels: ${cpu.isa}`,
);
console.log(`  CPU features: ${isaFlags.filter((f) => cpu[f]).join(' ') || 'none beyond x86-64'}`);
console.log(
  `  devices: ${devices()
    .map((d) => `${d.name} (${(d.totalMemory / 2 ** 30).toFixed(1)} GiB)`)
    .join(', ')}` + `${cudaBuilt ? '' : ' — built without CUDA'}`,
);

const x = new Tensor('float32', [2, 3], new Float32Array([0.1, 1, -2.5, 1000, 65504, 1e-7]));
const half = x.to('float16');
console.log(
  `\nfloat32 ${fmt(x.data)}\n -> float16 bits ${Array.from(half.data, (b) => '0x' + b.toString(16).padStart(4, '0')).join(' ')}`,
);
console.log(` -> back to float32 ${fmt(half.to('float32').data)}`);

const device = devices().find((d) => d.kind === 'cuda')?.name ?? 'cpu';
const bytes = 64 * 2 ** 20;
const host = new HostBuffer(bytes, { device });
new Float32Array(host.arrayBuffer).fill(3.5);
const onDevice = new DeviceBuffer(bytes, { device });
const back = new Float32Array(bytes / 4);
const stream = new Stream({ device });
const start = new Event({ device });
const end = new Event({ device });

// The first pass also pays for the OS mapping fresh pages; the second shows the copy speed.
let ok = true;
for (const pass of ['first', 'second']) {
  const t0 = performance.now();
  start.record(stream);
  stream.copyHostToDevice(onDevice, host);
  stream.copyDeviceToHost(back, onDevice);
  end.record(stream);
  const enqueueMs = performance.now() - t0;
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 1);
  await stream.synchronize();
  clearInterval(ticker);
  const ms = Event.elapsedTime(start, end);
  ok &&= back.every((v) => v === 3.5);
  console.log(
    `${pass} round trip of ${bytes / 2 ** 20} MiB on ${device}: enqueued in ${enqueueMs.toFixed(3)} ms, ` +
      `done in ${ms.toFixed(1)} ms (${((2 * bytes) / 2 ** 30 / (ms / 1000)).toFixed(2)} GiB/s); ` +
      `the event loop ran ${ticks} timer ticks meanwhile; data ${ok ? 'intact' : 'CORRUPTED'}`,
  );
  back.fill(0);
}
for (const r of [host, onDevice, stream, start, end]) r.dispose();
if (!ok) process.exit(1);

function fmt(a) {
  return Array.from(a, (v) => Number(v.toPrecision(6))).join(' ');
}
