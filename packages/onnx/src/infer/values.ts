// Index arithmetic on small row-major arrays of any element type. Inference uses it on symbolic
// values (shape math), constant folding on numbers, so both compute Slice/Transpose/... the same way.

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** Transposes `data` of `shape` by `perm`. */
export function transposeND<T>(
  data: readonly T[],
  shape: readonly number[],
  perm: readonly number[],
): T[] {
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]!);
  const n = data.length;
  const out = new Array<T>(n);
  const idx = Array<number>(outShape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let src = 0;
    for (let d = 0; d < idx.length; d++) src += idx[d]! * inStrides[perm[d]!]!;
    out[k] = data[src]!;
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Per-axis [start, end, step] of a slice, already clamped. */
export type Range = [start: number, end: number, step: number];

/** Number of elements a clamped range selects. */
export function rangeLength([s, e, step]: Range): number {
  return Math.max(0, Math.ceil((e - s) / step));
}

/** Slices `data` of `shape` by one range per axis. */
export function sliceND<T>(
  data: readonly T[],
  shape: readonly number[],
  ranges: readonly Range[],
): T[] {
  const strides = stridesOf(shape);
  const outShape = ranges.map(rangeLength);
  const total = outShape.reduce((a, b) => a * b, 1);
  const out = new Array<T>(total);
  const idx = Array<number>(shape.length).fill(0);
  for (let k = 0; k < total; k++) {
    let src = 0;
    for (let d = 0; d < idx.length; d++)
      src += (ranges[d]![0] + idx[d]! * ranges[d]![2]) * strides[d]!;
    out[k] = data[src]!;
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Clamps ONNX Slice parameters for a dim of size `d` into a Range. */
export function clampRange(start: number, end: number, step: number, d: number): Range {
  const clamp = (v: number, lo: number, hi: number) =>
    Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
  return step > 0
    ? [clamp(start, 0, d), clamp(end, 0, d), step]
    : [clamp(start, -1, d - 1), clamp(end, -1, d - 1), step];
}

/** Gathers along `axis` with (already non-negative) indices. */
export function gatherND<T>(
  data: readonly T[],
  shape: readonly number[],
  axis: number,
  indices: readonly number[],
): T[] {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const d = shape[axis]!;
  const out: T[] = [];
  for (let o = 0; o < outer; o++) {
    for (const i of indices)
      for (let k = 0; k < inner; k++) out.push(data[(o * d + i) * inner + k]!);
  }
  return out;
}

/** Concatenates arrays along `axis` (shapes equal except on that axis). */
export function concatND<T>(
  datas: readonly (readonly T[])[],
  shapes: readonly (readonly number[])[],
  axis: number,
): T[] {
  const outer = shapes[0]!.slice(0, axis).reduce((a, b) => a * b, 1);
  const out: T[] = [];
  for (let o = 0; o < outer; o++) {
    datas.forEach((data, j) => {
      const block = shapes[j]!.slice(axis).reduce((a, b) => a * b, 1);
      for (let k = 0; k < block; k++) out.push(data[o * block + k]!);
    });
  }
  return out;
}

/** Broadcasts `data` of `shape` to `target` (numpy rules). */
export function broadcastTo<T>(
  data: readonly T[],
  shape: readonly number[],
  target: readonly number[],
): T[] {
  const rank = target.length;
  const padded = [...Array(rank - shape.length).fill(1), ...shape] as number[];
  const strides = stridesOf(padded).map((s, i) => (padded[i] === 1 ? 0 : s));
  const total = target.reduce((a, b) => a * b, 1);
  const out = new Array<T>(total);
  const idx = Array<number>(rank).fill(0);
  for (let k = 0; k < total; k++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d]! * strides[d]!;
    out[k] = data[src]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < target[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}
