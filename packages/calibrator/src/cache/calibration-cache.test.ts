import { KilnError } from '@kiln/core';
import { describe, expect, it } from 'vitest';
import {
  hexToScale,
  networkFingerprint,
  readCalibrationCache,
  scaleToHex,
  writeCalibrationCache,
} from './calibration-cache';

// Written by hand in the layout TensorRT 8.6 writes (its header, unpadded-or-padded hex, names
// with ':' as tf2onnx produces); values cross-checked with Python's struct.unpack('>f', ...).
const TENSORRT_CACHE = [
  'TRT-8601-EntropyCalibration2',
  'input: 3c010a14',
  'conv1/Conv2D:0: 3d8a1c4e',
  'relu_1: 3f800000',
  'tiny: 1',
  '',
].join('\n');

function errorOf(fn: () => unknown): KilnError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KilnError);
    return error as KilnError;
  }
  throw new Error('expected a KilnError');
}

describe('scale hex', () => {
  it('encodes float32 bits big-endian, 8 digits', () => {
    expect(scaleToHex(1)).toBe('3f800000');
    expect(scaleToHex(2 / 127)).toBe('3c810204');
    expect(scaleToHex(0.1)).toBe('3dcccccd');
    expect(scaleToHex(1.401298464324817e-45)).toBe('00000001');
  });
  it('decodes 1 to 8 digits', () => {
    expect(hexToScale('3c010a14')).toBe(0.007875937968492508);
    expect(hexToScale('1')).toBe(1.401298464324817e-45);
    expect(() => hexToScale('3c010a140')).toThrow(KilnError);
  });
});

describe('readCalibrationCache', () => {
  it('reads a TensorRT-written cache', () => {
    const cache = readCalibrationCache(TENSORRT_CACHE);
    expect(cache.producer).toBe('TRT');
    expect(cache.version).toBe(8601);
    expect(cache.calibrator).toBe('EntropyCalibration2');
    expect(cache.fingerprint).toBeUndefined();
    expect([...cache.scales]).toEqual([
      ['input', 0.007875937968492508],
      ['conv1/Conv2D:0', 0.06743679940700531],
      ['relu_1', 1],
      ['tiny', 1.401298464324817e-45],
    ]);
  });

  it('reads bytes and CRLF line ends alike', () => {
    const bytes = new TextEncoder().encode(TENSORRT_CACHE.replace(/\n/g, '\r\n'));
    expect(readCalibrationCache(bytes).scales.get('conv1/Conv2D:0')).toBe(0.06743679940700531);
  });

  it('accepts a TensorRT cache whatever fingerprint is expected, checking tensor names', () => {
    const names = ['input', 'conv1/Conv2D:0', 'relu_1', 'tiny', 'output'];
    const cache = readCalibrationCache(TENSORRT_CACHE, {
      calibrator: 'EntropyCalibration2',
      fingerprint: networkFingerprint('some network'),
      tensorNames: names,
    });
    expect(cache.scales.size).toBe(4);
    const e = errorOf(() => readCalibrationCache(TENSORRT_CACHE, { tensorNames: ['input'] }));
    expect(e.code).toBe('INVALID_STATE');
    expect(e.message).toMatch(
      /3 tensor\(s\) this network lacks \('conv1\/Conv2D:0', 'relu_1', 'tiny'\)/,
    );
  });

  it('refuses a cache for another calibrator', () => {
    const e = errorOf(() =>
      readCalibrationCache(TENSORRT_CACHE, { calibrator: 'MinMaxCalibration' }),
    );
    expect(e.code).toBe('INVALID_STATE');
    expect(e.message).toBe(
      'the calibration cache was written by EntropyCalibration2 but MinMaxCalibration is calibrating; recalibrate or delete the cache',
    );
  });

  it('refuses a cache for another network', () => {
    const text = writeCalibrationCache({
      calibrator: 'MinMaxCalibration',
      fingerprint: networkFingerprint('network A'),
      scales: { x: 0.5 },
    });
    const other = networkFingerprint('network B');
    const e = errorOf(() => readCalibrationCache(text, { fingerprint: other }));
    expect(e.code).toBe('INVALID_STATE');
    expect(e.message).toContain(
      `is for network ${networkFingerprint('network A')}, not this one (${other})`,
    );
    expect(
      readCalibrationCache(text, { fingerprint: networkFingerprint('network A') }).scales.get('x'),
    ).toBe(0.5);
  });

  it.each([
    ['', 1, 'the cache is empty'],
    ['TRT-EntropyCalibration2\nx: 1', 1, "expected a header like 'TRT-8601-EntropyCalibration2'"],
    [
      'TRT-8601-EntropyCalibration2\ninput: 3c010a14\nconv1 3d8a1c4e',
      3,
      "expected '<tensor name>: <8 hex digits>' but found 'conv1 3d8a1c4e'",
    ],
    [
      'TRT-8601-EntropyCalibration2\ninput: 3c010a14\n\ninput: 3f800000',
      4,
      "tensor 'input' appears twice",
    ],
    ['TRT-8601-EntropyCalibration2\nneg: bf800000', 2, "tensor 'neg' has scale -1"],
    ['TRT-8601-EntropyCalibration2\nnan: 7fc00000', 2, "tensor 'nan' has scale NaN"],
    ['TRT-8601-EntropyCalibration2\nlong: 3f8000000', 2, 'expected'],
    ['\n\nKILN-1-MinMaxCalibration\n#network: a\n#network: b', 5, 'a second #network: line'],
  ])('reports malformed text with its line number (%#)', (text, line, why) => {
    const e = errorOf(() => readCalibrationCache(text));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain(`calibration cache line ${line}: `);
    expect(e.message).toContain(why);
  });

  it('refuses a cache from a newer kiln format, and non-UTF-8 bytes', () => {
    expect(errorOf(() => readCalibrationCache('KILN-2-MinMaxCalibration\n')).code).toBe(
      'UNSUPPORTED',
    );
    expect(errorOf(() => readCalibrationCache(new Uint8Array([0xff, 0xfe, 0x41]))).message).toMatch(
      /not UTF-8/,
    );
  });
});

describe('writeCalibrationCache', () => {
  it('writes the header, the fingerprint line and 8-digit entries in order', () => {
    const text = writeCalibrationCache({
      calibrator: 'MinMaxCalibration',
      fingerprint: '0123456789abcdef',
      scales: new Map([
        ['input', 2 / 127],
        ['conv1/Conv2D:0', 1],
        ['zero', 0],
      ]),
    });
    expect(text).toBe(
      'KILN-1-MinMaxCalibration\n#network: 0123456789abcdef\ninput: 3c810204\nconv1/Conv2D:0: 3f800000\nzero: 00000000\n',
    );
  });

  it('round-trips float32 scales exactly and can write for TensorRT', () => {
    const scales = new Map([
      ['a', Math.fround(0.0123)],
      ['b', Math.fround(3.5e-7)],
    ]);
    const text = writeCalibrationCache({
      calibrator: 'EntropyCalibration2',
      producer: 'TRT',
      version: 8601,
      scales,
    });
    expect(text.split('\n')[0]).toBe('TRT-8601-EntropyCalibration2');
    const back = readCalibrationCache(text);
    expect(back.scales).toEqual(scales);
    expect(back.fingerprint).toBeUndefined();
  });

  it('validates its input', () => {
    expect(() => writeCalibrationCache({ calibrator: 'Min Max', scales: {} })).toThrow(
      /alphanumeric/,
    );
    expect(() => writeCalibrationCache({ calibrator: 'X', scales: { 'a\nb': 1 } })).toThrow(
      /one line/,
    );
    expect(() => writeCalibrationCache({ calibrator: 'X', scales: { '#a': 1 } })).toThrow(/'#'/);
    expect(() => writeCalibrationCache({ calibrator: 'X', scales: { a: -1 } })).toThrow(
      "Expected a finite number >= 0 for content.scales['a'] but received -1 of type number",
    );
    expect(() =>
      writeCalibrationCache({ calibrator: 'X', scales: {}, fingerprint: 'has space' }),
    ).toThrow(KilnError);
  });
});

describe('networkFingerprint', () => {
  it('is 16 hex digits of SHA-256, stable and input-sensitive', () => {
    // sha256("abc") = ba7816bf8f01cfea...
    expect(networkFingerprint('abc')).toBe('ba7816bf8f01cfea');
    expect(networkFingerprint(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea');
    expect(networkFingerprint('abd')).not.toBe('ba7816bf8f01cfea');
  });
});
