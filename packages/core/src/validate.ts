import { KilnError } from './errors';

// One place that words argument errors, so every package says the same thing the same way:
// "Expected <what> for <name> but received <value> of type <type>".

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 40 ? value.slice(0, 40) + '…' : value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value))
    return `[${value.slice(0, 8).map(describe).join(', ')}${value.length > 8 ? ', …' : ''}]`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.byteLength} bytes)`;
  if (value !== null && typeof value === 'object') return value.constructor?.name ?? 'object';
  return String(value);
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** The KilnError for an argument that is not what an API expects. */
export function invalidParameterError(name: string, expected: string, value: unknown): KilnError {
  return new KilnError(
    'INVALID_ARGUMENT',
    `Expected ${expected} for ${name} but received ${describe(value)} of type ${typeOf(value)}`,
  );
}

/** True for an integer in [min, max] (a safe integer, so byte counts and dims stay exact). */
export function isIntegerInRange(
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

/** Throws unless `value` is an integer in [min, max]; returns it typed. */
export function expectInteger(
  name: string,
  value: unknown,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (!isIntegerInRange(value, min, max)) {
    const range =
      max === Number.MAX_SAFE_INTEGER
        ? `an integer >= ${min}`
        : `an integer between ${min} and ${max}`;
    throw invalidParameterError(name, range, value);
  }
  return value;
}

/** Throws unless `value` is one of `choices`. */
export function expectOneOf<T extends string>(
  name: string,
  value: unknown,
  choices: readonly T[],
): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw invalidParameterError(name, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  }
  return value as T;
}
