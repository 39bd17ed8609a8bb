import {
  closeSync,
  existsSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { isKilnError, KilnError } from '@kiln/core';
import { modelToProto, type TensorWriter } from '../ir/convert';
import type { Graph } from '../ir/graph';
import type { Initializer } from '../ir/initializer';
import type { Model } from '../ir/model';
import { encodeMessage } from './codec';
import { checkLocation } from './external';

/** Options of saveModel. */
export interface SaveOptions {
  /**
   * Write large initializers to a side file: `true` for the defaults, or `{ threshold, location }`.
   * Without it, a model whose weights pass protobuf's 2 GiB limit gets external data anyway.
   */
  externalData?: boolean | { threshold?: number; location?: string };
  /** Weight bytes above which external data is used automatically (default: 2 GiB less a 64 MiB margin for the graph). */
  inlineLimit?: number;
}

/** protobuf cannot encode a message of 2 GiB or more; leave room for the graph itself. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;
const GRAPH_MARGIN = 64 * 1024 * 1024;
const ALIGN = 4096;

/** Encodes a model to .onnx bytes with every tensor inline (KilnError if that passes 2 GiB). */
export function serializeModel(model: Model): Uint8Array {
  const weights = totalWeightBytes(model.graph);
  if (weights > PROTOBUF_LIMIT - GRAPH_MARGIN) {
    throw new KilnError(
      'UNSUPPORTED',
      `the model holds ${weights} bytes of weights, over protobuf's 2 GiB limit; save it to a file with external data`,
    );
  }
  return guard(() => encodeMessage('ModelProto', modelToProto(model)));
}

/** Writes a model to `path`, with external data when asked or when it would pass 2 GiB. */
export function saveModel(model: Model, path: string, options: SaveOptions = {}): void {
  const weights = totalWeightBytes(model.graph);
  let ext = options.externalData;
  if (ext === undefined || ext === false) {
    if (weights > (options.inlineLimit ?? PROTOBUF_LIMIT - GRAPH_MARGIN)) ext = true;
  }
  const target = resolve(path);
  if (ext === undefined || ext === false) {
    writeAtomically(target, serializeModel(model));
    return;
  }
  const opts = ext === true ? {} : ext;
  const threshold = opts.threshold ?? 1024;
  if (!Number.isSafeInteger(threshold) || threshold < 0)
    throw new KilnError(
      'INVALID_ARGUMENT',
      `externalData.threshold must be a non-negative integer, not ${threshold}`,
    );
  const location = opts.location ?? `${basename(target)}.data`;
  const dataPath = join(dirname(target), checkLocation(location, 'externalData.location'));
  materialiseReadersOf(model.graph, dataPath);
  const tmpData = `${dataPath}.tmp-${process.pid}`;
  const fd = openSync(tmpData, 'w');
  let offset = 0;
  const writer: TensorWriter = (init) => {
    const p = init.toProtoWithoutData();
    if (init.elemType === 8 || init.byteLength < threshold) return init.toProto();
    const bytes = init.bytes();
    const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
    offset += pad;
    let done = 0;
    while (done < bytes.length)
      done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
    p.dataLocation = 1;
    p.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(bytes.length) },
    ];
    offset += bytes.length;
    return p;
  };
  try {
    const bytes = guard(() => encodeMessage('ModelProto', modelToProto(model, writer)));
    closeSync(fd);
    renameSync(tmpData, dataPath);
    writeAtomically(target, bytes);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmpData, { force: true });
    throw error;
  }
}

function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    if (isKilnError(error)) throw error;
    throw new KilnError(
      'INVALID_MODEL',
      `cannot encode the model: ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    );
  }
}

function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw new KilnError('IO_ERROR', `cannot write ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function forEachInitializer(g: Graph, f: (i: Initializer) => void): void {
  for (const i of g.initializers.values()) f(i);
  for (const n of g.nodes) for (const s of n.subgraphs()) forEachInitializer(s, f);
}

/** Bytes of all initializers in the graph and its subgraphs. */
export function totalWeightBytes(g: Graph): number {
  let n = 0;
  forEachInitializer(g, (i) => (n += i.byteLength));
  return n;
}

// Saving over the data file a model was loaded from would pull the lazy weights from under it.
function materialiseReadersOf(g: Graph, dataPath: string): void {
  if (!existsSync(dataPath)) return;
  const real = realpathSync(dataPath);
  forEachInitializer(g, (i) => {
    if (i.externalPath === real) i.bytes();
  });
}
