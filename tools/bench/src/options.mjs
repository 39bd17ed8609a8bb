// Command-line flags of bench.mjs, validated with messages that say what was expected.
import { parseArgs } from 'node:util';

import { MODEL_IDS } from './suite.mjs';

/** The flags, their defaults and what they mean (printed by --help). */
export const FLAGS = {
  models: { default: MODEL_IDS.join(','), help: 'comma-separated model ids' },
  batch: { default: '1,8', help: 'comma-separated batch sizes (>1 only for dynamic-batch models)' },
  threads: {
    default: '2',
    help: 'threads for each runtime (KILN_NUM_THREADS, ORT intraOpNumThreads)',
  },
  rounds: { default: '5', help: 'rounds, each running kiln then ORT' },
  iterations: { default: '10', help: 'timed iterations per loop (compute, end to end) per round' },
  warmup: { default: '2', help: 'untimed iterations per runtime at the start of each round' },
  'max-seconds': {
    default: '8',
    help: 'cap per runtime per round on the timed loops (>= 3 iterations)',
  },
  'peak-seconds': { default: '1', help: 'time per FMA peak measurement; 0 skips the peak' },
  out: { default: '', help: 'folder for RESULTS.md and results.json (default: tools/bench)' },
};

/**
 * @param {string} name
 * @param {string} what
 * @param {unknown} value
 */
function invalid(name, what, value) {
  return new Error(`Expected ${what} for --${name} but received ${JSON.stringify(value)}`);
}

/**
 * @param {string} name
 * @param {string} value
 * @param {number} min
 */
function integer(name, value, min) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw invalid(name, `an integer >= ${min}`, value);
  return n;
}

/**
 * @param {string[]} argv arguments after the script
 * @param {string} defaultOut
 * @returns {{ help: true } | { help: false, out: string, options: import('./harness.mjs').BenchOptions }}
 */
export function parseOptions(argv, defaultOut) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(
        Object.entries(FLAGS).map(([k, f]) => [k, { type: 'string', default: f.default }]),
      ),
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return { help: true };
  const v = /** @type {Record<string, string>} */ (values);
  const models = v.models
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = models.filter((m) => !MODEL_IDS.includes(m));
  if (models.length === 0 || unknown.length > 0)
    throw invalid('models', `a list of ${MODEL_IDS.join(', ')}`, v.models);
  const batches = v.batch.split(',').map((s) => integer('batch', s.trim(), 1));
  const maxSeconds = Number(v['max-seconds']);
  if (!(maxSeconds > 0)) throw invalid('max-seconds', 'a number of seconds > 0', v['max-seconds']);
  const peakSeconds = Number(v['peak-seconds']);
  if (!(peakSeconds >= 0))
    throw invalid('peak-seconds', 'a number of seconds >= 0', v['peak-seconds']);
  return {
    help: false,
    out: v.out || defaultOut,
    options: {
      models,
      batches: [...new Set(batches)],
      threads: integer('threads', v.threads, 1),
      rounds: integer('rounds', v.rounds, 1),
      iterations: integer('iterations', v.iterations, 1),
      warmup: integer('warmup', v.warmup, 0),
      maxSeconds,
      peakSeconds,
    },
  };
}
