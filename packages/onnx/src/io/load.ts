import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isKilnError, KilnError } from '@kiln/core';
import { modelFromProto } from '../ir/convert';
import type { Model } from '../ir/model';
import { decodeMessage } from './codec';
import type { ModelProto } from './proto-types';

/** Options of loadModel. */
export interface LoadOptions {
  /** Folder that external data locations are relative to (default: the model file's folder). */
  baseDir?: string;
  /** Check the graph (dangling inputs, double producers, cycles) after reading; default true. */
  check?: boolean;
}

/** Reads an .onnx model from a path or from its bytes. Every failure is a KilnError naming the file and field. */
export function loadModel(source: string | Uint8Array, options: LoadOptions = {}): Model {
  let bytes: Uint8Array;
  let file: string;
  let baseDir = options.baseDir === undefined ? undefined : resolve(options.baseDir);
  if (typeof source === 'string') {
    file = source;
    try {
      if (statSync(source).isDirectory())
        throw new KilnError('INVALID_ARGUMENT', `${source} is a folder, not an .onnx file`);
      bytes = readFileSync(source);
    } catch (error) {
      if (isKilnError(error)) throw error;
      const code = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR';
      throw new KilnError(code, `cannot read ONNX model ${source}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    baseDir ??= dirname(resolve(source));
  } else if (source instanceof Uint8Array) {
    file = '<bytes>';
    bytes = source;
  } else {
    throw new KilnError(
      'INVALID_ARGUMENT',
      `loadModel expects a file path or a Uint8Array, not ${typeof source}`,
    );
  }
  return parseModel(bytes, file, baseDir, options.check ?? true);
}

function parseModel(
  bytes: Uint8Array,
  file: string,
  baseDir: string | undefined,
  check: boolean,
): Model {
  try {
    if (bytes.length === 0) throw new KilnError('INVALID_MODEL', `${file}: the file is empty`);
    const proto = decodeMessage<ModelProto>('ModelProto', bytes, file);
    const model = modelFromProto(proto, { file, baseDir });
    if (check) {
      model.graph.check(`${file}: graph`);
      model.graph.topologicalSort();
    }
    return model;
  } catch (error) {
    if (isKilnError(error)) {
      if (error.message.startsWith(file)) throw error;
      throw new KilnError(error.code, `${file}: ${error.message}`, { cause: error });
    }
    // A bug here must still reach the caller as a KilnError, never a bare TypeError.
    throw new KilnError(
      'INVALID_MODEL',
      `${file}: cannot parse the model: ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    );
  }
}
