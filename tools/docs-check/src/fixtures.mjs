// The files README snippets name, made from real models and images: a snippet that says
// 'model.onnx' finds a real ONNX model of that name in its folder. Each fixture lists its
// sources, so that a snippet whose data is absent skips saying what to fetch.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { debFile, missingReason, npmFile, sharedModel, MODELS_DIR } from '@kiln/test-data';

const ocr = (file) => npmFile('ocr-models', 'assets', file);
const human = (file) => npmFile('human-models', 'models', file);
const skimage = (file) =>
  debFile('python3-skimage', 'usr/lib/python3/dist-packages/skimage/data', file);
/** PP-OCR's text direction classifier: x [N, 3, 48, 192] -> [N, 2]; small and fast to build. */
const CLASSIFIER = ocr('ch_ppocr_mobile_v2.0_cls_infer.onnx');
/** A TF2 SavedModel computing 3x (next to the shared models: <shared>/tf-savedmodels). */
const SAVED_MODEL = join(MODELS_DIR, '..', 'tf-savedmodels', 'times_three_float');
/** Natural photos, as a calibration set would hold. */
const PHOTOS = [
  'astronaut.png',
  'chelsea.png',
  'coffee.png',
  'hubble_deep_field.jpg',
  'motorcycle_left.png',
  'rocket.jpg',
];

/** name in a snippet -> { sources, make(dest, cache) }; cache is a folder shared by all snippets. */
export const FIXTURES = {
  'model.onnx': copyOf(CLASSIFIER),
  'ch_PP-OCRv4_det_infer.onnx': copyOf(ocr('ch_PP-OCRv4_det_infer.onnx')),
  'model.kiln': {
    sources: [CLASSIFIER],
    make: async (dest, cache) => cpSync(await once(cache, 'model.kiln', buildClassifier), dest),
  },
  'x.npy': {
    sources: [skimage('page.png')],
    make: async (dest, cache) => cpSync(await once(cache, 'x.npy', pageNpy), dest),
  },
  'fashion_mnist_cnn.onnx': copyOf(sharedModel('fashion_mnist_cnn.onnx')),
  'train-images-idx3-ubyte.gz': copyOf(
    debFile('dataset-fashion-mnist', 'usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'),
  ),
  // TF.js graph models: model.json names its weight file, which is copied beside it.
  'model.json': tfjs('blazeface'),
  'blazeface.json': tfjs('blazeface'),
  'frozen.pb': {
    sources: [human('blazeface.json')],
    make: async (dest, cache) => cpSync(await once(cache, 'frozen.pb', frozenBlazeface), dest),
  },
  my_model: {
    sources: [join(SAVED_MODEL, 'saved_model.pb')],
    make: (dest) => cpSync(SAVED_MODEL, dest, { recursive: true }),
  },
  'calibration-images': {
    sources: PHOTOS.map(skimage),
    make: (dest) => {
      mkdirSync(dest);
      for (const photo of PHOTOS) cpSync(skimage(photo), join(dest, photo));
    },
  },
};

/** The fixtures a snippet names, as a whole word (`model.onnx`, not `model_b8.onnx`). */
export function fixturesNamedIn(code) {
  return Object.keys(FIXTURES).filter((name) => {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`(?<![\\w.-])${escaped}(?![\\w-]|\\.\\w)`).test(code);
  });
}

/** Why the fixtures cannot be made, or undefined. */
export function fixturesMissing(names) {
  for (const name of names) {
    for (const source of FIXTURES[name].sources) {
      const reason = missingReason(source);
      if (reason !== undefined) return `${name}: ${reason}`;
    }
  }
  return undefined;
}

export async function makeFixtures(names, dir, cache) {
  for (const name of names) await FIXTURES[name].make(join(dir, name), cache);
}

function copyOf(source) {
  return { sources: [source], make: (dest) => cpSync(source, dest) };
}

function tfjs(name) {
  return {
    sources: [human(`${name}.json`), human(`${name}.bin`)],
    make: (dest) => {
      cpSync(human(`${name}.json`), dest);
      cpSync(human(`${name}.bin`), join(dest, '..', `${name}.bin`));
    },
  };
}

/** Makes cache/name with make(path) the first time; later calls reuse the file. */
const pending = new Map();
function once(cache, name, make) {
  const path = join(cache, name);
  if (!pending.has(path))
    pending.set(
      path,
      make(path).then(() => path),
    );
  return pending.get(path);
}

/** An engine of the classifier for batches 1..8, as `kiln build` would write it. */
async function buildClassifier(path) {
  const { Builder, OnnxParser } = await import('@kiln/builder');
  const builder = new Builder();
  const network = builder.createNetwork();
  new OnnxParser(network).parse(CLASSIFIER);
  const config = builder.createBuilderConfig();
  const profile = builder.createOptimizationProfile();
  config.addOptimizationProfile(
    profile.setDimensions('x', {
      min: [1, 3, 48, 192],
      opt: [1, 3, 48, 192],
      max: [8, 3, 48, 192],
    }),
  );
  writeFileSync(path, await builder.buildSerializedNetwork(network, config));
}

/** The classifier's input for page.png (a page of text) squeezed to [1, 3, 48, 192] in -1..1, as .npy. */
async function pageNpy(path) {
  const { ImagePreprocessor } = await import('@kiln/calibrator');
  const pre = new ImagePreprocessor({
    width: 192,
    height: 48,
    fit: 'stretch',
    normalize: { scale: 2 / 255, offset: -1 },
  });
  writeFileSync(path, npy(await pre.preprocess(skimage('page.png'))));
}

/** A float32 tensor as NumPy's .npy (version 1.0, little-endian, C order). */
function npy(tensor) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${tensor.shape.join(', ')}), }`;
  header = header.padEnd(((10 + header.length + 1 + 63) & ~63) - 10 - 1) + '\n';
  const prefix = Buffer.concat([
    Buffer.from([0x93]),
    Buffer.from('NUMPY'),
    Buffer.from([1, 0, header.length, 0]),
  ]);
  const data = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]);
}

/** blazeface as a frozen TF GraphDef (.pb), written from its TF.js graph. */
async function frozenBlazeface(path) {
  const { encodeGraphDef, readTfjs } = await import('@kiln/tf2onnx');
  writeFileSync(path, encodeGraphDef(readTfjs(human('blazeface.json')).graph));
}
