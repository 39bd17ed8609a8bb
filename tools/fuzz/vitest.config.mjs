import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Each target fuzzes for KILN_FUZZ_SECONDS (6 s); a loaded machine needs headroom.
    testTimeout: 120_000,
    pool: 'forks',
  },
});
