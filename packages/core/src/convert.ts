import { native } from './addon';
import { dataTypeCode } from './dtype';
import { invalidParameterError } from './validate';

// fp32 <-> fp16 / bf16 run in the native core (F16C / AVX-512 when the CPU has them):
// round-to-nearest-even, subnormals kept, NaN kept NaN.

function expectArray<T>(
  name: string,
  value: unknown,
  ctor: { new (n: number): T; name: string },
): T {
  if (!(value instanceof (ctor as unknown as abstract new (...a: never[]) => unknown))) {
    throw invalidParameterError(name, `a ${ctor.name}`, value);
  }
  return value as T;
}

/** float32 values -> IEEE half-precision bit patterns. */
export function float32ToFloat16(src: Float32Array): Uint16Array {
  expectArray('src', src, Float32Array);
  const dst = new Uint16Array(src.length);
  native().convert(src, dataTypeCode('float32'), dst, dataTypeCode('float16'));
  return dst;
}

/** IEEE half-precision bit patterns -> float32 values. */
export function float16ToFloat32(src: Uint16Array): Float32Array {
  expectArray('src', src, Uint16Array);
  const dst = new Float32Array(src.length);
  native().convert(src, dataTypeCode('float16'), dst, dataTypeCode('float32'));
  return dst;
}

/** float32 values -> bfloat16 bit patterns. */
export function float32ToBFloat16(src: Float32Array): Uint16Array {
  expectArray('src', src, Float32Array);
  const dst = new Uint16Array(src.length);
  native().convert(src, dataTypeCode('float32'), dst, dataTypeCode('bfloat16'));
  return dst;
}

/** bfloat16 bit patterns -> float32 values. */
export function bfloat16ToFloat32(src: Uint16Array): Float32Array {
  expectArray('src', src, Uint16Array);
  const dst = new Float32Array(src.length);
  native().convert(src, dataTypeCode('bfloat16'), dst, dataTypeCode('float32'));
  return dst;
}
