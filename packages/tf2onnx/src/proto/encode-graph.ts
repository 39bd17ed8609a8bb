import type { TfAttr, TfGraph, TfNode, TfTensor } from './graph';

// Writes a GraphDef (field numbers as in graph.ts), so TF.js models and test graphs can be saved
// as frozen .pb files. Functions are not written: pass a flat graph.

class Writer {
  private chunks: number[] = [];

  varint(v: number | bigint): this {
    let b = BigInt.asUintN(64, BigInt(v));
    do {
      let byte = Number(b & 0x7fn);
      b >>= 7n;
      if (b !== 0n) byte |= 0x80;
      this.chunks.push(byte);
    } while (b !== 0n);
    return this;
  }
  tag(no: number, wire: number): this {
    return this.varint(no * 8 + wire);
  }
  bytes(no: number, b: Uint8Array): this {
    this.tag(no, 2).varint(b.length);
    for (const x of b) this.chunks.push(x);
    return this;
  }
  string(no: number, s: string): this {
    return this.bytes(no, new TextEncoder().encode(s));
  }
  int(no: number, v: number): this {
    return this.tag(no, 0).varint(v);
  }
  float(no: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.tag(no, 5);
    for (const x of b) this.chunks.push(x);
    return this;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

function shape(dims: number[] | null): Uint8Array {
  const w = new Writer();
  if (dims === null) return w.int(3, 1).finish();
  for (const d of dims) w.bytes(2, new Writer().int(1, d).finish());
  return w.finish();
}

function tensor(t: TfTensor): Uint8Array {
  const w = new Writer().int(1, t.dtype).bytes(2, shape(t.shape));
  if (t.strings) for (const s of t.strings) w.bytes(8, s);
  else w.bytes(4, t.data);
  return w.finish();
}

function attr(a: TfAttr): Uint8Array {
  const w = new Writer();
  if (a.s !== undefined) w.bytes(2, a.s);
  if (a.i !== undefined) w.int(3, a.i);
  if (a.f !== undefined) w.float(4, a.f);
  if (a.b !== undefined) w.int(5, a.b ? 1 : 0);
  if (a.type !== undefined) w.int(6, a.type);
  if (a.shape !== undefined) w.bytes(7, shape(a.shape));
  if (a.tensor !== undefined) w.bytes(8, tensor(a.tensor));
  if (a.func !== undefined) w.bytes(10, new Writer().string(1, a.func.name).finish());
  if (a.list !== undefined) {
    const l = new Writer();
    for (const s of a.list.s) l.bytes(2, s);
    for (const i of a.list.i) l.int(3, i);
    for (const f of a.list.f) l.float(4, f);
    for (const b of a.list.b) l.int(5, b ? 1 : 0);
    for (const t of a.list.type) l.int(6, t);
    for (const s of a.list.shape) l.bytes(7, shape(s));
    for (const t of a.list.tensor) l.bytes(8, tensor(t));
    w.bytes(1, l.finish());
  }
  return w.finish();
}

function node(n: TfNode): Uint8Array {
  const w = new Writer().string(1, n.name).string(2, n.op);
  for (const i of n.inputs) w.string(3, i);
  for (const [k, a] of Object.entries(n.attr))
    w.bytes(5, new Writer().string(1, k).bytes(2, attr(a)).finish());
  return w.finish();
}

/** Encodes a flat graph as GraphDef bytes (a frozen .pb). */
export function encodeGraphDef(g: TfGraph): Uint8Array {
  const w = new Writer();
  for (const n of g.nodes) w.bytes(1, node(n));
  return w.finish();
}
