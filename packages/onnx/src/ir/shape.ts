// Shapes in the IR: each dim a number, a symbolic name ('batch'), or null when unknown.

/** One dimension: a size, a symbol, or null (unknown). */
export type Dim = number | string | null;

/** A shape: dims outermost first. */
export type SymbolicShape = Dim[];

/** True when every dim is a number. */
export function isStaticShape(shape: readonly Dim[] | undefined): shape is number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

/** Element count of a static shape. */
export function staticSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** '[batch, 3, 224, 224]', '?' for unknown dims, 'unranked' for no shape. */
export function formatShape(shape: readonly Dim[] | undefined): string {
  if (shape === undefined) return 'unranked';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/** True when two dims are provably equal. */
export function sameDim(a: Dim, b: Dim): boolean {
  return a !== null && a === b;
}
