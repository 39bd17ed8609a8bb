// The Fashion-MNIST data (Debian dataset-fashion-mnist) as the model was trained on it; shared
// by the mnist and int8-calibrate examples.
import fs from 'node:fs';
import zlib from 'node:zlib';

import { debFile } from '@kiln/test-data';

export const DATASET_DIR = debFile(
  'dataset-fashion-mnist',
  'usr',
  'share',
  'datasets',
  'fashion-mnist',
);
export const MEAN = 0.286;
export const STD = 0.353;

/** Reads a gzipped idx file (big-endian header: magic, counts, then unsigned bytes). */
export function readIdx(file, magic) {
  const bytes = zlib.gunzipSync(fs.readFileSync(file));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== magic) throw new Error(`${file}: not an idx file of magic ${magic}`);
  const dims = magic & 0xff;
  const shape = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i));
  return { shape, data: bytes.subarray(4 + 4 * dims) };
}

/** Images [start, start + n) of an idx image set, normalized, as a [n * 784] Float32Array. */
export function normalized(images, start, n) {
  const pixels = images.shape[1] * images.shape[2];
  return Float32Array.from(
    images.data.subarray(start * pixels, (start + n) * pixels),
    (v) => (v / 255 - MEAN) / STD,
  );
}
