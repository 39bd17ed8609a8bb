import { closeSync, existsSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { KilnError } from '@kiln/core';
import type { TensorProto } from './proto-types';

// External data: tensors whose bytes live in a side file named by `location`, relative to the
// model's folder. A model file is untrusted input, so a location may never reach outside that
// folder: not by an absolute path, not by '..', not through a symlink.

/** Where one tensor's external bytes are. */
export interface ExternalRef {
  /** The location as written in the model. */
  readonly location: string;
  /** The resolved file. */
  readonly path: string;
  /** Byte offset in the file. */
  readonly offset: number;
  /** Byte count; the rest of the file when the model gives none. */
  readonly length: number;
}

/** True when a TensorProto keeps its data in an external file. */
export function isExternal(t: TensorProto): boolean {
  return t.dataLocation === 1;
}

function entry(t: TensorProto, key: string): string | undefined {
  return t.externalData.find((e) => e.key === key)?.value;
}

function parseCount(value: string | undefined, field: string, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new KilnError(
      'INVALID_MODEL',
      `${where}: external_data ${field} '${value}' is not a non-negative integer`,
    );
  }
  return Number(value);
}

/** Checks that `location` is a plain relative path inside the model folder; returns it normalised. */
export function checkLocation(location: string, where: string): string {
  const bad = (why: string) =>
    new KilnError(
      'INVALID_MODEL',
      `${where}: external_data location '${location}' ${why}; external data must sit in the model's folder`,
    );
  if (location.length === 0) throw bad('is empty');
  if (location.includes('\0')) throw bad('contains a NUL byte');
  if (
    isAbsolute(location) ||
    /^[a-zA-Z]:/.test(location) ||
    location.startsWith('\\') ||
    location.startsWith('/')
  ) {
    throw bad('is an absolute path');
  }
  const parts = location.split(/[\\/]+/);
  if (parts.includes('..')) throw bad("contains '..'");
  return parts.filter((p) => p !== '.' && p !== '').join(sep);
}

/** Resolves and checks a tensor's external data reference against the model folder `baseDir`. */
export function resolveExternal(
  t: TensorProto,
  baseDir: string | undefined,
  where: string,
): ExternalRef {
  const location = entry(t, 'location');
  if (location === undefined)
    throw new KilnError('INVALID_MODEL', `${where}: external data without a 'location' entry`);
  const clean = checkLocation(location, where);
  if (baseDir === undefined) {
    throw new KilnError(
      'INVALID_ARGUMENT',
      `${where}: the tensor's data is in external file '${location}', but the model was loaded from bytes; pass { baseDir } to find it`,
    );
  }
  const path = join(baseDir, clean);
  if (!existsSync(path))
    throw new KilnError(
      'NOT_FOUND',
      `${where}: external data file '${location}' not found in ${baseDir}`,
    );
  const realBase = realpathSync(baseDir);
  const realFile = realpathSync(path);
  const rel = relative(realBase, realFile);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new KilnError(
      'INVALID_MODEL',
      `${where}: external data location '${location}' resolves outside the model's folder (symlink?)`,
    );
  }
  const offset = parseCount(entry(t, 'offset'), 'offset', where) ?? 0;
  const given = parseCount(entry(t, 'length'), 'length', where);
  const fd = openSync(realFile, 'r');
  let size: number;
  try {
    size = fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
  const length = given ?? size - offset;
  if (offset > size || offset + length > size) {
    throw new KilnError(
      'INVALID_MODEL',
      `${where}: external data [${offset}, ${offset + length}) lies beyond the end of '${location}' (${size} bytes)`,
    );
  }
  return { location, path: realFile, offset, length };
}

/** Reads a tensor's external bytes (on demand: the IR calls this lazily). */
export function readExternal(ref: ExternalRef): Uint8Array {
  const out = new Uint8Array(ref.length);
  let fd: number;
  try {
    fd = openSync(ref.path, 'r');
  } catch (error) {
    throw new KilnError(
      'IO_ERROR',
      `cannot open external data file ${ref.path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  try {
    let done = 0;
    while (done < ref.length) {
      const n = readSync(fd, out, done, ref.length - done, ref.offset + done);
      if (n === 0)
        throw new KilnError(
          'IO_ERROR',
          `external data file ${ref.path} ended early (it changed after loading?)`,
        );
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
