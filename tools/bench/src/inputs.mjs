// The inputs both runtimes see: generated from the shape alone, so two processes that never
// share memory still feed byte-identical tensors.

/**
 * Deterministic float32 values in [-1, 1]: a sine sweep (no PRNG whose state could differ).
 * @param {number} length
 * @param {number} [phase] per-input offset so two inputs of one model differ
 * @returns {Float32Array}
 */
export function sweep(length, phase = 0) {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.sin(i * 0.7311 + phase);
  return out;
}

/**
 * Number of elements of a static shape.
 * @param {readonly number[]} shape
 * @returns {number}
 */
export function elementCount(shape) {
  return shape.reduce((n, d) => n * d, 1);
}
