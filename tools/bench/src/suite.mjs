// The benchmark suite: which models, at which input sizes, and where to find them.
import { loadModel } from '@kiln/onnx';
import { MODELS_DIR, missingReason, npmFile, sharedModel } from '@kiln/test-data';

/**
 * @typedef {object} SuiteModel
 * @property {string} id what --models selects
 * @property {string} path
 * @property {'npm' | 'shared'} source npm models always run; shared ones when ../shared/models is present
 * @property {number[]} sampleShape one sample's input shape (without the batch dim)
 * @property {boolean} quantized an int8 QDQ model (no % of FP32 peak)
 */

/** @type {SuiteModel[]} */
export const SUITE = [
  {
    id: 'ppocr_det',
    path: npmFile('ocr-models', 'assets', 'ch_PP-OCRv4_det_infer.onnx'),
    source: 'npm',
    sampleShape: [3, 640, 640],
    quantized: false,
  },
  {
    id: 'ppocr_rec',
    path: npmFile('ocr-models', 'assets', 'ch_PP-OCRv4_rec_infer.onnx'),
    source: 'npm',
    sampleShape: [3, 48, 320],
    quantized: false,
  },
  {
    id: 'ppocr_cls',
    path: npmFile('ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    source: 'npm',
    sampleShape: [3, 48, 192],
    quantized: false,
  },
  ...['resnet50', 'mobilenet_v2', 'deit_tiny', 'resnet50_int8_qdq', 'mobilenet_v2_int8_qdq'].map(
    (id) =>
      /** @type {SuiteModel} */ ({
        id,
        path: sharedModel(`${id}.onnx`),
        source: 'shared',
        sampleShape: [3, 224, 224],
        quantized: id.includes('int8'),
      }),
  ),
];

/** The ids --models accepts. */
export const MODEL_IDS = SUITE.map((m) => m.id);

/**
 * @typedef {object} Job
 * @property {SuiteModel} model
 * @property {number} batch
 * @property {{ name: string, shape: number[] }[]} inputs
 */

/**
 * The jobs to run (model x batch) and the reasons others are skipped. A batch other than 1
 * runs only where the model's input has a dynamic batch dim.
 * @param {readonly string[]} ids
 * @param {readonly number[]} batches
 * @returns {{ jobs: Job[], skipped: { id: string, batch?: number, reason: string }[] }}
 */
export function planJobs(ids, batches) {
  /** @type {Job[]} */
  const jobs = [];
  const skipped = [];
  for (const model of SUITE.filter((m) => ids.includes(m.id))) {
    const missing = missingReason(model.path);
    if (missing !== undefined) {
      const reason =
        model.source === 'shared'
          ? `shared models absent (looked in ${MODELS_DIR}; set KILN_MODELS_DIR)`
          : missing;
      skipped.push({ id: model.id, reason });
      continue;
    }
    const graphInputs = graphInputsOf(model.path);
    for (const batch of batches) {
      const fixed = graphInputs.find((i) => batch !== 1 && typeof i.shape[0] === 'number');
      if (fixed) {
        skipped.push({
          id: model.id,
          batch,
          reason: `input '${fixed.name}' has a fixed batch dim ${fixed.shape[0]}`,
        });
        continue;
      }
      jobs.push({
        model,
        batch,
        inputs: graphInputs.map((i) => ({ name: i.name, shape: [batch, ...model.sampleShape] })),
      });
    }
  }
  return { jobs, skipped };
}

/**
 * The real inputs of a model (graph inputs that are not initializers), float32 only.
 * @param {string} path
 * @returns {{ name: string, shape: (number | string | null)[] }[]}
 */
function graphInputsOf(path) {
  const model = loadModel(path);
  const inputs = model.graph.inputs.filter((v) => !model.graph.initializers.has(v.name));
  if (inputs.length !== 1 || inputs[0].elemType !== 1)
    throw new Error(`${path}: the bench feeds one float32 input; this model has ${inputs.length}`);
  return inputs.map((v) => ({ name: v.name, shape: v.shape ?? [] }));
}
