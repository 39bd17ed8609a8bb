import { describe, expect, it } from 'vitest';

import { KilnError, isKilnError } from './errors';
import { ConsoleLogger, type Severity, getLogger, setLogger, severityPasses } from './logger';
import { expectInteger, expectOneOf, invalidParameterError } from './validate';

describe('KilnError', () => {
  it('carries a stable code and is an Error', () => {
    const e = new KilnError('INVALID_PLAN', 'bad plan');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('KilnError');
    expect(e.code).toBe('INVALID_PLAN');
    expect(isKilnError(e, 'INVALID_PLAN')).toBe(true);
    expect(isKilnError(e, 'DISPOSED')).toBe(false);
    expect(isKilnError(new Error('x'))).toBe(false);
  });

  it('words argument errors in one way', () => {
    const e = invalidParameterError('batch', 'an integer >= 1', 'eight');
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe(
      "Expected an integer >= 1 for batch but received 'eight' of type string",
    );
    expect(() => expectInteger('n', 1.5, 0)).toThrow(
      /Expected an integer >= 0 for n but received 1.5 of type number/,
    );
    expect(() => expectInteger('n', 300, 0, 255)).toThrow(/between 0 and 255/);
    expect(expectOneOf('mode', 'a', ['a', 'b'] as const)).toBe('a');
    expect(() => expectOneOf('mode', 'c', ['a', 'b'] as const)).toThrow(/one of 'a', 'b' for mode/);
  });
});

describe('Logger', () => {
  it('filters by severity and can be replaced', () => {
    expect(severityPasses('error', 'warning')).toBe(true);
    expect(severityPasses('verbose', 'info')).toBe(false);
    const seen: [Severity, string][] = [];
    const previous = setLogger({ log: (s, m) => seen.push([s, m]) });
    try {
      getLogger().log('info', 'hello');
      expect(seen).toEqual([['info', 'hello']]);
    } finally {
      setLogger(previous);
    }
    expect(() => setLogger({} as never)).toThrow(KilnError);
  });

  it('ConsoleLogger writes only what passes its threshold', () => {
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const logger = new ConsoleLogger('warning');
      logger.log('info', 'quiet');
      logger.log('error', 'loud');
    } finally {
      process.stderr.write = original;
    }
    expect(written).toEqual(['[kiln] ERROR: loud\n']);
  });
});
