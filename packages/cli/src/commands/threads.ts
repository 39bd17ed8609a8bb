import { threadCount } from '@kiln/core';

import { numberFlag, UsageError } from '../usage';

/**
 * --threads=N: the core's kernel thread pool is created at its first use from
 * KILN_NUM_THREADS, so the flag sets that variable; when the pool already exists with another
 * size (a second command in one process) it says so instead of being silently ignored.
 */
export function applyThreads(value: string | undefined): void {
  const n = numberFlag('threads', value);
  if (n === undefined) return;
  if (n < 1) throw new UsageError('--threads: expected at least 1');
  process.env.KILN_NUM_THREADS = String(n);
  const actual = threadCount();
  if (actual !== n)
    throw new UsageError(
      `--threads=${n}: this process already runs kiln's kernels on ${actual} threads (the pool is sized at its first use)`,
    );
}
