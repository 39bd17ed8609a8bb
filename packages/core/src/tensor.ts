import {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBFloat16,
  float32ToFloat16,
} from './convert';
import {
  type DataType,
  type TensorData,
  type TypedArrayOf,
  expectDataType,
  typedArrayConstructor,
} from './dtype';
import { KilnError } from './errors';
import { invalidParameterError, isIntegerInRange } from './validate';

/** A tensor shape: non-negative integer dims, outermost first. */
export type Shape = readonly number[];

/** Number of elements of a shape (1 for a scalar). Throws on a malformed shape. */
export function shapeSize(shape: Shape, name = 'shape'): number {
  if (!Array.isArray(shape))
    throw invalidParameterError(name, 'an array of non-negative integers', shape);
  let n = 1;
  for (const d of shape) {
    if (!isIntegerInRange(d, 0))
      throw invalidParameterError(name, 'an array of non-negative integers', shape);
    n *= d;
    if (!Number.isSafeInteger(n)) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `${name} [${shape.join(', ')}] has too many elements`,
      );
    }
  }
  return n;
}

/**
 * A host tensor: a dtype, a shape and contiguous data in a TypedArray (float16 and bfloat16
 * as Uint16Array bit patterns, bool as Uint8Array of 0/1, int64 as BigInt64Array).
 */
export class Tensor<D extends DataType = DataType> {
  /** Element type. */
  readonly dtype: D;
  /** Dims, outermost first. */
  readonly shape: Shape;
  /** The elements, row-major. */
  readonly data: TypedArrayOf[D];

  /**
   * Wraps `data` (no copy when it is the dtype's TypedArray; a Buffer or ArrayBuffer is viewed,
   * copied only if misaligned), or allocates zeros when `data` is omitted.
   */
  constructor(dtype: D, shape: Shape, data?: TypedArrayOf[D] | ArrayBuffer | Buffer) {
    this.dtype = expectDataType('dtype', dtype) as D;
    const size = shapeSize(shape);
    this.shape = Object.freeze([...shape]);
    const Ctor = typedArrayConstructor(this.dtype);
    if (data === undefined) {
      this.data = new Ctor(size);
    } else if (data instanceof Ctor) {
      this.data = data;
    } else if (data instanceof ArrayBuffer || Buffer.isBuffer(data)) {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
      if (bytes.byteLength % Ctor.BYTES_PER_ELEMENT !== 0) {
        throw new KilnError(
          'INVALID_ARGUMENT',
          `${bytes.byteLength} bytes is not a whole number of ${dtype} elements`,
        );
      }
      const aligned = bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0;
      const source = aligned ? bytes : new Uint8Array(bytes);
      this.data = new Ctor(
        source.buffer,
        source.byteOffset,
        source.byteLength / Ctor.BYTES_PER_ELEMENT,
      );
    } else {
      throw invalidParameterError(
        'data',
        `a ${Ctor.name}, Buffer or ArrayBuffer for a ${dtype} tensor`,
        data,
      );
    }
    if (this.data.length !== size) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `a ${dtype} tensor of shape [${shape.join(', ')}] needs ${size} elements but the data has ${this.data.length}`,
      );
    }
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Bytes of data. */
  get byteLength(): number {
    return this.data.byteLength;
  }

  /** The same data under another shape with the same number of elements. */
  reshape(shape: Shape): Tensor<D> {
    if (shapeSize(shape) !== this.size) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]: sizes differ`,
      );
    }
    return new Tensor(this.dtype, shape, this.data);
  }

  /**
   * A copy converted to `dtype`. float32 <-> float16/bfloat16 round to nearest even (native);
   * other conversions go through Number (exact for every int32, and int64 up to 2^53); to
   * integers they truncate toward zero and wrap like TypedArray stores; to bool, non-zero is 1.
   * NaN or Infinity converted to an integer type is a KilnError.
   */
  to<T extends DataType>(dtype: T): Tensor<T> {
    expectDataType('dtype', dtype);
    if ((dtype as DataType) === this.dtype)
      return new Tensor(dtype, this.shape, this.data.slice() as TypedArrayOf[T]);
    return new Tensor(dtype, this.shape, fromNumbers(this.toNumbers(), dtype));
  }

  private toNumbers(): ArrayLike<number> {
    switch (this.dtype) {
      case 'float16':
        return float16ToFloat32(this.data as Uint16Array);
      case 'bfloat16':
        return bfloat16ToFloat32(this.data as Uint16Array);
      case 'int64':
        return Float64Array.from(this.data as BigInt64Array, (v) => Number(v));
      default:
        return this.data as Exclude<TensorData, BigInt64Array>;
    }
  }
}

function truncFinite(v: number): number {
  if (!Number.isFinite(v)) {
    throw new KilnError('INVALID_ARGUMENT', `cannot convert ${v} to an integer type`);
  }
  return Math.trunc(v);
}

function asFloat32(values: ArrayLike<number>): Float32Array {
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

function fromNumbers<T extends DataType>(values: ArrayLike<number>, dtype: T): TypedArrayOf[T] {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values) as TypedArrayOf[T];
    case 'float16':
      return float32ToFloat16(asFloat32(values)) as TypedArrayOf[T];
    case 'bfloat16':
      return float32ToBFloat16(asFloat32(values)) as TypedArrayOf[T];
    case 'bool':
      return Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0)) as TypedArrayOf[T];
    case 'int64':
      return BigInt64Array.from(values as ArrayLike<number>, (v: number) =>
        BigInt(truncFinite(v)),
      ) as unknown as TypedArrayOf[T];
    default: {
      const Ctor = typedArrayConstructor(dtype) as unknown as {
        from(a: ArrayLike<number>, f: (v: number) => number): TypedArrayOf[T];
      };
      return Ctor.from(values, truncFinite);
    }
  }
}
