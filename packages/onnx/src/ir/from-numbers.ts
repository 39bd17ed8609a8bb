import { KilnError } from '@kiln/core';
import { elemTypeName, ElemType } from './elem-type';
import { Initializer } from './initializer';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** An initializer of `elemType` holding `values` (as folding computes them, in doubles). */
export function initializerFromNumbers(
  name: string,
  elemType: number,
  dims: readonly number[],
  values: readonly number[],
): Initializer {
  const n = values.length;
  let bytes: Uint8Array;
  switch (elemType) {
    case ElemType.FLOAT:
      bytes = new Uint8Array(Float32Array.from(values).buffer);
      break;
    case ElemType.DOUBLE:
      bytes = new Uint8Array(Float64Array.from(values).buffer);
      break;
    case ElemType.INT32:
      bytes = new Uint8Array(Int32Array.from(values).buffer);
      break;
    case ElemType.INT64: {
      // INT64_MAX read as a double is 2^63; clamp so 'to the end' slice bounds survive folding.
      const a = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        const b = Number.isFinite(v) ? BigInt(Math.trunc(v)) : v > 0 ? INT64_MAX : INT64_MIN;
        a[i] = b > INT64_MAX ? INT64_MAX : b < INT64_MIN ? INT64_MIN : b;
      }
      bytes = new Uint8Array(a.buffer);
      break;
    }
    case ElemType.BOOL:
    case ElemType.UINT8:
      bytes = Uint8Array.from(values, (v) => (elemType === ElemType.BOOL ? (v !== 0 ? 1 : 0) : v));
      break;
    case ElemType.INT8:
      bytes = new Uint8Array(Int8Array.from(values).buffer);
      break;
    default:
      throw new KilnError(
        'UNSUPPORTED',
        `cannot make a ${elemTypeName(elemType)} constant from numbers`,
      );
  }
  return Initializer.fromBytes(name, elemType, dims, bytes);
}
