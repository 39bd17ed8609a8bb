import { float16ToFloat32, KilnError } from '@kiln/core';
import { Initializer } from '@kiln/onnx';
import { onnxElemType, TfDType } from '../proto/dtype';
import type { TfTensor } from '../proto/graph';

/** A TF constant's elements as numbers (int64 beyond 2^53 loses precision; shapes never need it). */
export function tensorNumbers(t: TfTensor): number[] {
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case TfDType.FLOAT:
        out[i] = dv.getFloat32(i * 4, true);
        break;
      case TfDType.DOUBLE:
        out[i] = dv.getFloat64(i * 8, true);
        break;
      case TfDType.INT32:
        out[i] = dv.getInt32(i * 4, true);
        break;
      case TfDType.UINT32:
        out[i] = dv.getUint32(i * 4, true);
        break;
      case TfDType.INT64:
        out[i] = Number(dv.getBigInt64(i * 8, true));
        break;
      case TfDType.UINT64:
        out[i] = Number(dv.getBigUint64(i * 8, true));
        break;
      case TfDType.INT16:
        out[i] = dv.getInt16(i * 2, true);
        break;
      case TfDType.UINT16:
        out[i] = dv.getUint16(i * 2, true);
        break;
      case TfDType.HALF:
        out[i] = float16ToFloat32(new Uint16Array([dv.getUint16(i * 2, true)]))[0]!;
        break;
      case TfDType.INT8:
        out[i] = dv.getInt8(i);
        break;
      case TfDType.UINT8:
      case TfDType.BOOL:
        out[i] = dv.getUint8(i);
        break;
      default:
        throw new KilnError(
          'UNSUPPORTED',
          `cannot read a constant of TensorFlow dtype ${t.dtype} as numbers`,
        );
    }
  }
  return out;
}

/** A float32 constant's elements. */
export function tensorFloats(t: TfTensor): Float32Array {
  if (t.dtype === TfDType.FLOAT) {
    const copy = t.data.slice();
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(tensorNumbers(t));
}

/** A float32 TF tensor from values. */
export function floatTensor(shape: number[], values: Float32Array): TfTensor {
  return {
    dtype: TfDType.FLOAT,
    shape,
    data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  };
}

/** Transposes a constant by `perm` (any fixed-size dtype). */
export function transposeTensor(t: TfTensor, perm: number[]): TfTensor {
  const rank = t.shape.length;
  const width =
    t.data.length /
    Math.max(
      1,
      t.shape.reduce((a, b) => a * b, 1),
    );
  const outShape = perm.map((p) => t.shape[p]!);
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= t.shape[i]!;
  }
  const n = outShape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(t.data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d]! * inStrides[perm[d]!]!;
    out.set(t.data.subarray(src * width, src * width + width), o * width);
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return { dtype: t.dtype, shape: outShape, data: out };
}

/** An ONNX initializer holding a TF constant. */
export function initializerOf(name: string, t: TfTensor): Initializer {
  const elemType = onnxElemType(t.dtype, `constant '${name}'`);
  if (t.dtype === TfDType.STRING)
    throw new KilnError('UNSUPPORTED', `constant '${name}' is a string tensor`);
  return Initializer.fromBytes(name, elemType, t.shape, t.data);
}
