// Compares an engine's output with the suite's expected tensor, the way onnx's backend test does
// (numpy.testing.assert_allclose): |actual - expected| <= atol + rtol * |expected|, NaN equal to
// NaN, infinities equal only to themselves; integers and bools exactly.
import { bfloat16ToFloat32, float16ToFloat32 } from '@kiln/core';

/** The suite's tolerances for floating-point outputs. */
export const RTOL = 1e-3;
export const ATOL = 1e-7;

const FLOATS = new Set(['float32', 'float16', 'bfloat16']);

function asFloat32(t) {
  if (t.dtype === 'float16') return float16ToFloat32(t.data);
  if (t.dtype === 'bfloat16') return bfloat16ToFloat32(t.data);
  return t.data;
}

function sameShape(a, b) {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Undefined when `actual` matches `expected` (both @kiln/core Tensors), else a short message
 * saying what differs (dtype, shape, or the worst element and how many are off).
 */
export function compareTensors(actual, expected, { rtol = RTOL, atol = ATOL } = {}) {
  if (actual.dtype !== expected.dtype) return `dtype ${actual.dtype}, expected ${expected.dtype}`;
  if (!sameShape(actual.shape, expected.shape))
    return `shape [${actual.shape.join(',')}], expected [${expected.shape.join(',')}]`;
  if (FLOATS.has(actual.dtype)) {
    const a = asFloat32(actual);
    const e = asFloat32(expected);
    let bad = 0;
    let worst = -1;
    let worstExcess = -Infinity;
    for (let i = 0; i < e.length; i++) {
      const x = a[i];
      const y = e[i];
      if (Number.isNaN(y) && Number.isNaN(x)) continue;
      if (x === y) continue; // equal infinities too
      const diff = Math.abs(x - y);
      const allowed = atol + rtol * Math.abs(y);
      // NaN on one side only fails the test below; an infinity matches only itself (which
      // x === y took care of), not a finite value within an infinite tolerance.
      if (!(diff <= allowed) || !Number.isFinite(y) || !Number.isFinite(x)) {
        bad++;
        const excess = Number.isFinite(diff) ? diff - allowed : Infinity;
        if (worst < 0 || excess > worstExcess) {
          worst = i;
          worstExcess = excess;
        }
      }
    }
    if (bad === 0) return undefined;
    return `${bad}/${e.length} elements differ; worst at ${worst}: ${a[worst]} vs expected ${e[worst]}`;
  }
  const a = actual.data;
  const e = expected.data;
  let bad = 0;
  let first = -1;
  for (let i = 0; i < e.length; i++) {
    if (a[i] !== e[i]) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad === 0) return undefined;
  return `${bad}/${e.length} elements differ; first at ${first}: ${a[first]} vs expected ${e[first]}`;
}
