import { dataTypeCode, KilnError, Tensor } from '@kiln/core';
import { type ExternalRef, readExternal } from '../io/external';
import type { TensorProto } from '../io/proto-types';
import type { Int64 } from '../io/wire';
import {
  elemTypeByteLength,
  elemTypeName,
  ElemType,
  isKnownElemType,
  kilnDataType,
} from './elem-type';
import { staticSize } from './shape';

/** Converts an int64 field value to a safe number, or throws naming `what`. */
export function toSafeNumber(v: Int64, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n))
    throw new KilnError('INVALID_MODEL', `${what}: ${v} is out of range`);
  return n;
}

/**
 * A constant tensor of a graph (an initializer or a Constant's value). The data stays where the
 * file put it (a view of raw_data, typed fields, or an external file) until `bytes()` or
 * `tensor()` asks for it, so loading a 100 MB model touches no weights.
 */
export class Initializer {
  /** The tensor's name in the graph. */
  name: string;
  /** ONNX element type code. */
  readonly elemType: number;
  /** Static dims. */
  readonly dims: readonly number[];
  /** The TensorProto fields this class does not model (doc_string, metadata, unknown fields). */
  readonly proto: TensorProto;
  private raw: Uint8Array | undefined;
  private readonly external: ExternalRef | undefined;

  /** Wraps a decoded TensorProto; `external` is its checked external-data reference, if any. */
  constructor(proto: TensorProto, where: string, external?: ExternalRef) {
    if (
      proto.dataType === undefined ||
      !isKnownElemType(proto.dataType) ||
      proto.dataType === ElemType.UNDEFINED
    ) {
      throw new KilnError(
        'UNSUPPORTED',
        `${where}: data_type ${proto.dataType ?? '(missing)'} is not a supported ONNX element type`,
      );
    }
    this.name = proto.name ?? '';
    this.elemType = proto.dataType;
    this.dims = proto.dims.map((d, i) => {
      const n = toSafeNumber(d, `${where}: dims[${i}]`);
      if (n < 0) throw new KilnError('INVALID_MODEL', `${where}: dims[${i}] is negative (${n})`);
      return n;
    });
    if (proto.segment !== undefined) {
      throw new KilnError(
        'UNSUPPORTED',
        `${where}: segmented tensors (TensorProto.segment) are not supported`,
      );
    }
    this.proto = proto;
    this.raw = proto.rawData;
    this.external = external;
    this.checkSize(where);
  }

  /** Makes an initializer from a @kiln/core Tensor (the data is viewed, not copied). */
  static fromTensor(name: string, tensor: Tensor): Initializer {
    const d = tensor.data;
    return Initializer.fromBytes(
      name,
      dataTypeCode(tensor.dtype),
      tensor.shape,
      new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
    );
  }

  /** Makes an initializer from little-endian bytes of any fixed-size element type. */
  static fromBytes(
    name: string,
    elemType: number,
    dims: readonly number[],
    bytes: Uint8Array,
  ): Initializer {
    return new Initializer(
      { ...emptyTensorProto(), name, dataType: elemType, dims: [...dims], rawData: bytes },
      `initializer '${name}'`,
    );
  }

  /** Number of elements. */
  get size(): number {
    return staticSize(this.dims);
  }

  /** True when the data is in an external file not read yet. */
  get isExternal(): boolean {
    return this.raw === undefined && this.external !== undefined;
  }

  /** Bytes of data once materialised (string tensors: their total string bytes). */
  get byteLength(): number {
    if (this.elemType === ElemType.STRING)
      return this.proto.stringData.reduce((n, s) => n + s.length, 0);
    return elemTypeByteLength(this.elemType, this.size);
  }

  /** The little-endian bytes (read from the external file, or packed from typed fields, on first use). */
  bytes(): Uint8Array {
    if (this.raw === undefined) {
      if (this.elemType === ElemType.STRING) {
        throw new KilnError(
          'UNSUPPORTED',
          `initializer '${this.name}': string tensors have no raw bytes; use proto.stringData`,
        );
      }
      this.raw =
        this.external !== undefined
          ? readExternal(this.external)
          : packTypedFields(this.proto, this.elemType, this.size);
    }
    return this.raw;
  }

  /** The data as a @kiln/core Tensor; UNSUPPORTED for element types kiln's runtime lacks. */
  tensor(): Tensor {
    const dtype = kilnDataType(this.elemType);
    if (dtype === undefined) {
      throw new KilnError(
        'UNSUPPORTED',
        `initializer '${this.name}' is ${elemTypeName(this.elemType)}, which @kiln/core's Tensor cannot hold`,
      );
    }
    const b = this.bytes();
    return new Tensor(dtype, this.dims, Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }

  /** Integer elements as numbers (int8..int64, uint8..uint64, bool); for shapes and indices. */
  toNumbers(): number[] {
    const b = this.bytes();
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const n = this.size;
    const out = new Array<number>(n);
    const t = this.elemType;
    for (let i = 0; i < n; i++) {
      if (t === ElemType.INT64) out[i] = Number(view.getBigInt64(i * 8, true));
      else if (t === ElemType.UINT64) out[i] = Number(view.getBigUint64(i * 8, true));
      else if (t === ElemType.INT32) out[i] = view.getInt32(i * 4, true);
      else if (t === ElemType.UINT32) out[i] = view.getUint32(i * 4, true);
      else if (t === ElemType.INT16) out[i] = view.getInt16(i * 2, true);
      else if (t === ElemType.UINT16) out[i] = view.getUint16(i * 2, true);
      else if (t === ElemType.INT8) out[i] = view.getInt8(i);
      else if (t === ElemType.UINT8 || t === ElemType.BOOL) out[i] = view.getUint8(i);
      else if (t === ElemType.FLOAT) out[i] = view.getFloat32(i * 4, true);
      else if (t === ElemType.DOUBLE) out[i] = view.getFloat64(i * 8, true);
      else
        throw new KilnError(
          'UNSUPPORTED',
          `initializer '${this.name}': cannot read ${elemTypeName(t)} as numbers`,
        );
    }
    return out;
  }

  /** The resolved external data file while the data has not been read, else undefined. */
  get externalPath(): string | undefined {
    return this.raw === undefined ? this.external?.path : undefined;
  }

  /** The TensorProto's metadata with every data field emptied (for writing data elsewhere). */
  toProtoWithoutData(): TensorProto {
    const p: TensorProto = { ...this.proto, dataType: this.elemType, dims: [...this.dims] };
    if (this.name !== '' || this.proto.name !== undefined) p.name = this.name;
    delete p.dataLocation;
    delete p.rawData;
    return {
      ...p,
      floatData: [],
      int32Data: [],
      int64Data: [],
      doubleData: [],
      uint64Data: [],
      stringData: [],
      externalData: [],
    };
  }

  /** The TensorProto to write, with the data inline as raw_data (strings stay in string_data). */
  toProto(): TensorProto {
    const p: TensorProto = { ...this.proto, dataType: this.elemType, dims: [...this.dims] };
    if (this.name !== '' || this.proto.name !== undefined) p.name = this.name;
    delete p.dataLocation;
    p.externalData = [];
    if (this.elemType === ElemType.STRING) return p;
    if (this.raw === undefined && this.external === undefined) return p; // typed fields: kept as the file had them
    p.floatData = [];
    p.int32Data = [];
    p.int64Data = [];
    p.doubleData = [];
    p.uint64Data = [];
    p.rawData = this.bytes();
    return p;
  }

  private checkSize(where: string): void {
    if (this.elemType === ElemType.STRING) {
      if (this.proto.stringData.length !== this.size && this.external === undefined) {
        throw new KilnError(
          'INVALID_MODEL',
          `${where}: ${this.proto.stringData.length} strings for ${this.size} elements`,
        );
      }
      return;
    }
    const want = elemTypeByteLength(this.elemType, this.size);
    const have = this.raw?.length ?? this.external?.length;
    if (have !== undefined && have !== want) {
      throw new KilnError(
        'INVALID_MODEL',
        `${where}: ${have} bytes of data for ${this.size} ${elemTypeName(this.elemType)} elements (${want} bytes expected)`,
      );
    }
    if (have === undefined) {
      const count = typedFieldCount(this.proto, this.elemType);
      const expected =
        this.elemType === ElemType.COMPLEX64 || this.elemType === ElemType.COMPLEX128
          ? this.size * 2
          : this.elemType >= 21 && this.elemType <= 23
            ? Math.ceil(this.size / 2)
            : this.size;
      if (count !== expected) {
        throw new KilnError(
          'INVALID_MODEL',
          `${where}: ${count} values in its typed data field for ${this.size} elements`,
        );
      }
    }
  }
}

/** A TensorProto with every repeated field empty. */
export function emptyTensorProto(): TensorProto {
  return {
    dims: [],
    floatData: [],
    int32Data: [],
    stringData: [],
    int64Data: [],
    doubleData: [],
    uint64Data: [],
    externalData: [],
    metadataProps: [],
  };
}

function typedField(p: TensorProto, t: number): readonly (number | bigint)[] {
  switch (t) {
    case ElemType.FLOAT:
    case ElemType.COMPLEX64:
      return p.floatData;
    case ElemType.INT64:
      return p.int64Data;
    case ElemType.DOUBLE:
    case ElemType.COMPLEX128:
      return p.doubleData;
    case ElemType.UINT32:
    case ElemType.UINT64:
      return p.uint64Data;
    default:
      return p.int32Data;
  }
}

function typedFieldCount(p: TensorProto, t: number): number {
  return typedField(p, t).length;
}

// ONNX stores small integer and 16-bit float types widened in int32_data (float16/bfloat16 as
// their bit patterns); this packs them back into the raw little-endian layout.
function packTypedFields(p: TensorProto, t: number, size: number): Uint8Array {
  const src = typedField(p, t);
  const bytes = new Uint8Array(elemTypeByteLength(t, size));
  const v = new DataView(bytes.buffer);
  const num = (i: number) => Number(src[i]);
  switch (t) {
    case ElemType.FLOAT:
    case ElemType.COMPLEX64:
      for (let i = 0; i < src.length; i++) v.setFloat32(i * 4, num(i), true);
      break;
    case ElemType.DOUBLE:
    case ElemType.COMPLEX128:
      for (let i = 0; i < src.length; i++) v.setFloat64(i * 8, num(i), true);
      break;
    case ElemType.INT64:
      for (let i = 0; i < src.length; i++) v.setBigInt64(i * 8, BigInt(src[i]!), true);
      break;
    case ElemType.UINT64:
      for (let i = 0; i < src.length; i++)
        v.setBigUint64(i * 8, BigInt.asUintN(64, BigInt(src[i]!)), true);
      break;
    case ElemType.UINT32:
      for (let i = 0; i < src.length; i++) v.setUint32(i * 4, num(i), true);
      break;
    case ElemType.INT32:
      for (let i = 0; i < src.length; i++) v.setInt32(i * 4, num(i), true);
      break;
    case ElemType.INT16:
    case ElemType.UINT16:
    case ElemType.FLOAT16:
    case ElemType.BFLOAT16:
      for (let i = 0; i < src.length; i++) v.setUint16(i * 2, num(i) & 0xffff, true);
      break;
    default:
      // 8-bit types one per int32; 4-bit types already two per int32 value.
      for (let i = 0; i < src.length; i++) v.setUint8(i, num(i) & 0xff);
  }
  return bytes;
}
