// The real models the tests run on, and where to find them (see tools/test-data).
import { missingReason, npmFile, sharedModel } from '@kiln/test-data';

/** A test model: its file and input sizes for its symbolic dims. */
export interface TestModel {
  name: string;
  path: string;
  /** Sizes for symbolic/unknown dims, by input name then dim index. */
  dims?: Record<string, Record<number, number>>;
  /** Fixed values for scalar inputs (e.g. Silero's sample rate). */
  values?: Record<string, number[]>;
}

const image = { dims: {} };

/** The shared reference models. */
export const SHARED_MODELS: TestModel[] = [
  'resnet50',
  'resnet50_int8_qdq',
  'mobilenet_v2',
  'mobilenet_v2_int8_qdq',
  'deit_tiny',
  'fashion_mnist_cnn',
].map((n) => ({ name: n, path: sharedModel(`${n}.onnx`), ...image }));

const ocr = (file: string, h: number, w: number): TestModel => ({
  name: file,
  path: npmFile('ocr-models', 'assets', `${file}.onnx`),
  dims: { x: { 0: 1, 2: h, 3: w } },
});

const vad = (file: string): TestModel => ({
  name: file,
  path: npmFile('silero-vad', 'weights', `${file}.onnx`),
  dims: { input: { 0: 1, 1: 512 }, state: { 1: 1 } },
  values: { sr: [16000] },
});

/** The npm models: PP-OCR and Silero VAD. */
export const NPM_MODELS: TestModel[] = [
  ocr('ch_PP-OCRv4_det_infer', 64, 96),
  ocr('ch_PP-OCRv4_rec_infer', 48, 160),
  ocr('ch_ppocr_mobile_v2.0_cls_infer', 48, 192),
  vad('silero_vad'),
  vad('silero_vad_16k_op15'),
  vad('silero_vad_half'),
  vad('silero_vad_op18_ifless'),
];

/** Every real test model. */
export const ALL_MODELS = [...SHARED_MODELS, ...NPM_MODELS];

/** Why a model is absent (printed by the skip), or undefined. */
export function absent(m: TestModel): string | undefined {
  const reason = missingReason(m.path);
  if (reason !== undefined) console.warn(`[skip] ${m.name}: ${reason}`);
  return reason;
}
