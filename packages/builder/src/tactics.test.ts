import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { type Logger, type Severity, Tensor } from '@kiln/core';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import { NetworkDefinition } from './network';
import { buildEngine, sweep } from './test-support/run';

const C = 32;
// With the default tactic sources (kiln's own) the 3x3 conv has two candidates and is timed; the
// 1x1 has one (oneDNN's, when opted in, is covered by tactic-sources.test.ts).
const timedLayers = 1;
const H = 18;

// x [1, 32, 18, 18] -> Conv 3x3 pad 1 (gemm or winograd) -> Relu -> Conv 1x1 (gemm only) -> y.
function network(): NetworkDefinition {
  const net = new NetworkDefinition();
  const x = net.addInput('x', 'float32', [1, C, H, H]);
  const w3 = net.addConstant([C, C, 3, 3], 'float32', sweep(C * C * 9, 0.2, 1));
  const b3 = net.addConstant([C], 'float32', sweep(C, 0.5, 2));
  const conv = net.addConvolution(x, C, [3, 3], w3, b3, { padding: [1, 1, 1, 1] });
  const relu = net.addActivation(conv.output, 'relu');
  const w1 = net.addConstant([8, C, 1, 1], 'float32', sweep(8 * C, 0.3, 3));
  const pw = net.addConvolution(relu.output, 8, [1, 1], w1);
  net.markOutput(pw.output);
  return net;
}

// The same network in double precision, straight from its definition.
function reference(x: Float32Array): Float64Array {
  const w3 = sweep(C * C * 9, 0.2, 1);
  const b3 = sweep(C, 0.5, 2);
  const w1 = sweep(8 * C, 0.3, 3);
  const mid = new Float64Array(C * H * H);
  for (let m = 0; m < C; ++m)
    for (let i = 0; i < H; ++i)
      for (let j = 0; j < H; ++j) {
        let s = b3[m]!;
        for (let c = 0; c < C; ++c)
          for (let ky = 0; ky < 3; ++ky)
            for (let kx = 0; kx < 3; ++kx) {
              const y = i + ky - 1;
              const xx = j + kx - 1;
              if (y < 0 || y >= H || xx < 0 || xx >= H) continue;
              s += x[(c * H + y) * H + xx]! * w3[((m * C + c) * 3 + ky) * 3 + kx]!;
            }
        mid[(m * H + i) * H + j] = Math.max(0, s);
      }
  const out = new Float64Array(8 * H * H);
  for (let m = 0; m < 8; ++m)
    for (let p = 0; p < H * H; ++p) {
      let s = 0;
      for (let c = 0; c < C; ++c) s += mid[c * H * H + p]! * w1[m * C + c]!;
      out[m * H * H + p] = s;
    }
  return out;
}

class Recorder implements Logger {
  lines: { severity: Severity; message: string }[] = [];
  log(severity: Severity, message: string): void {
    this.lines.push({ severity, message });
  }
  matching(re: RegExp): string[] {
    return this.lines.filter((l) => re.test(l.message)).map((l) => l.message);
  }
}

async function build(level: number, timingCachePath?: string) {
  const logger = new Recorder();
  const builder = new Builder(logger);
  const config = builder.createBuilderConfig();
  config.builderOptimizationLevel = level;
  config.timingCachePath = timingCachePath;
  const { engine } = await buildEngine(network(), config, undefined, builder);
  const input = sweep(C * H * H, 1, 4);
  const out = await engine
    .createExecutionContext()
    .infer({ x: new Tensor('float32', [1, C, H, H], input) });
  const y = out[engine.outputNames[0]!]!.data as Float32Array;
  const want = reference(input);
  let worst = 0;
  for (let i = 0; i < want.length; ++i)
    worst = Math.max(worst, Math.abs(y[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
  return { engine, logger, worst };
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-tactics-'));
}

// FNV-1a 64 over bytes, as the native timing cache's checksum (with the core's seed).
function fnv1a64(bytes: Uint8Array): bigint {
  let h = 1469598103934665603n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}

describe('tactic selection', () => {
  it('times the 3x3 conv, keeps the fastest in the plan, and reuses the timing cache', async () => {
    const cache = path.join(tempDir(), 'sub', 'timing.cache');
    const first = await build(3, cache);
    expect(first.worst).toBeLessThan(1e-4);
    const timed = first.logger.matching(
      /^tactic: layer .* \(Conv\) runs conv\.(gemm|winograd) from kiln \(timed: conv\.(gemm|winograd) [\d.]+ ms, conv\.(gemm|winograd) [\d.]+ ms\)$/,
    );
    expect(timed).toHaveLength(timedLayers);
    expect(first.logger.matching(/runs conv\.gemm from kiln \(the only candidate\)/)).toHaveLength(
      2 - timedLayers,
    );
    expect(
      first.logger.matching(
        new RegExp(
          `^tactics \\(optimization level 3\\): 2 layers, ${timedLayers} timed, 0 from the timing cache`,
        ),
      ),
    ).toHaveLength(1);
    expect(fs.existsSync(cache)).toBe(true);
    const chosen = first.engine.layers().map((l) => l.tactic);
    expect(chosen.filter(Boolean)).toHaveLength(2);

    const second = await build(3, cache);
    expect(second.worst).toBeLessThan(1e-4);
    expect(second.logger.matching(/\(from the timing cache\)$/)).toHaveLength(timedLayers);
    expect(second.logger.matching(new RegExp(`${timedLayers} from the timing cache`))).toHaveLength(
      1,
    );
    expect(second.engine.layers().map((l) => l.tactic)).toEqual(chosen);
    // The memory the build checks is what the engine loaded from the plan needs, with the
    // tactics the plan records (timed or from the cache).
    for (const { logger, engine } of [first, second])
      expect(logger.matching(/^built an engine of /)[0]).toContain(
        `, ${engine.deviceMemorySize} bytes of activation and kernel scratch memory`,
      );
  });

  it('level 0 takes the heuristic without timing', async () => {
    const { logger, worst, engine } = await build(0);
    expect(worst).toBeLessThan(1e-4);
    expect(logger.matching(/heuristic, not timed/)).toHaveLength(timedLayers);
    expect(logger.matching(/timed: /)).toHaveLength(0);
    // 32 channels and 25 tiles: the heuristic takes Winograd.
    expect(engine.layers().find((l) => l.op === 'Conv')!.tactic).toBe('conv.winograd');
  });

  it('warns about a corrupt or foreign timing cache, times again and replaces it', async () => {
    const dir = tempDir();
    const cache = path.join(dir, 'timing.cache');
    fs.writeFileSync(cache, Buffer.from('not a timing cache at all'));
    const corrupt = await build(1, cache);
    expect(corrupt.worst).toBeLessThan(1e-4);
    expect(
      corrupt.logger.lines.filter(
        (l) => l.severity === 'warning' && /not a kiln timing cache/.test(l.message),
      ),
    ).toHaveLength(1);
    expect(corrupt.logger.matching(new RegExp(`${timedLayers} timed`))).toHaveLength(1);

    // A well-formed cache from another machine: its CPU id differs (checksum made valid).
    const bytes = new Uint8Array(fs.readFileSync(cache));
    bytes[8 + 4 + 4] = bytes[8 + 4 + 4]! ^ 0x20;
    const body = bytes.subarray(0, bytes.length - 8);
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(
      bytes.length - 8,
      fnv1a64(body),
      true,
    );
    fs.writeFileSync(cache, bytes);
    const foreign = await build(1, cache);
    expect(foreign.logger.matching(/made on another machine/)).toHaveLength(1);
    expect(foreign.logger.matching(new RegExp(`${timedLayers} timed`))).toHaveLength(1);

    // A flipped byte fails the checksum.
    const again = new Uint8Array(fs.readFileSync(cache));
    again[again.length - 20] = again[again.length - 20]! ^ 1;
    fs.writeFileSync(cache, again);
    const flipped = await build(1, cache);
    expect(flipped.logger.matching(/checksum does not match/)).toHaveLength(1);
  });
});
