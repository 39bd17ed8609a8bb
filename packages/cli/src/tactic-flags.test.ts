// kiln build --builderOptimizationLevel / --timingCacheFile on PP-OCRv4 detection (real weights):
// each layer's tactic in the build log, the timing cache written and reused, level 0 untimed;
// kiln inspect shows each layer's precision (a Q/DQ MobileNet-v2) and tactic.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { type Logger, type Severity, features, setLogger } from '@kiln/core';
import { missingReason, npmFile, sharedModel } from '@kiln/test-data';
import { afterEach, describe, expect, it } from 'vitest';

import { parseTacticSources } from './commands/build';
import { kiln } from './test-support/kiln';

const hasOnednn = features().tacticSources.includes('onednn');

const det = npmFile('ocr-models', 'assets', 'ch_PP-OCRv4_det_infer.onnx');
const qdq = sharedModel('mobilenet_v2_int8_qdq.onnx');
if (missingReason(qdq)) console.warn(`[skip] kiln inspect of a Q/DQ engine: ${missingReason(qdq)}`);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-tactic-flags-'));

// The build log, recorded in-process (what --verbose prints to stderr).
class Recorder implements Logger {
  lines: string[] = [];
  log(severity: Severity, message: string): void {
    if (severity !== 'verbose') this.lines.push(message);
  }
}

let previous: Logger | undefined;
function record(): Recorder {
  const r = new Recorder();
  previous = setLogger(r);
  return r;
}
afterEach(() => {
  if (previous) setLogger(previous);
  previous = undefined;
});

async function build(...flags: string[]) {
  const log = record();
  const r = await kiln('build', `--onnx=${det}`, '--shapes=x:1x3x320x320', ...flags);
  expect(r.code, r.err).toBe(0);
  const summary = log.lines.find((l) => l.startsWith('tactics (optimization level'));
  const counts = /(\d+) layers, (\d+) timed, (\d+) from the timing cache, (\d+) by heuristic/.exec(
    summary ?? '',
  );
  expect(counts, summary).not.toBeNull();
  const [layers, timed, cached, heuristic] = counts!.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
  ];
  return { log: log.lines, layers, timed, cached, heuristic };
}

describe('kiln build: tactic selection flags', () => {
  it('times the layers that have a choice, writes the timing cache, and reuses it', async () => {
    const cache = path.join(dir, 'det.timing');
    const first = await build(`--timingCacheFile=${cache}`, '--builderOptimizationLevel=3');
    expect(first.timed).toBeGreaterThan(0);
    expect(first.heuristic).toBe(0);
    expect(fs.statSync(cache).size).toBeGreaterThan(0);
    const timedLines = first.log.filter((l) =>
      /^tactic: layer '.*' \(Conv\) runs conv\.(gemm|winograd) from kiln \(timed: conv\.gemm [\d.]+ ms, conv\.winograd [\d.]+ ms\)$/.test(
        l,
      ),
    );
    expect(timedLines.length).toBeGreaterThan(0);

    const second = await build(`--timingCacheFile=${cache}`);
    expect(second.timed).toBe(0);
    expect(second.cached).toBe(first.timed + first.cached);
    expect(second.log.filter((l) => l.endsWith('(from the timing cache)'))).toHaveLength(
      second.cached,
    );
  });

  it('level 0 takes the heuristic without timing', async () => {
    const r = await build('--builderOptimizationLevel=0');
    expect(r.timed).toBe(0);
    expect(r.heuristic).toBeGreaterThan(0);
  });

  it.skipIf(!hasOnednn)('--tacticSources=+ONEDNN times oneDNN beside the defaults', async () => {
    const r = await build('--tacticSources=+ONEDNN', '--builderOptimizationLevel=1');
    expect(r.timed).toBeGreaterThan(0);
    const onednn = r.log.filter((l) => /\(timed: .*conv\.onednn [\d.]+ ms\)$/.test(l));
    expect(onednn.length).toBeGreaterThan(0);
  });

  it('--tacticSources: adds and removes sources, refuses unknown names and an empty set', async () => {
    expect(parseTacticSources('-kiln,+kiln')).toEqual(['kiln']);
    if (hasOnednn) expect(parseTacticSources('+onednn, -Kiln')).toEqual(['onednn']);
    for (const [spec, message] of [
      ['-kiln', /leaves no tactic source/],
      ['+cudnn', /a source this addon has \(kiln/],
      ['onednn', /expected \+name or -name/],
    ] as const) {
      expect(() => parseTacticSources(spec), spec).toThrow(message);
      const r = await kiln('build', `--onnx=${det}`, `--tacticSources=${spec}`);
      expect(r.code, spec).toBe(2);
      expect(r.err).toMatch(message);
    }
  });

  it('refuses a level outside 0-5 with the usage line', async () => {
    const r = await kiln('build', `--onnx=${det}`, '--builderOptimizationLevel=9');
    expect(r.code).toBe(2);
    expect(r.err).toContain('builderOptimizationLevel');
    expect(r.err).toContain('usage: kiln build');
  });
});

describe.skipIf(missingReason(qdq) !== undefined)(
  'kiln inspect: per-layer precision and tactic',
  () => {
    it('shows the int8 layers of a Q/DQ engine, the fp32 ones, and the tactic each conv got', async () => {
      const engine = path.join(dir, 'mobilenet-qdq.kiln');
      const built = await kiln(
        'build',
        `--onnx=${qdq}`,
        '--shapes=input:1x3x224x224',
        '--int8',
        `--saveEngine=${engine}`,
      );
      expect(built.code, built.err).toBe(0);
      const layers = (await kiln('inspect', engine)).out
        .split('\n')
        .filter((l) => l.startsWith('  layer '));
      const int8 = layers.filter((l) => /: QLinearConv( \+\w+)? int8 /.test(l));
      expect(int8.length).toBeGreaterThan(40);
      // Every layer carries a precision; the classifier head's output is dequantized to fp32.
      for (const l of layers)
        expect(l).toMatch(/: \w+( \+\w+)? (fp32|fp16|int8)( \[[\w.]+ from \w+\])? \(/);
      expect(layers.some((l) => / fp32 /.test(l))).toBe(true);

      const fp32 = path.join(dir, 'det-fp32.kiln');
      expect(
        (await kiln('build', `--onnx=${det}`, '--shapes=x:1x3x320x320', `--saveEngine=${fp32}`))
          .code,
      ).toBe(0);
      const convs = (await kiln('inspect', fp32)).out.split('\n').filter((l) => /: Conv\b/.test(l));
      expect(convs.length).toBeGreaterThan(0);
      // Each conv names its tactic and the tactic's source (kiln's own by default).
      for (const l of convs)
        expect(l).toMatch(/: Conv( \+\w+)? fp32 \[conv\.(gemm|winograd) from kiln\] \(/);
    });
  },
);
