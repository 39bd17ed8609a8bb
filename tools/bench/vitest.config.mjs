import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The self-test forks both runtimes and builds an engine; a loaded 2-core machine is slow.
    testTimeout: 60_000,
    pool: 'forks',
  },
});
