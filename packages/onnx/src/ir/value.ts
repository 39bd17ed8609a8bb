import { KilnError } from '@kiln/core';
import type { Dimension, TypeProto, ValueInfoProto } from '../io/proto-types';
import { toSafeNumber } from './initializer';
import type { Dim } from './shape';

/**
 * A named tensor's type: element type and shape (numbers, symbols, or null for unknown dims).
 * Non-tensor types (sequence, map, optional) keep their TypeProto in `proto.type` untouched.
 */
export class Value {
  /** The tensor's name. */
  name: string;
  /** ONNX element type code, undefined when unknown or not a tensor. */
  elemType: number | undefined;
  /** Dims, or undefined when the rank is unknown. */
  shape: Dim[] | undefined;
  /** The ValueInfoProto this came from (doc string, denotations, unknown fields). */
  readonly proto: ValueInfoProto;

  constructor(name: string, elemType?: number, shape?: Dim[], proto?: ValueInfoProto) {
    this.name = name;
    this.elemType = elemType;
    this.shape = shape;
    this.proto = proto ?? { metadataProps: [] };
  }

  /** True when the ValueInfo describes a tensor (or has no type at all yet). */
  get isTensor(): boolean {
    const t = this.proto.type;
    return (
      t === undefined ||
      t.tensorType !== undefined ||
      (t.sequenceType === undefined &&
        t.mapType === undefined &&
        t.optionalType === undefined &&
        t.sparseTensorType === undefined)
    );
  }

  /** Reads a ValueInfoProto; `where` names it in errors. */
  static fromProto(p: ValueInfoProto, where: string): Value {
    if (p.name === undefined)
      throw new KilnError('INVALID_MODEL', `${where}: value_info without a name`);
    const tt = p.type?.tensorType;
    const shape = tt?.shape?.dim.map((d, i) => readDim(d, `${where} '${p.name}' shape.dim[${i}]`));
    return new Value(p.name, tt?.elemType, shape, p);
  }

  /** A copy with its own shape array. */
  clone(name = this.name): Value {
    return new Value(name, this.elemType, this.shape ? [...this.shape] : undefined, {
      ...this.proto,
    });
  }

  /** The ValueInfoProto to write. */
  toProto(): ValueInfoProto {
    if (!this.isTensor) return { ...this.proto, name: this.name };
    // A value_info without a type (allowed in subgraphs) must not gain an empty one.
    if (
      this.proto.type?.tensorType === undefined &&
      this.elemType === undefined &&
      this.shape === undefined
    ) {
      return { ...this.proto, name: this.name };
    }
    const old = this.proto.type?.tensorType;
    const type: TypeProto = { ...this.proto.type };
    const tensorType = { ...old };
    if (this.elemType !== undefined) tensorType.elemType = this.elemType;
    else delete tensorType.elemType;
    if (this.shape === undefined) delete tensorType.shape;
    else {
      const oldDims = old?.shape?.dim ?? [];
      tensorType.shape = {
        ...old?.shape,
        dim: this.shape.map((d, i) =>
          writeDim(d, oldDims.length === this.shape!.length ? oldDims[i] : undefined),
        ),
      };
    }
    type.tensorType = tensorType;
    return { ...this.proto, name: this.name, type };
  }
}

function readDim(d: Dimension, where: string): Dim {
  if (d.dimValue !== undefined) return toSafeNumber(d.dimValue, where);
  if (d.dimParam !== undefined && d.dimParam !== '') return d.dimParam;
  return null;
}

// Keeps a dim's denotation and unknown fields when the dim itself is unchanged in kind.
function writeDim(d: Dim, old: Dimension | undefined): Dimension {
  const out: Dimension = {};
  if (old?.denotation !== undefined) out.denotation = old.denotation;
  if (old?.$unknown !== undefined) out.$unknown = old.$unknown;
  if (typeof d === 'number') out.dimValue = d;
  else if (typeof d === 'string') out.dimParam = d;
  else if (old !== undefined && old.dimValue === undefined && old.dimParam !== undefined)
    out.dimParam = old.dimParam;
  return out;
}
