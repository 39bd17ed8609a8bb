// @kiln/core/testing: hooks for tests of kiln and of code built on it. Not for production.
import { native } from './addon';
import { expectInteger, expectOneOf } from './validate';

/** Points where faults can be injected. */
export type FaultPoint = 'stream.task' | 'device.allocate';

/**
 * Makes the next `count` operations at `point` fail: 'stream.task' fails queued work (the
 * error surfaces on synchronize), 'device.allocate' fails allocations with OUT_OF_MEMORY.
 * A count of 0 clears the point.
 */
export function injectFault(point: FaultPoint, count = 1): void {
  native().injectFault(
    expectOneOf('point', point, ['stream.task', 'device.allocate'] as const),
    expectInteger('count', count, 0),
  );
}
