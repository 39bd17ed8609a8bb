import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isKilnError } from '@kiln/core';
import {
  convertGraphDef,
  convertSavedModel,
  convertTfjs,
  encodeGraphDef,
  type TfNode,
} from './index';
import { HUMAN_MODELS_DIR, missing, rng, SAVEDMODELS_DIR } from '../test-support/data';

const work = mkdtempSync(join(tmpdir(), 'kiln-tf2onnx-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `fn` and requires success or a KilnError — never another exception. */
function onlyKilnErrors(fn: () => unknown): 'ok' | 'error' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (!isKilnError(e)) throw new Error(`not a KilnError: ${String(e)}\n${(e as Error).stack}`);
    return 'error';
  }
}

function mutate(bytes: Uint8Array, random: () => number): Uint8Array {
  const kind = Math.floor(random() * 4);
  if (kind === 0) return bytes.slice(0, Math.floor(random() * bytes.length)); // truncate
  const out = bytes.slice();
  const edits = 1 + Math.floor(random() * 8);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * out.length);
    if (kind === 1) out[at] = Math.floor(random() * 256);
    else if (kind === 2) out[at] = out[at]! ^ (1 << Math.floor(random() * 8));
    else out[at] = [0x00, 0xff, 0x7f, 0x80][Math.floor(random() * 4)]!;
  }
  return out;
}

const savedAbsent = missing(
  join(SAVEDMODELS_DIR, 'uint8_multiply'),
  'set KILN_TF_SAVEDMODELS_DIR to the tf-savedmodels folder',
);
const tfjsAbsent = missing(
  join(HUMAN_MODELS_DIR, 'emotion.json'),
  'run `node tools/test-data/fetch.mjs`',
);

describe.skipIf(savedAbsent !== undefined)('malformed SavedModels give KilnErrors', () => {
  const src = join(SAVEDMODELS_DIR, 'uint8_multiply');
  const dir = join(work, 'sm');
  cpSync(src, dir, { recursive: true });

  it('300 mutated or truncated saved_model.pb files', () => {
    const pb = readFileSync(join(src, 'saved_model.pb'));
    const random = rng(11);
    const counts = { ok: 0, error: 0 };
    for (let i = 0; i < 300; i++) {
      writeFileSync(join(dir, 'saved_model.pb'), mutate(pb, random));
      counts[onlyKilnErrors(() => convertSavedModel(dir))]++;
    }
    writeFileSync(join(dir, 'saved_model.pb'), pb);
    expect(counts.error).toBeGreaterThan(100);
  });

  it('200 mutated or truncated variables.index / data files', () => {
    const random = rng(12);
    const counts = { ok: 0, error: 0 };
    for (const file of ['variables.index', 'variables.data-00000-of-00001']) {
      const original = readFileSync(join(src, 'variables', file));
      for (let i = 0; i < 100; i++) {
        writeFileSync(join(dir, 'variables', file), mutate(original, random));
        counts[onlyKilnErrors(() => convertSavedModel(dir))]++;
      }
      writeFileSync(join(dir, 'variables', file), original);
    }
    expect(counts.error).toBeGreaterThan(50);
  });

  it('a variables folder that is a symlink out of the model folder is refused', () => {
    const evil = join(work, 'sm-evil');
    mkdirSync(evil);
    cpSync(join(src, 'saved_model.pb'), join(evil, 'saved_model.pb'));
    symlinkSync(join(src, 'variables'), join(evil, 'variables'));
    expect(() => convertSavedModel(evil)).toThrow(/outside the model folder/);
  });
});

describe.skipIf(tfjsAbsent !== undefined)('malformed TF.js models give KilnErrors', () => {
  const dir = join(work, 'tfjs');
  mkdirSync(dir);
  const json = readFileSync(join(HUMAN_MODELS_DIR, 'emotion.json'), 'utf8');
  const bin = readFileSync(join(HUMAN_MODELS_DIR, 'emotion.bin'));
  writeFileSync(join(dir, 'emotion.bin'), bin);

  it('150 mutated model.json texts and 50 truncated weight files', () => {
    const random = rng(13);
    const counts = { ok: 0, error: 0 };
    const bytes = new TextEncoder().encode(json);
    for (let i = 0; i < 150; i++) {
      writeFileSync(join(dir, 'model.json'), mutate(bytes, random));
      counts[onlyKilnErrors(() => convertTfjs(join(dir, 'model.json')))]++;
    }
    writeFileSync(join(dir, 'model.json'), json);
    for (let i = 0; i < 50; i++) {
      writeFileSync(join(dir, 'emotion.bin'), bin.subarray(0, Math.floor(random() * bin.length)));
      counts[onlyKilnErrors(() => convertTfjs(join(dir, 'model.json')))]++;
    }
    writeFileSync(join(dir, 'emotion.bin'), bin);
    expect(counts.error).toBeGreaterThan(80);
  });

  it.each([
    ['../emotion.bin', /leaves the model folder/],
    ['/etc/passwd', /absolute path/],
    ['sub/../../emotion.bin', /leaves the model folder/],
  ])('a weight path %s is refused', (path, message) => {
    const m = JSON.parse(json);
    m.weightsManifest[0].paths = [path];
    writeFileSync(join(dir, 'escape.json'), JSON.stringify(m));
    try {
      convertTfjs(join(dir, 'escape.json'));
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, 'INVALID_MODEL')).toBe(true);
      expect(String(e)).toMatch(message);
    }
  });

  it('a weight shard that is a symlink to a file outside is refused', () => {
    const m = JSON.parse(json);
    m.weightsManifest[0].paths = ['link.bin'];
    symlinkSync(join(HUMAN_MODELS_DIR, 'emotion.bin'), join(dir, 'link.bin'));
    writeFileSync(join(dir, 'link.json'), JSON.stringify(m));
    expect(() => convertTfjs(join(dir, 'link.json'))).toThrow(/outside the model folder/);
  });
});

describe('GraphDef conversion', () => {
  const c = (name: string, dtype: number, shape: number[], data: Uint8Array): TfNode => ({
    name,
    op: 'Const',
    inputs: [],
    attr: { dtype: { type: dtype }, value: { tensor: { dtype, shape, data } } },
  });
  const ph: TfNode = {
    name: 'x',
    op: 'Placeholder',
    inputs: [],
    attr: { dtype: { type: 1 }, shape: { shape: [-1, 4] } },
  };

  it('every unsupported node is listed in one KilnError', () => {
    const pb = encodeGraphDef({
      nodes: [
        ph,
        { name: 'a', op: 'Frobnicate', inputs: ['x'], attr: {} },
        { name: 'b', op: 'Relu', inputs: ['a'], attr: {} },
        { name: 'c', op: 'Wibble', inputs: ['b'], attr: {} },
      ],
      functions: new Map(),
    });
    try {
      convertGraphDef(pb);
      expect.unreachable();
    } catch (e) {
      expect(isKilnError(e, 'UNSUPPORTED')).toBe(true);
      expect(String(e)).toMatch(/2 node\(s\).*a \(Frobnicate\), c \(Wibble\)/);
    }
  });

  it('inputs/outputs selection and options are validated', () => {
    const w = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    const pb = encodeGraphDef({
      nodes: [
        ph,
        c('w', 1, [4], w),
        { name: 'y', op: 'Mul', inputs: ['x', 'w'], attr: { T: { type: 1 } } },
        { name: 'z', op: 'Relu', inputs: ['y'], attr: {} },
      ],
      functions: new Map(),
    });
    const { model } = convertGraphDef(pb, { outputs: ['y:0'], rename: { y: 'scaled' } });
    expect(model.graph.outputs.map((o) => o.name)).toEqual(['scaled']);
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['Mul']);
    expect(() => convertGraphDef(pb, { opset: 9 })).toThrow(/between 13 and 21 for opset/);
    expect(() => convertGraphDef(pb, { outputs: ['nope:0'] })).toThrow(/names no node/);
    expect(() => convertGraphDef(new Uint8Array([0x0a, 0x05, 1]))).toThrow(/passes the end/);
  });
});
