import { KilnError, Tensor, float32ToFloat16, invalidParameterError } from '@kiln/core';
import sharp from 'sharp';
import { type FitGeometry, fitGeometry } from './geometry';
import {
  type PreprocessOptions,
  type ResolvedPreprocessOptions,
  resolvePreprocessOptions,
} from './options';

/** An image brought to the output size: RGB bytes, row-major, 3 per pixel, before colour order. */
export interface DecodedImage {
  /** width * height * 3 bytes, R G B per pixel. */
  rgb: Uint8Array;
  /** Where the source landed in the output (for mapping detections back). */
  geometry: FitGeometry;
}

/** The element array an image is written into (float16 is converted from float32 at the end). */
type Sink = Float32Array | Uint8Array;

/**
 * Turns images into tensors: decode and orient (sharp), resize by the fit mode, drop alpha,
 * reorder / gray the channels, normalize, lay out. ImageBatcher uses it per image; use it alone
 * at inference so the engine sees exactly what calibration saw.
 */
export class ImagePreprocessor {
  /** The checked options with defaults filled in. */
  readonly options: ResolvedPreprocessOptions;

  /** Validates `options` (a KilnError names the first bad one). */
  constructor(options: PreprocessOptions) {
    this.options = resolvePreprocessOptions(options);
  }

  /** The shape of one image's tensor: [1, C, H, W] or [1, H, W, C]. */
  get shape(): [number, number, number, number] {
    return this.batchShape(1);
  }

  /** The shape of a batch of `n` images. */
  batchShape(n: number): [number, number, number, number] {
    const { channels: c, height: h, width: w, layout } = this.options;
    return layout === 'nchw' ? [n, c, h, w] : [n, h, w, c];
  }

  /** Elements per image (C * H * W). */
  get imageSize(): number {
    const o = this.options;
    return o.channels * o.height * o.width;
  }

  /** Preprocesses one image file or encoded image bytes into a [1, ...] tensor. */
  async preprocess(image: string | Uint8Array): Promise<Tensor> {
    const decoded = await this.decode(image);
    const sink =
      this.options.dtype === 'uint8'
        ? new Uint8Array(this.imageSize)
        : new Float32Array(this.imageSize);
    this.write(decoded.rgb, sink, 0);
    return this.toTensor(sink, 1);
  }

  /**
   * Decodes, orients and resizes one image to the output size as RGB bytes. Unreadable input is
   * an IO_ERROR KilnError carrying sharp's message.
   */
  async decode(image: string | Uint8Array): Promise<DecodedImage> {
    if (typeof image !== 'string' && !(image instanceof Uint8Array)) {
      throw invalidParameterError(
        'image',
        'a file path or a Uint8Array of encoded image bytes',
        image,
      );
    }
    const o = this.options;
    const what =
      typeof image === 'string' ? image : `an encoded image of ${image.byteLength} bytes`;
    try {
      const input =
        typeof image === 'string'
          ? image
          : Buffer.from(image.buffer, image.byteOffset, image.byteLength);
      const meta = await sharp(input).metadata();
      let sw = meta.width;
      let sh = meta.height;
      if (sw === undefined || sh === undefined) throw new Error('the image has no dimensions');
      // EXIF orientations 5..8 are quarter turns: width and height swap.
      if (o.autoOrient && (meta.orientation ?? 1) >= 5) [sw, sh] = [sh, sw];
      const geometry = fitGeometry(o.fit, sw, sh, o.width, o.height);
      let pipeline = sharp(input);
      if (o.autoOrient) pipeline = pipeline.rotate();
      pipeline = pipeline.resize(geometry.resizedWidth, geometry.resizedHeight, {
        fit: 'fill',
        kernel: o.kernel,
        fastShrinkOnLoad: false,
      });
      if (o.fit === 'cover') {
        pipeline = pipeline.extract({
          left: -geometry.offsetX,
          top: -geometry.offsetY,
          width: o.width,
          height: o.height,
        });
      }
      const { data, info } = await pipeline
        .removeAlpha()
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      const w = o.fit === 'cover' ? o.width : geometry.resizedWidth;
      const h = o.fit === 'cover' ? o.height : geometry.resizedHeight;
      if (info.width !== w || info.height !== h || info.channels !== 3) {
        throw new Error(
          `sharp returned ${info.width}x${info.height}x${info.channels}, expected ${w}x${h}x3`,
        );
      }
      const rgb =
        o.fit === 'letterbox'
          ? this.pad(data, geometry)
          : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      return { rgb, geometry };
    } catch (error) {
      throw new KilnError('IO_ERROR', `cannot read ${what}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Places the resized image on a canvas filled with the pad colour. */
  private pad(data: Uint8Array, g: FitGeometry): Uint8Array {
    const { width, height, padColor } = this.options;
    const canvas = new Uint8Array(width * height * 3);
    for (let p = 0; p < width * height; p++) canvas.set(padColor, p * 3);
    const row = g.resizedWidth * 3;
    for (let y = 0; y < g.resizedHeight; y++) {
      const from = y * row;
      canvas.set(data.subarray(from, from + row), ((y + g.offsetY) * width + g.offsetX) * 3);
    }
    return canvas;
  }

  /**
   * Writes one decoded image into `sink` at element `base`, in the output colour order, layout
   * and normalization. Values are computed in float64 and rounded once when stored.
   */
  write(rgb: Uint8Array, sink: Sink, base: number): void {
    const o = this.options;
    const pixels = o.width * o.height;
    const c = o.channels;
    const n = o.normalize;
    // One affine map per channel keeps the inner loop branch-free; mean/std is kept as a
    // division so the rounding matches the textbook (x - mean) / std.
    const sub = new Float64Array(c);
    const div = new Float64Array(c).fill(1);
    const mul = new Float64Array(c).fill(1);
    const add = new Float64Array(c);
    if (n.kind === 'meanStd') {
      sub.set(n.mean);
      div.set(n.std);
    } else if (n.kind === 'scaleOffset') {
      mul.set(n.scale);
      add.set(n.offset);
    }
    const chw = o.layout === 'nchw';
    const order = o.color === 'bgr' ? [2, 1, 0] : [0, 1, 2];
    for (let p = 0; p < pixels; p++) {
      const i = p * 3;
      for (let k = 0; k < c; k++) {
        const x =
          c === 1
            ? Math.round(0.299 * rgb[i]! + 0.587 * rgb[i + 1]! + 0.114 * rgb[i + 2]!)
            : rgb[i + order[k]!]!;
        sink[chw ? base + k * pixels + p : base + p * c + k] =
          ((x - sub[k]!) / div[k]!) * mul[k]! + add[k]!;
      }
    }
  }

  /** Wraps a filled float32 / uint8 buffer of `n` images as a tensor of the output dtype. */
  toTensor(sink: Sink, n: number): Tensor {
    const shape = this.batchShape(n);
    switch (this.options.dtype) {
      case 'uint8':
        return new Tensor('uint8', shape, sink as Uint8Array);
      case 'float16':
        return new Tensor('float16', shape, float32ToFloat16(sink as Float32Array));
      default:
        return new Tensor('float32', shape, sink as Float32Array);
    }
  }

  /** A zeroed buffer for `n` images, of the type `write` expects. */
  allocate(n: number): Sink {
    const size = n * this.imageSize;
    return this.options.dtype === 'uint8' ? new Uint8Array(size) : new Float32Array(size);
  }
}
