import { expectInteger, expectOneOf, invalidParameterError } from '@kiln/core';

/** How an image is brought to the target size. */
export type FitMode = 'stretch' | 'letterbox' | 'cover';
/** Channel order of the output (grayscale is one channel: round(0.299 R + 0.587 G + 0.114 B)). */
export type ColorOrder = 'rgb' | 'bgr' | 'grayscale';
/** Tensor layout: channels before (NCHW) or after (NHWC) the pixels. */
export type ImageLayout = 'nchw' | 'nhwc';
/** The output element types an ImageBatcher writes. */
export type ImageDataType = 'float32' | 'float16' | 'uint8';
/** sharp's resampling kernels. */
export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';
/** What happens to the images left over after the last full batch. */
export type Remainder = 'exact' | 'pad';
/** How a padded last batch is filled: repeating its last real image, or zeros. */
export type PadFill = 'repeat' | 'zero';

/** Per-channel statistics: x' = (x - mean) / std on 0..255 values, channels in output order. */
export interface MeanStdNormalization {
  /** Mean per output channel (one number applies to all). */
  mean: number | readonly number[];
  /** Standard deviation per output channel (one number applies to all); non-zero. */
  std: number | readonly number[];
}

/** An affine map: x' = x * scale + offset on 0..255 values, channels in output order. */
export interface ScaleOffsetNormalization {
  /** Factor per output channel (one number applies to all). */
  scale: number | readonly number[];
  /** Offset per output channel (one number applies to all); 0 by default. */
  offset?: number | readonly number[];
}

/** Either normalization; omitted, the 0..255 values pass unchanged. */
export type Normalization = MeanStdNormalization | ScaleOffsetNormalization;

/** How one image becomes a tensor; shared by ImageBatcher and ImagePreprocessor. */
export interface PreprocessOptions {
  /** Output width in pixels. */
  width: number;
  /** Output height in pixels. */
  height: number;
  /** 'stretch' (default) ignores the aspect; 'letterbox' keeps it and pads; 'cover' crops. */
  fit?: FitMode;
  /** Letterbox padding colour as RGB 0..255, or one gray value (default 0). */
  padColor?: number | readonly [number, number, number];
  /** Output channels (default 'rgb'). Alpha is dropped, as PIL's convert('RGB') does. */
  color?: ColorOrder;
  /** Normalization applied to 0..255 values (default none). Not allowed with dtype 'uint8'. */
  normalize?: Normalization;
  /** Output layout (default 'nchw'). */
  layout?: ImageLayout;
  /** Output element type (default 'float32'). */
  dtype?: ImageDataType;
  /** Resampling kernel (default 'linear'). */
  kernel?: ResizeKernel;
  /** Apply the EXIF orientation before resizing (default true). */
  autoOrient?: boolean;
}

/** Progress of one pass over the images. */
export interface BatcherProgress {
  /** Images consumed so far (read or skipped). */
  done: number;
  /** Images in the pass (after shuffle and maxImages). */
  total: number;
  /** Batches produced so far. */
  batches: number;
}

/** Options of an ImageBatcher: the preprocessing plus what to read and how to batch it. */
export interface ImageBatcherOptions extends PreprocessOptions {
  /** A folder (its images, sorted by name) or a list of image paths. */
  input: string | readonly string[];
  /** Images per batch (default 1). */
  batchSize?: number;
  /** 'exact' (default) drops the images after the last full batch; 'pad' fills the last batch. */
  remainder?: Remainder;
  /** With remainder 'pad': repeat the last real image (default) or leave zeros. */
  padFill?: PadFill;
  /** Use at most this many images (taken after shuffling). */
  maxImages?: number;
  /** Shuffle the images with this 32-bit seed (see shuffleInPlace); omitted, no shuffle. */
  seed?: number;
  /** Look into sub-folders of a folder input (default false). */
  recursive?: boolean;
  /** File extensions a folder input takes (default jpg, jpeg, png, webp; any case). */
  extensions?: readonly string[];
  /** Called after each batch with the pass's progress (also emitted as 'progress'). */
  onProgress?: (progress: BatcherProgress) => void;
}

/** PreprocessOptions with every default filled in and every value checked. */
export interface ResolvedPreprocessOptions {
  width: number;
  height: number;
  fit: FitMode;
  padColor: readonly [number, number, number];
  color: ColorOrder;
  channels: 1 | 3;
  /** Per output channel: x' = (x - subtract) / divide (mean/std) or x * multiply + add. */
  normalize:
    | { kind: 'none' }
    | { kind: 'meanStd'; mean: readonly number[]; std: readonly number[] }
    | { kind: 'scaleOffset'; scale: readonly number[]; offset: readonly number[] };
  layout: ImageLayout;
  dtype: ImageDataType;
  kernel: ResizeKernel;
  autoOrient: boolean;
}

/** ImageBatcherOptions with every default filled in and every value checked. */
export interface ResolvedBatcherOptions extends ResolvedPreprocessOptions {
  input: string | readonly string[];
  batchSize: number;
  remainder: Remainder;
  padFill: PadFill;
  maxImages: number;
  seed: number | undefined;
  recursive: boolean;
  extensions: readonly string[];
  onProgress: ((progress: BatcherProgress) => void) | undefined;
}

const FITS: readonly FitMode[] = ['stretch', 'letterbox', 'cover'];
const COLORS: readonly ColorOrder[] = ['rgb', 'bgr', 'grayscale'];
const LAYOUTS: readonly ImageLayout[] = ['nchw', 'nhwc'];
const DTYPES: readonly ImageDataType[] = ['float32', 'float16', 'uint8'];
const KERNELS: readonly ResizeKernel[] = [
  'nearest',
  'linear',
  'cubic',
  'mitchell',
  'lanczos2',
  'lanczos3',
];
const REMAINDERS: readonly Remainder[] = ['exact', 'pad'];
const PAD_FILLS: readonly PadFill[] = ['repeat', 'zero'];
const PREPROCESS_KEYS = [
  'width',
  'height',
  'fit',
  'padColor',
  'color',
  'normalize',
  'layout',
  'dtype',
  'kernel',
  'autoOrient',
];
const BATCHER_KEYS = [
  ...PREPROCESS_KEYS,
  'input',
  'batchSize',
  'remainder',
  'padFill',
  'maxImages',
  'seed',
  'recursive',
  'extensions',
  'onProgress',
];
/** The extensions a folder input takes by default. */
export const DEFAULT_EXTENSIONS: readonly string[] = ['jpg', 'jpeg', 'png', 'webp'];
const MAX_SIDE = 16384;

function expectKnownKeys(name: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw invalidParameterError(
        `${name}.${key}`,
        `no such option (known: ${known.join(', ')})`,
        (options as Record<string, unknown>)[key],
      );
    }
  }
}

function expectBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidParameterError(name, 'a boolean', value);
  return value;
}

function perChannel(
  name: string,
  value: unknown,
  channels: number,
  fallback?: number,
): readonly number[] {
  if (value === undefined && fallback !== undefined) return new Array(channels).fill(fallback);
  const expected = `a finite number or an array of ${channels === 1 ? '1' : `1 or ${channels}`} finite numbers (one per output channel)`;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalidParameterError(name, expected, value);
    return new Array(channels).fill(value);
  }
  if (
    !Array.isArray(value) ||
    (value.length !== 1 && value.length !== channels) ||
    !value.every((v) => typeof v === 'number' && Number.isFinite(v))
  ) {
    throw invalidParameterError(name, expected, value);
  }
  return value.length === 1 ? new Array(channels).fill(value[0]) : [...value];
}

function resolveNormalization(
  value: unknown,
  channels: number,
): ResolvedPreprocessOptions['normalize'] {
  if (value === undefined) return { kind: 'none' };
  const expected = 'an object { mean, std } or { scale, offset? }';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidParameterError('options.normalize', expected, value);
  }
  const keys = Object.keys(value);
  const has = (k: string) => keys.includes(k);
  if (has('mean') || has('std')) {
    expectKnownKeys('options.normalize', value, ['mean', 'std']);
    const v = value as MeanStdNormalization;
    const mean = perChannel('options.normalize.mean', v.mean, channels);
    const std = perChannel('options.normalize.std', v.std, channels);
    if (std.some((s) => s === 0)) {
      throw invalidParameterError('options.normalize.std', 'non-zero standard deviations', v.std);
    }
    return { kind: 'meanStd', mean, std };
  }
  if (has('scale')) {
    expectKnownKeys('options.normalize', value, ['scale', 'offset']);
    const v = value as ScaleOffsetNormalization;
    return {
      kind: 'scaleOffset',
      scale: perChannel('options.normalize.scale', v.scale, channels),
      offset: perChannel('options.normalize.offset', v.offset, channels, 0),
    };
  }
  throw invalidParameterError('options.normalize', expected, value);
}

function resolvePadColor(value: unknown): readonly [number, number, number] {
  if (value === undefined) return [0, 0, 0];
  const isByte = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255;
  if (isByte(value)) return [value as number, value as number, value as number];
  if (Array.isArray(value) && value.length === 3 && value.every(isByte)) {
    return [value[0], value[1], value[2]];
  }
  throw invalidParameterError(
    'options.padColor',
    'an integer 0..255 or an [r, g, b] array of them',
    value,
  );
}

/** Checks preprocessing options and fills in defaults; throws a KilnError naming the option. */
export function resolvePreprocessOptions(
  options: unknown,
  known: readonly string[] = PREPROCESS_KEYS,
): ResolvedPreprocessOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidParameterError('options', 'an options object with width and height', options);
  }
  expectKnownKeys('options', options, known);
  const o = options as PreprocessOptions;
  const color = expectOneOf('options.color', o.color ?? 'rgb', COLORS);
  const channels = color === 'grayscale' ? 1 : 3;
  const dtype = expectOneOf('options.dtype', o.dtype ?? 'float32', DTYPES);
  const normalize = resolveNormalization(o.normalize, channels);
  if (dtype === 'uint8' && normalize.kind !== 'none') {
    throw invalidParameterError(
      'options.normalize',
      "nothing with dtype 'uint8' (normalized values do not fit 0..255; use float32 or float16)",
      o.normalize,
    );
  }
  return {
    width: expectInteger('options.width', o.width, 1, MAX_SIDE),
    height: expectInteger('options.height', o.height, 1, MAX_SIDE),
    fit: expectOneOf('options.fit', o.fit ?? 'stretch', FITS),
    padColor: resolvePadColor(o.padColor),
    color,
    channels,
    normalize,
    layout: expectOneOf('options.layout', o.layout ?? 'nchw', LAYOUTS),
    dtype,
    kernel: expectOneOf('options.kernel', o.kernel ?? 'linear', KERNELS),
    autoOrient: expectBoolean('options.autoOrient', o.autoOrient, true),
  };
}

function resolveInput(value: unknown): string | readonly string[] {
  if (typeof value === 'string' && value !== '') return value;
  if (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((p) => typeof p === 'string' && p !== '')
  ) {
    return [...value];
  }
  throw invalidParameterError(
    'options.input',
    'a folder path or a non-empty array of image paths',
    value,
  );
}

function resolveExtensions(value: unknown): readonly string[] {
  if (value === undefined) return DEFAULT_EXTENSIONS;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every((e) => typeof e === 'string' && /^\.?[A-Za-z0-9]+$/.test(e))
  ) {
    throw invalidParameterError(
      'options.extensions',
      "a non-empty array like ['jpg', 'png']",
      value,
    );
  }
  return value.map((e: string) => e.replace(/^\./, '').toLowerCase());
}

/** Checks ImageBatcher options and fills in defaults; throws a KilnError naming the option. */
export function resolveBatcherOptions(options: unknown): ResolvedBatcherOptions {
  const pre = resolvePreprocessOptions(options, BATCHER_KEYS);
  const o = options as ImageBatcherOptions;
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw invalidParameterError('options.onProgress', 'a function', o.onProgress);
  }
  const remainder = expectOneOf('options.remainder', o.remainder ?? 'exact', REMAINDERS);
  if (o.padFill !== undefined && remainder !== 'pad') {
    throw invalidParameterError('options.padFill', "nothing unless remainder is 'pad'", o.padFill);
  }
  return {
    ...pre,
    input: resolveInput(o.input),
    batchSize: expectInteger('options.batchSize', o.batchSize ?? 1, 1, 65536),
    remainder,
    padFill: expectOneOf('options.padFill', o.padFill ?? 'repeat', PAD_FILLS),
    maxImages:
      o.maxImages === undefined ? Infinity : expectInteger('options.maxImages', o.maxImages, 1),
    seed: o.seed === undefined ? undefined : expectInteger('options.seed', o.seed, 0, 0xffffffff),
    recursive: expectBoolean('options.recursive', o.recursive, false),
    extensions: resolveExtensions(o.extensions),
    onProgress: o.onProgress,
  };
}
