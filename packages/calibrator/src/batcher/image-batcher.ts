import { EventEmitter } from 'node:events';
import { KilnError, type Tensor, getLogger } from '@kiln/core';
import {
  type BatcherProgress,
  type ImageBatcherOptions,
  type PreprocessOptions,
  type ResolvedBatcherOptions,
  resolveBatcherOptions,
} from './options';
import { type DecodedImage, ImagePreprocessor } from './preprocessor';
import { shuffleInPlace } from './shuffle';
import { resolveInputFiles } from './sources';

/** One batch: the tensor, the paths of its real images, and how many of its entries are real. */
export interface ImageBatch {
  /** [batchSize, C, H, W] or [batchSize, H, W, C] in the chosen dtype. */
  tensor: Tensor;
  /** Paths of the real images, in batch order (realCount of them). */
  paths: string[];
  /** Entries that hold real images; the rest (remainder 'pad' only) are padding. */
  realCount: number;
  /** 0-based index of the batch in this pass. */
  index: number;
}

/** An image that could not be read, and why. */
export interface SkippedImage {
  /** The path given or listed. */
  path: string;
  /** sharp's message. */
  reason: string;
}

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
] as const;

/** Most skipped images one warning names; the rest are counted. */
const WARNING_LIST_LIMIT = 50;

/**
 * Batches of preprocessed images from a folder or a list, for calibration (like TensorRT's
 * sample ImageBatcher, but configurable). Iterate with `for await (const batch of batcher)`;
 * every iteration is a fresh pass in the same order. Images are decoded batch by batch, the next
 * batch while the current one is in use. Unreadable images are skipped and named in one warning
 * per pass (getLogger()); a pass where none is readable throws. Emits 'progress' after each batch.
 */
export class ImageBatcher extends EventEmitter<{ progress: [BatcherProgress] }> {
  /** The checked options with defaults filled in. */
  readonly options: ResolvedBatcherOptions;
  /** The preprocessing, usable alone for inference (see preprocess). */
  readonly preprocessor: ImagePreprocessor;
  private candidates: Promise<string[]> | undefined;
  private lastSkipped: SkippedImage[] = [];

  /** Validates `options` (a KilnError names the first bad one); reads nothing yet. */
  constructor(options: ImageBatcherOptions) {
    super();
    this.options = resolveBatcherOptions(options);
    const pre: Record<string, unknown> = {};
    for (const key of PREPROCESS_KEYS) {
      if (options[key] !== undefined) pre[key] = options[key];
    }
    this.preprocessor = new ImagePreprocessor(pre as unknown as PreprocessOptions);
  }

  /** Images per batch. */
  get batchSize(): number {
    return this.options.batchSize;
  }

  /** The shape of every batch tensor. */
  get shape(): [number, number, number, number] {
    return this.preprocessor.batchShape(this.options.batchSize);
  }

  /** The images a pass reads, in order: listed or given, shuffled by seed, cut to maxImages. */
  files(): Promise<string[]> {
    this.candidates ??= (async () => {
      const o = this.options;
      const files = await resolveInputFiles(o.input, o.extensions, o.recursive);
      if (o.seed !== undefined) shuffleInPlace(files, o.seed);
      return files.slice(0, o.maxImages);
    })();
    // A failed listing is not cached, so a folder created later is found on the next call.
    this.candidates.catch(() => (this.candidates = undefined));
    return this.candidates.then((f) => [...f]);
  }

  /** Batches a pass yields when every image is readable (fewer when some are skipped). */
  async batchCount(): Promise<number> {
    const n = (await this.files()).length;
    const b = this.options.batchSize;
    return this.options.remainder === 'exact' ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** The images skipped by the last pass (also listed in its warning). */
  get skipped(): readonly SkippedImage[] {
    return this.lastSkipped;
  }

  /** Preprocesses one image (path or encoded bytes) exactly as batches are, as a [1, ...] tensor. */
  preprocess(image: string | Uint8Array): Promise<Tensor> {
    return this.preprocessor.preprocess(image);
  }

  /** One pass over the images, batch by batch. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ImageBatch, void, undefined> {
    const o = this.options;
    const files = await this.files();
    const total = files.length;
    const skipped: SkippedImage[] = [];
    this.lastSkipped = skipped;
    let cursor = 0;
    let readable = 0;
    let batches = 0;
    let failed = false;

    // Fills up to batchSize readable images, replacing skipped ones with the next files.
    const collect = async (): Promise<{ images: [string, DecodedImage][]; done: number }> => {
      const images: [string, DecodedImage][] = [];
      while (images.length < o.batchSize && cursor < files.length) {
        const slice = files.slice(cursor, cursor + o.batchSize - images.length);
        cursor += slice.length;
        const results = await Promise.allSettled(slice.map((f) => this.preprocessor.decode(f)));
        results.forEach((r, i) => {
          if (r.status === 'fulfilled') images.push([slice[i]!, r.value]);
          else skipped.push({ path: slice[i]!, reason: causeMessage(r.reason) });
        });
      }
      readable += images.length;
      return { images, done: cursor };
    };

    let pending = collect();
    try {
      for (;;) {
        const { images, done } = await pending;
        const full = images.length === o.batchSize;
        if (images.length === 0 || (!full && o.remainder === 'exact')) break;
        const batch = this.assemble(images, batches);
        batches++;
        // Decode the next batch while the caller uses this one.
        pending = collect();
        pending.catch(() => undefined);
        const progress = { done, total, batches };
        o.onProgress?.(progress);
        this.emit('progress', progress);
        yield batch;
      }
      if (readable === 0) {
        failed = true;
        throw new KilnError(
          'IO_ERROR',
          `none of the ${total} images could be read: ${describeSkipped(skipped)}`,
        );
      }
      if (batches === 0) {
        failed = true;
        throw new KilnError(
          'INVALID_STATE',
          `${readable} readable image(s) make no full batch of ${o.batchSize}; lower batchSize or use remainder: 'pad'`,
        );
      }
    } finally {
      await pending.catch(() => undefined);
      if (skipped.length > 0 && !failed) {
        getLogger().log(
          'warning',
          `ImageBatcher skipped ${skipped.length} unreadable image(s) of ${total}: ${describeSkipped(skipped)}`,
        );
      }
    }
  }

  private assemble(images: [string, DecodedImage][], index: number): ImageBatch {
    const pre = this.preprocessor;
    const size = pre.imageSize;
    const sink = pre.allocate(this.options.batchSize);
    images.forEach(([, image], i) => pre.write(image.rgb, sink, i * size));
    if (this.options.padFill === 'repeat') {
      const last = sink.subarray((images.length - 1) * size, images.length * size);
      for (let i = images.length; i < this.options.batchSize; i++) sink.set(last, i * size);
    }
    return {
      tensor: pre.toTensor(sink, this.options.batchSize),
      paths: images.map(([path]) => path),
      realCount: images.length,
      index,
    };
  }
}

function causeMessage(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause ?? error;
  return (cause instanceof Error ? cause.message : String(cause)).split('\n')[0]!;
}

function describeSkipped(skipped: readonly SkippedImage[]): string {
  const shown = skipped.slice(0, WARNING_LIST_LIMIT).map((s) => `${s.path} (${s.reason})`);
  const more = skipped.length - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
}
