import fs from 'node:fs';

import { debFile, missingReason } from '@kiln/test-data';
import { describe, expect, it } from 'vitest';

import { formatNpy, parseNpy } from './npy';

const skimageData = debFile(
  'python3-skimage',
  'usr/lib/python3/dist-packages/skimage/data/chessboard_RGB_U8.npy',
);
const skimageFloat64 = debFile(
  'python3-skimage',
  'usr/lib/python3/dist-packages/skimage/data/lfw_subset.npy',
);
const missing = missingReason(skimageData);
if (missing) console.warn(`[skip] numpy-written .npy files: ${missing}`);

describe('.npy files', () => {
  it('round-trips every dtype and shape, with the data on a 64-byte boundary', () => {
    for (const [dtype, shape, data] of [
      ['float32', [2, 3], new Uint8Array(new Float32Array([1, -2, 3.5, 0, 1e-7, 6]).buffer)],
      ['int64', [4], new Uint8Array(new BigInt64Array([1n, -1n, 2n ** 40n, 0n]).buffer)],
      ['uint8', [], new Uint8Array([7])],
      ['float16', [1, 1, 2], new Uint8Array(4).fill(0x3c)],
    ] as const) {
      const bytes = formatNpy({ dtype, shape: [...shape], data });
      expect((bytes.length - data.length) % 64).toBe(0);
      const back = parseNpy(bytes, 'x.npy');
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual(shape);
      expect(Array.from(back.data)).toEqual(Array.from(data));
    }
  });

  it('refuses what it cannot read, saying why', () => {
    const good = formatNpy({ dtype: 'float32', shape: [2], data: new Uint8Array(8) });
    expect(() => parseNpy(good.subarray(0, good.length - 1), 'a.npy')).toThrow(
      'a.npy: not a readable .npy file (7 data bytes for shape [2] float32: expected 8)',
    );
    expect(() => parseNpy(new Uint8Array(20), 'b.npy')).toThrow('no NUMPY magic');
    const fortran = new TextDecoder('latin1')
      .decode(good)
      .replace("'fortran_order': False", "'fortran_order': True ");
    expect(() =>
      parseNpy(
        Uint8Array.from(fortran, (c) => c.charCodeAt(0)),
        'c.npy',
      ),
    ).toThrow('Fortran order');
  });

  describe.skipIf(missing !== undefined)('written by numpy (scikit-image data)', () => {
    it('reads a uint8 image array with the shape and sum numpy reports', () => {
      const a = parseNpy(new Uint8Array(fs.readFileSync(skimageData)), 'chessboard');
      // numpy: np.load(f).shape == (200, 200, 3), .sum() == 15300000
      expect(a.dtype).toBe('uint8');
      expect(a.shape).toEqual([200, 200, 3]);
      expect(a.data.reduce((s, v) => s + v, 0)).toBe(15300000);
    });

    it('names the dtype it does not take (float64)', () => {
      expect(() => parseNpy(new Uint8Array(fs.readFileSync(skimageFloat64)), 'lfw')).toThrow(
        "dtype '<f8' is not one of <f4, <f2, |i1, |u1, <i4, <i8, |b1",
      );
    });
  });
});
