import { KilnError, type Shape, invalidParameterError } from '@kiln/core';

/** The min/opt/max shapes of one dynamic input in a profile. */
export interface ShapeRange {
  min: number[];
  opt: number[];
  max: number[];
}

function expectDims(name: string, what: string, dims: unknown): number[] {
  if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalidParameterError(
      `${what} shape of '${name}'`,
      'an array of non-negative integers',
      dims,
    );
  }
  return [...dims];
}

/**
 * Shape ranges for dynamic inputs (TensorRT's IOptimizationProfile): every dim of an input
 * must satisfy min <= opt <= max; engines are tuned for opt.
 */
export class OptimizationProfile {
  readonly #ranges = new Map<string, ShapeRange>();

  /** Sets the range of input `name`; throws when min <= opt <= max fails or ranks differ. */
  setDimensions(name: string, range: { min: Shape; opt: Shape; max: Shape }): this {
    if (typeof name !== 'string' || !name)
      throw invalidParameterError('name', 'an input name', name);
    const min = expectDims(name, 'min', range?.min);
    const opt = expectDims(name, 'opt', range?.opt);
    const max = expectDims(name, 'max', range?.max);
    if (min.length !== opt.length || opt.length !== max.length) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `profile shapes of '${name}' have different ranks: min [${min}], opt [${opt}], max [${max}]`,
      );
    }
    for (let i = 0; i < min.length; i++) {
      if (!(min[i]! <= opt[i]! && opt[i]! <= max[i]!)) {
        throw new KilnError(
          'INVALID_ARGUMENT',
          `profile of '${name}' dim ${i} needs min <= opt <= max but has ${min[i]}, ${opt[i]}, ${max[i]}`,
        );
      }
    }
    this.#ranges.set(name, { min, opt, max });
    return this;
  }

  /** The range set for `name`, if any. */
  getDimensions(name: string): ShapeRange | undefined {
    return this.#ranges.get(name);
  }

  /** Input names with a range. */
  names(): string[] {
    return [...this.#ranges.keys()];
  }
}
