import { readFileSync } from 'node:fs';
import { isKilnError } from '@kiln/core';
import { describe, expect, it } from 'vitest';
import { runInference } from '../infer/infer';
import { ElemType } from '../ir/elem-type';
import { setBatchSize } from '../passes/set-batch-size';
import { f32, i64, tinyModel } from '../test-support/build';
import { absent, ALL_MODELS } from '../test-support/models';
import { loadModel } from './load';
import { serializeModel } from './save';

// A seeded generator so a failure names a case that can be replayed.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 4294967296;
  };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  const b = Uint8Array.from(src);
  switch (pick(5)) {
    case 0:
      return b.subarray(0, pick(b.length)); // truncated
    case 1: {
      for (let k = 0, n = 1 + pick(8); k < n; k++) b[pick(b.length)] = pick(256); // flipped bytes
      return b;
    }
    case 2: {
      const at = pick(b.length); // a varint-ish byte run inserted
      const run = Uint8Array.from({ length: 1 + pick(11) }, () => 0x80 | pick(256));
      return concat(b.subarray(0, at), run, b.subarray(at));
    }
    case 3: {
      const at = pick(b.length); // a slice deleted
      return concat(b.subarray(0, at), b.subarray(at + 1 + pick(16)));
    }
    default: {
      const at = pick(b.length); // a bit flipped
      b[at]! ^= 1 << pick(8);
      return b;
    }
  }
}

/** Loads a mutated model and pushes it through inference (and, when `passes`, the passes); returns the error, if any. */
function exercise(bytes: Uint8Array, passes: boolean): unknown {
  try {
    const m = loadModel(bytes);
    runInference(m);
    if (passes) {
      serializeModel(m);
      setBatchSize(m, 2);
    }
    return undefined;
  } catch (error) {
    return error;
  }
}

function fuzz(
  name: string,
  src: Uint8Array,
  cases: number,
  seed: number,
  passes = true,
): { loaded: number; kiln: number } {
  const r = rng(seed);
  let loaded = 0;
  let kiln = 0;
  for (let i = 0; i < cases; i++) {
    const error = exercise(mutate(src, r), passes);
    if (error === undefined) loaded++;
    else if (isKilnError(error)) kiln++;
    else
      throw new Error(
        `${name} case ${i} (seed ${seed}): not a KilnError: ${(error as Error)?.stack ?? String(error)}`,
      );
  }
  return { loaded, kiln };
}

function smallModel(): Uint8Array {
  return serializeModel(
    tinyModel({
      inputs: [['x', ElemType.FLOAT, ['batch', 4]]],
      outputs: [['y', ElemType.FLOAT, ['batch', 2, 2]]],
      nodes: [
        { opType: 'Add', name: 'add', inputs: ['x', 'w'], outputs: ['a'] },
        { opType: 'Reshape', name: 'r', inputs: ['a', 's'], outputs: ['y'] },
      ],
      initializers: [
        ['w', f32([1, 2, 3, 4])],
        ['s', i64([-1, 2, 2])],
      ],
    }),
  );
}

describe('fuzz: mutated and truncated models give only KilnErrors', () => {
  it('on a small hand-built model (3000 cases)', () => {
    const { loaded, kiln } = fuzz('small', smallModel(), 3000, 1);
    expect(kiln).toBeGreaterThan(1000); // the mutations do break things
    expect(loaded + kiln).toBe(3000);
  });

  // Real files are larger, so fewer cases; Silero (If subgraphs, slow passes) gets load + inference only.
  const real: [string, number][] = [
    ['fashion_mnist_cnn', 1500],
    ['ch_ppocr_mobile_v2.0_cls_infer', 1500],
    ['silero_vad', 800],
  ];
  describe.each(
    real.map(([n, cases]) => ({ spec: ALL_MODELS.find((m) => m.name === n)!, cases, name: n })),
  )('on $name', ({ spec, cases }) => {
    it.skipIf(absent(spec) !== undefined)(`${cases} cases`, () => {
      const { kiln } = fuzz(
        spec.name,
        readFileSync(spec.path),
        cases,
        7,
        spec.name !== 'silero_vad',
      );
      expect(kiln).toBeGreaterThan(cases / 10);
    });
  });
});
