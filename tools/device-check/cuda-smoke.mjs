// Exercises @kiln/core on a CUDA GPU (run on a machine with one; no test framework needed, so
// it runs where only node and the built package are present). Exits non-zero on any failure.
//   node tools/device-check/cuda-smoke.mjs [path/to/@kiln/core/dist/index.js]
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const entry = process.argv[2] ?? path.join(here, '../../packages/core/dist/index.js');
const k = await import(pathToFileURL(path.resolve(entry)).href);
const { injectFault } = await import(
  pathToFileURL(path.resolve(path.dirname(entry), 'testing.js')).href
);

let failures = 0;
async function check(name, body) {
  try {
    await body();
    console.log(`ok   ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}
function assert(cond, what) {
  if (!cond) throw new Error(what);
}
const f = k.features();
const gpus = k.devices().filter((d) => d.kind === 'cuda');
console.log(`cudaBuilt=${f.cudaBuilt}; devices: ${JSON.stringify(k.devices())}`);
assert(f.cudaBuilt, 'this build has no cuda device');
assert(gpus.length > 0, 'no GPU listed');
const device = gpus[0].name;

await check('device info: name, compute capability, memory', () => {
  assert(/^\d+\.\d+$/.test(gpus[0].computeCapability), 'compute capability');
  assert(gpus[0].totalMemory > 2 ** 30, 'memory');
  assert(gpus[0].description.length > 0, 'name');
});

await check('copies and memset round-trip through GPU memory', async () => {
  const s = new k.Stream({ device });
  const d = new k.DeviceBuffer(16, { device });
  s.memset(d, 0xff);
  s.copyHostToDevice(d, new Uint8Array([1, 2, 3, 4]), { dstOffset: 4 });
  const d2 = new k.DeviceBuffer(8, { device });
  s.copyDeviceToDevice(d2, d, { srcOffset: 2, byteLength: 8 });
  const h = new k.HostBuffer(8, { device });
  s.copyDeviceToHost(h, d2);
  await s.synchronize();
  assert(
    new Uint8Array(h.arrayBuffer).join(',') === '255,255,1,2,3,4,255,255',
    new Uint8Array(h.arrayBuffer).join(','),
  );
});

await check('a 256 MiB pinned copy returns at once and the event loop runs', async () => {
  const bytes = 256 * 2 ** 20;
  const src = new k.HostBuffer(bytes, { device });
  new Uint8Array(src.arrayBuffer).fill(7);
  const dst = new k.DeviceBuffer(bytes, { device });
  const s = new k.Stream({ device });
  const start = new k.Event({ device });
  const end = new k.Event({ device });
  const t0 = performance.now();
  start.record(s);
  s.copyHostToDevice(dst, src);
  end.record(s);
  const enqueueMs = performance.now() - t0;
  assert(!end.query(), 'the copy had already finished at enqueue return');
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  await end.synchronize();
  clearInterval(timer);
  const ms = k.Event.elapsedTime(start, end);
  const tail = new Uint8Array(4096);
  s.copyDeviceToHost(tail, dst, { srcOffset: bytes - 4096 });
  await s.synchronize();
  assert(
    tail.every((v) => v === 7),
    'data',
  );
  console.log(
    `     enqueue ${enqueueMs.toFixed(3)} ms, copy ${ms.toFixed(2)} ms (${(bytes / 2 ** 30 / (ms / 1000)).toFixed(1)} GiB/s), ${ticks} ticks`,
  );
});

await check('use after dispose and double dispose are KilnErrors', () => {
  const d = new k.DeviceBuffer(8, { device });
  d.dispose();
  let code;
  try {
    d.dispose();
  } catch (e) {
    code = e.code;
  }
  assert(code === 'DISPOSED', `got ${code}`);
});

await check('failed allocations are OUT_OF_MEMORY and the device keeps working', async () => {
  const s = new k.Stream({ device });
  const d = new k.DeviceBuffer(4, { device });
  injectFault('device.allocate', 1);
  let code;
  try {
    new k.DeviceBuffer(4, { device });
  } catch (e) {
    code = e.code;
  }
  assert(code === 'OUT_OF_MEMORY', `allocation fault: ${code}`);
  const tooBig = () => new k.DeviceBuffer(2 ** 50, { device });
  try {
    tooBig();
    throw new Error('2^50 bytes allocated');
  } catch (e) {
    assert(e.code === 'OUT_OF_MEMORY', `huge allocation: ${e.code} ${e.message}`);
  }
  s.memset(d, 2);
  const out = new Uint8Array(4);
  s.copyDeviceToHost(out, d);
  await s.synchronize();
  assert(out.join() === '2,2,2,2', out.join());
});

console.log(failures === 0 ? 'all cuda checks passed' : `${failures} cuda check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
