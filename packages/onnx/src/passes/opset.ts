import { KilnError } from '@kiln/core';
import type { Model } from '../ir/model';

/** The default-domain opsets this package's inference and passes are written for. */
export const SUPPORTED_OPSETS = { min: 7, max: 21 } as const;

/** Options of checkOpset. */
export interface OpsetOptions {
  min?: number;
  max?: number;
}

/** Fails with a KilnError when the model's default-domain opset is outside [min, max]; returns the model. */
export function checkOpset(model: Model, options: OpsetOptions = {}): Model {
  const min = options.min ?? SUPPORTED_OPSETS.min;
  const max = options.max ?? SUPPORTED_OPSETS.max;
  const v = model.opset('');
  if (v === undefined)
    throw new KilnError(
      'INVALID_MODEL',
      `${model.source}: the model imports no default-domain (ai.onnx) opset`,
    );
  if (v < min || v > max) {
    throw new KilnError(
      'UNSUPPORTED',
      `${model.source}: opset ${v} is outside the supported range ${min}..${max}; convert the model to an opset in that range (e.g. onnx.version_converter)`,
    );
  }
  return model;
}
