import fs from 'node:fs';

import {
  CALIBRATOR_NAMES,
  type CalibrationAlgorithm,
  type Calibrator,
  EntropyCalibrator,
  ImageBatcher,
  ImageBatcherCalibrator,
  MinMaxCalibrator,
  PercentileCalibrator,
  readCalibrationCache,
} from '@kiln/calibrator';
import { Tensor, typedArrayConstructor } from '@kiln/core';

import { parseNpy } from '../npy';
import { UsageError, numberFlag } from '../usage';

/** trtexec's calibration flags, plus the preprocessing of a folder of images. */
export interface CalibrationFlags {
  /** The calibration cache: read instead of calibrating when it exists, written otherwise. */
  calib?: string;
  /** A folder of images, or a .npy file holding [N, ...input dims] samples. */
  calibData?: string;
  calibNum?: string;
  calibBatchSize?: string;
  calibrator?: string;
  calibPercentile?: string;
  calibColor?: string;
  calibFit?: string;
  calibMean?: string;
  calibStd?: string;
  calibScale?: string;
  calibOffset?: string;
}

const ALGORITHMS = ['minmax', 'entropy', 'percentile'] as const;
const CALIB_FLAGS = [
  'calib',
  'calibData',
  'calibNum',
  'calibBatchSize',
  'calibrator',
  'calibPercentile',
  'calibColor',
  'calibFit',
  'calibMean',
  'calibStd',
  'calibScale',
  'calibOffset',
] as const;

const numbers = (flag: string, v: string) =>
  v.split(',').map((s) => {
    const n = Number(s);
    if (!Number.isFinite(n)) throw new UsageError(`--${flag}: '${v}' is not a number list`);
    return n;
  });

/**
 * The INT8 calibrator the flags describe for the network input `input` (its name and the
 * profile's opt shape), or undefined when no calibration flag is given.
 */
export function calibratorFromFlags(
  flags: CalibrationFlags & { int8?: boolean; best?: boolean },
  input: { name: string; shape: number[] },
): Calibrator | undefined {
  const given = CALIB_FLAGS.filter((f) => flags[f] !== undefined);
  if (given.length === 0) return undefined;
  if (!flags.int8 && !flags.best)
    throw new UsageError(`--${given[0]} calibrates INT8: add --int8 (or --best)`);
  const algorithm = (flags.calibrator ??
    cachedAlgorithm(flags) ??
    'entropy') as CalibrationAlgorithm;
  if (!ALGORITHMS.includes(algorithm))
    throw new UsageError(
      `--calibrator: '${flags.calibrator}' is not minmax, entropy or percentile`,
    );
  const percentile = numberFlag('calibPercentile', flags.calibPercentile, false);
  if (percentile !== undefined && algorithm !== 'percentile')
    throw new UsageError('--calibPercentile goes with --calibrator=percentile');
  const batchSize = numberFlag('calibBatchSize', flags.calibBatchSize) ?? 8;
  const limit = numberFlag('calibNum', flags.calibNum);
  if (batchSize < 1) throw new UsageError('--calibBatchSize: expected at least 1');
  if (!flags.calibData) {
    if (!flags.calib || !fs.existsSync(flags.calib))
      throw new UsageError(
        `give --calibData=DIR|FILE.npy to calibrate${flags.calib ? ` (the cache ${flags.calib} does not exist yet)` : ''}`,
      );
    // A cache alone: the builder reads it and never asks for a batch.
    return batchCalibrator(
      algorithm,
      { batches: () => [], batchSize, cacheFile: flags.calib },
      percentile,
    );
  }
  if (!fs.existsSync(flags.calibData))
    throw new UsageError(`--calibData: no such file or folder '${flags.calibData}'`);
  if (fs.statSync(flags.calibData).isDirectory())
    return imageCalibrator(flags, input, algorithm, batchSize, limit, percentile);
  if (!flags.calibData.endsWith('.npy'))
    throw new UsageError(
      `--calibData: '${flags.calibData}' is neither a folder of images nor a .npy file`,
    );
  const array = parseNpy(new Uint8Array(fs.readFileSync(flags.calibData)), flags.calibData);
  const sample = input.shape.slice(1);
  if (array.dtype !== 'float32' || array.shape.slice(1).join('x') !== sample.join('x'))
    throw new UsageError(
      `--calibData: ${flags.calibData} holds ${array.dtype} [${array.shape.join(', ')}]; '${input.name}' needs float32 [N, ${sample.join(', ')}]`,
    );
  const count = Math.min(array.shape[0]!, limit ?? Infinity);
  const per = sample.reduce((a, b) => a * b, 1);
  const floats = new (typedArrayConstructor('float32'))(
    array.data.buffer.slice(array.data.byteOffset, array.data.byteOffset + array.data.byteLength),
  );
  // Whole batches only: calibration runs the network at one batch size.
  const batches = () =>
    Array.from({ length: Math.floor(count / batchSize) }, (_, b) => ({
      [input.name]: new Tensor(
        'float32',
        [batchSize, ...sample],
        floats.slice(b * batchSize * per, (b + 1) * batchSize * per),
      ),
    }));
  if (count < batchSize)
    throw new UsageError(`--calibData: ${count} samples make no batch of ${batchSize}`);
  return batchCalibrator(algorithm, { batches, batchSize, cacheFile: flags.calib }, percentile);
}

// With a cache and no --calibrator, the cache's header says which algorithm wrote it.
function cachedAlgorithm(flags: CalibrationFlags): CalibrationAlgorithm | undefined {
  if (flags.calibData || !flags.calib || !fs.existsSync(flags.calib)) return undefined;
  const { calibrator } = readCalibrationCache(fs.readFileSync(flags.calib));
  return ALGORITHMS.find((a) => CALIBRATOR_NAMES[a] === calibrator);
}

function batchCalibrator(
  algorithm: CalibrationAlgorithm,
  options: ConstructorParameters<typeof MinMaxCalibrator>[0],
  percentile: number | undefined,
): Calibrator {
  if (algorithm === 'minmax') return new MinMaxCalibrator(options);
  if (algorithm === 'entropy') return new EntropyCalibrator(options);
  return new PercentileCalibrator({ ...options, percentile });
}

// A folder of images through the ImageBatcher, laid out as the input wants: NCHW when dim 1 is
// 1 or 3 channels, else NHWC; grayscale for one channel.
function imageCalibrator(
  flags: CalibrationFlags,
  input: { name: string; shape: number[] },
  algorithm: CalibrationAlgorithm,
  batchSize: number,
  limit: number | undefined,
  percentile: number | undefined,
): Calibrator {
  const [, a, b, c] = input.shape;
  if (input.shape.length !== 4)
    throw new UsageError(
      `--calibData: images need a 4-D input; '${input.name}' is [${input.shape.join(', ')}]`,
    );
  const color = flags.calibColor;
  if (color !== undefined && !['rgb', 'bgr', 'grayscale'].includes(color))
    throw new UsageError(`--calibColor: '${color}' is not rgb, bgr or grayscale`);
  if (flags.calibFit !== undefined && !['stretch', 'letterbox', 'cover'].includes(flags.calibFit))
    throw new UsageError(`--calibFit: '${flags.calibFit}' is not stretch, letterbox or cover`);
  const nchw = a === 1 || a === 3;
  const [channels, height, width] = nchw ? [a!, b!, c!] : [c!, a!, b!];
  if (flags.calibMean !== undefined && flags.calibScale !== undefined)
    throw new UsageError('give --calibMean/--calibStd or --calibScale/--calibOffset, not both');
  const one = (flag: string, v: string) => {
    const list = numbers(flag, v);
    return list.length === 1 ? list[0]! : list;
  };
  const byMean = flags.calibMean !== undefined || flags.calibStd !== undefined;
  const batcher = new ImageBatcher({
    input: flags.calibData!,
    width,
    height,
    layout: nchw ? 'nchw' : 'nhwc',
    color: (color ?? (channels === 1 ? 'grayscale' : 'rgb')) as 'rgb',
    fit: (flags.calibFit ?? 'stretch') as 'stretch',
    normalize: byMean
      ? {
          mean: one('calibMean', flags.calibMean ?? '0'),
          std: one('calibStd', flags.calibStd ?? '1'),
        }
      : {
          scale: one('calibScale', flags.calibScale ?? String(1 / 255)),
          offset: one('calibOffset', flags.calibOffset ?? '0'),
        },
    batchSize,
    remainder: 'exact',
    maxImages: limit,
  });
  return new ImageBatcherCalibrator({
    batcher,
    algorithm,
    percentile,
    inputName: input.name,
    cacheFile: flags.calib,
  });
}
