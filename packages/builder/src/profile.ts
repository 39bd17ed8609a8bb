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
  readonly #values = new Map<string, ShapeRange>();

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

  /**
   * For an int32/int64/bool input whose values steer shapes or branches (like TensorRT's shape
   * tensors, e.g. a sample rate choosing a subnetwork): the values the build checks at min,
   * opt and max. Each is one value per element of the input.
   */
  setShapeValues(name: string, values: { min: number[]; opt: number[]; max: number[] }): this {
    if (typeof name !== 'string' || !name)
      throw invalidParameterError('name', 'an input name', name);
    const ints = (what: string, v: unknown): number[] => {
      if (!Array.isArray(v) || !v.every(Number.isSafeInteger))
        throw invalidParameterError(`${what} values of '${name}'`, 'an array of integers', v);
      return [...v];
    };
    const min = ints('min', values?.min);
    const opt = ints('opt', values?.opt);
    const max = ints('max', values?.max);
    if (min.length !== opt.length || opt.length !== max.length) {
      throw new KilnError('INVALID_ARGUMENT', `shape values of '${name}' have different lengths`);
    }
    min.forEach((m, i) => {
      if (!(m <= opt[i]! && opt[i]! <= max[i]!)) {
        throw new KilnError(
          'INVALID_ARGUMENT',
          `shape value ${i} of '${name}' needs min <= opt <= max but has ${m}, ${opt[i]}, ${max[i]}`,
        );
      }
    });
    this.#values.set(name, { min, opt, max });
    return this;
  }

  /** The shape values set for `name`, if any. */
  getShapeValues(name: string): ShapeRange | undefined {
    return this.#values.get(name);
  }

  /** The range set for `name`, if any. */
  getDimensions(name: string): ShapeRange | undefined {
    return this.#ranges.get(name);
  }

  /** Input names with a range or shape values. */
  names(): string[] {
    return [...new Set([...this.#ranges.keys(), ...this.#values.keys()])];
  }
}
