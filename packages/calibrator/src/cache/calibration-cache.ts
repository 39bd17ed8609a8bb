import { createHash } from 'node:crypto';
import { KilnError, invalidParameterError } from '@kiln/core';

// The cache is text in TensorRT's layout, so caches move freely between the two:
//
//   TRT-8601-EntropyCalibration2          <- header: <producer>-<version>-<calibrator>
//   input: 3c010a14                       <- <tensor name>: <float32 scale bits, big-endian hex>
//   conv1/Conv2D:0: 3d8a1c4e              <- names may contain ':' (the last ': ' splits)
//
// kiln writes `KILN-1-<calibrator>` and, when it knows the network, a second line
// `#network: <fingerprint>`. TensorRT never writes '#' lines, so its caches read as having no
// fingerprint: they are accepted, and only the tensor names can then tie them to a network.

/** The producer kiln writes in a cache header. */
export const KILN_CACHE_PRODUCER = 'KILN';
/** The cache format version kiln writes (the number after `KILN-`). */
export const KILN_CACHE_VERSION = 1;

const FINGERPRINT_PREFIX = '#network:';
const HEADER = /^([A-Za-z][A-Za-z0-9]*)-(\d+)-([A-Za-z][A-Za-z0-9_]*)$/;
// Greedy name so that the last ': ' splits; TensorRT does not zero-pad, so 1 to 8 digits.
const ENTRY = /^(.+): ?([0-9A-Fa-f]{1,8})$/;
const FINGERPRINT = /^[0-9A-Za-z._:+/=-]{1,128}$/;

/** A parsed calibration cache: who wrote it, for which network, and the scale of each tensor. */
export interface CalibrationCache {
  /** The header's first field: 'TRT' for TensorRT, 'KILN' for kiln. */
  producer: string;
  /** The header's number: TensorRT's version (8601) or kiln's cache format version (1). */
  version: number;
  /** The calibrator that computed the scales, as the header names it ('EntropyCalibration2'). */
  calibrator: string;
  /** Per-tensor scales (amax / 127), in file order. */
  scales: Map<string, number>;
  /** The network fingerprint kiln wrote; undefined in a TensorRT-written cache. */
  fingerprint?: string;
}

/** What a reader expects of a cache; a cache that contradicts any of it is refused. */
export interface CacheExpectations {
  /** The calibrator name the header must carry (e.g. 'MinMaxCalibration'). */
  calibrator?: string;
  /** The current network's fingerprint; a cache carrying another one is refused. */
  fingerprint?: string;
  /** The network's tensor names; a cache naming a tensor outside them is refused. */
  tensorNames?: Iterable<string>;
}

/** What writeCalibrationCache needs. */
export interface CalibrationCacheContent {
  /** The calibrator name for the header, e.g. 'MinMaxCalibration'. */
  calibrator: string;
  /** Per-tensor scales: positive or zero finite float32 values. */
  scales: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  /** The network fingerprint (see networkFingerprint); written as a `#network:` line. */
  fingerprint?: string;
  /** Header producer, 'KILN' unless you are writing a cache for TensorRT ('TRT'). */
  producer?: string;
  /** Header version, KILN_CACHE_VERSION unless producer is given. */
  version?: number;
}

const bits = new DataView(new ArrayBuffer(4));

/** The float32 bit pattern of `value` as 8 big-endian hex digits, as TensorRT caches store it. */
export function scaleToHex(value: number): string {
  bits.setFloat32(0, value);
  return bits.getUint32(0).toString(16).padStart(8, '0');
}

/** The float32 value of a cache entry's hex digits (big-endian bit pattern). */
export function hexToScale(hex: string): number {
  if (!/^[0-9A-Fa-f]{1,8}$/.test(hex)) throw invalidParameterError('hex', '1 to 8 hex digits', hex);
  bits.setUint32(0, parseInt(hex, 16));
  return bits.getFloat32(0);
}

/** A short, stable fingerprint of a network's bytes or description (SHA-256, 16 hex digits). */
export function networkFingerprint(network: Uint8Array | string): string {
  if (typeof network !== 'string' && !(network instanceof Uint8Array)) {
    throw invalidParameterError('network', 'a Uint8Array or a string', network);
  }
  return createHash('sha256').update(network).digest('hex').slice(0, 16);
}

function malformed(line: number, why: string): KilnError {
  return new KilnError('INVALID_ARGUMENT', `calibration cache line ${line}: ${why}`);
}

function decode(input: string | Uint8Array): string {
  if (typeof input === 'string') return input;
  if (!(input instanceof Uint8Array)) {
    throw invalidParameterError('cache', 'a string or a Uint8Array of cache text', input);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch (error) {
    throw new KilnError('INVALID_ARGUMENT', 'calibration cache is not UTF-8 text', {
      cause: error,
    });
  }
}

/**
 * Parses cache text or bytes (kiln- or TensorRT-written) and checks it against `expect`.
 * Malformed text is an INVALID_ARGUMENT KilnError naming the line; a cache for another
 * calibrator or network is an INVALID_STATE KilnError (recalibrate, or delete the file).
 */
export function readCalibrationCache(
  input: string | Uint8Array,
  expect: CacheExpectations = {},
): CalibrationCache {
  const lines = decode(input).split(/\r?\n/);
  let index = 0;
  while (index < lines.length && lines[index]!.trim() === '') index++;
  if (index === lines.length) throw malformed(1, 'the cache is empty (expected a header line)');
  const headerText = lines[index]!.trim();
  const header = HEADER.exec(headerText);
  if (!header) {
    throw malformed(
      index + 1,
      `expected a header like 'TRT-8601-EntropyCalibration2' or 'KILN-1-MinMaxCalibration' but found '${headerText}'`,
    );
  }
  const [, producer, versionText, calibrator] = header as unknown as [
    string,
    string,
    string,
    string,
  ];
  const version = Number(versionText);
  if (producer === KILN_CACHE_PRODUCER && version > KILN_CACHE_VERSION) {
    throw new KilnError(
      'UNSUPPORTED',
      `calibration cache format ${version} was written by a newer kiln (this one reads up to ${KILN_CACHE_VERSION}); upgrade @kiln/calibrator or recalibrate`,
    );
  }
  const cache: CalibrationCache = { producer, version, calibrator, scales: new Map() };
  for (index++; index < lines.length; index++) {
    const lineNo = index + 1;
    const line = lines[index]!;
    if (line.trim() === '') continue;
    if (line.startsWith(FINGERPRINT_PREFIX)) {
      if (cache.fingerprint !== undefined) throw malformed(lineNo, 'a second #network: line');
      const fingerprint = line.slice(FINGERPRINT_PREFIX.length).trim();
      if (!FINGERPRINT.test(fingerprint)) {
        throw malformed(lineNo, `'${fingerprint}' is not a network fingerprint`);
      }
      cache.fingerprint = fingerprint;
      continue;
    }
    if (line.startsWith('#')) continue;
    const entry = ENTRY.exec(line.trimEnd());
    if (!entry) {
      throw malformed(
        lineNo,
        `expected '<tensor name>: <8 hex digits>' but found '${line.length > 80 ? line.slice(0, 80) + '…' : line}'`,
      );
    }
    const [, name, hex] = entry as unknown as [string, string, string];
    if (cache.scales.has(name)) throw malformed(lineNo, `tensor '${name}' appears twice`);
    const scale = hexToScale(hex);
    if (!Number.isFinite(scale) || scale < 0) {
      throw malformed(lineNo, `tensor '${name}' has scale ${scale}; scales are finite and >= 0`);
    }
    cache.scales.set(name, scale);
  }
  checkExpectations(cache, expect);
  return cache;
}

function checkExpectations(cache: CalibrationCache, expect: CacheExpectations): void {
  if (expect.calibrator !== undefined && cache.calibrator !== expect.calibrator) {
    throw new KilnError(
      'INVALID_STATE',
      `the calibration cache was written by ${cache.calibrator} but ${expect.calibrator} is calibrating; recalibrate or delete the cache`,
    );
  }
  if (
    expect.fingerprint !== undefined &&
    cache.fingerprint !== undefined &&
    cache.fingerprint !== expect.fingerprint
  ) {
    throw new KilnError(
      'INVALID_STATE',
      `the calibration cache is for network ${cache.fingerprint}, not this one (${expect.fingerprint}); recalibrate or delete the cache`,
    );
  }
  if (expect.tensorNames !== undefined) {
    const known = new Set(expect.tensorNames);
    const foreign = [...cache.scales.keys()].filter((name) => !known.has(name));
    if (foreign.length > 0) {
      const shown = foreign.slice(0, 5).map((n) => `'${n}'`);
      throw new KilnError(
        'INVALID_STATE',
        `the calibration cache names ${foreign.length} tensor(s) this network lacks (${shown.join(', ')}${foreign.length > 5 ? ', …' : ''}); it is for another network: recalibrate or delete the cache`,
      );
    }
  }
}

/** Formats a cache as text in TensorRT's layout (header, optional `#network:` line, entries). */
export function writeCalibrationCache(content: CalibrationCacheContent): string {
  if (content === null || typeof content !== 'object') {
    throw invalidParameterError('content', 'an object with calibrator and scales', content);
  }
  const producer = content.producer ?? KILN_CACHE_PRODUCER;
  const version = content.version ?? (producer === KILN_CACHE_PRODUCER ? KILN_CACHE_VERSION : NaN);
  if (!Number.isSafeInteger(version) || version < 0) {
    throw invalidParameterError('content.version', 'a non-negative integer', content.version);
  }
  const header = `${producer}-${version}-${content.calibrator}`;
  if (!HEADER.test(header)) {
    throw invalidParameterError(
      'content.calibrator and content.producer',
      'alphanumeric names (e.g. KILN and MinMaxCalibration)',
      header,
    );
  }
  const lines = [header];
  if (content.fingerprint !== undefined) {
    if (typeof content.fingerprint !== 'string' || !FINGERPRINT.test(content.fingerprint)) {
      throw invalidParameterError(
        'content.fingerprint',
        'up to 128 letters, digits or ._:+/=-',
        content.fingerprint,
      );
    }
    lines.push(`${FINGERPRINT_PREFIX} ${content.fingerprint}`);
  }
  const scales = content.scales;
  if (scales === null || typeof scales !== 'object') {
    throw invalidParameterError(
      'content.scales',
      'a Map or record of tensor name -> scale',
      scales,
    );
  }
  const entries = scales instanceof Map ? [...scales.entries()] : Object.entries(scales);
  for (const [name, scale] of entries) {
    if (typeof name !== 'string' || name === '' || /[\r\n]/.test(name) || name.startsWith('#')) {
      throw invalidParameterError(
        'content.scales key',
        "a tensor name that is one line and does not start with '#'",
        name,
      );
    }
    if (typeof scale !== 'number' || !Number.isFinite(scale) || scale < 0) {
      throw invalidParameterError(`content.scales['${name}']`, 'a finite number >= 0', scale);
    }
    lines.push(`${name}: ${scaleToHex(scale)}`);
  }
  return lines.join('\n') + '\n';
}
