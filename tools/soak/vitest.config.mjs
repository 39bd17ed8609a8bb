import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The soak runs 40 s (KILN_SOAK_SECONDS) after building an engine and its references.
    testTimeout: 300_000,
    pool: 'forks',
    // gc() before each RSS sample, so garbage awaiting collection is not read as a leak.
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
  },
});
