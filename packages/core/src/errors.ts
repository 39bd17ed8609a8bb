/**
 * Stable error codes shared by every kiln package and the native core
 * (native/include/kiln/error.h keeps the same names).
 */
export type KilnErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_STATE'
  | 'DISPOSED'
  | 'OUT_OF_MEMORY'
  | 'UNSUPPORTED'
  | 'NOT_FOUND'
  | 'IO_ERROR'
  | 'INVALID_MODEL'
  | 'INVALID_PLAN'
  | 'DEVICE_ERROR'
  | 'INTERNAL'
  | 'ADDON_NOT_FOUND';

/** The one error class of kiln: a stable `code` and a message that says what to do. */
export class KilnError extends Error {
  /** A stable, machine-readable code; the message may change between versions. */
  readonly code: KilnErrorCode;

  constructor(code: KilnErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KilnError';
    this.code = code;
  }
}

/** True when `value` is a KilnError, optionally with the given code. */
export function isKilnError(value: unknown, code?: KilnErrorCode): value is KilnError {
  return value instanceof KilnError && (code === undefined || value.code === code);
}
