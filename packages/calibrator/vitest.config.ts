import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // sharp decodes real photos; a 2-core machine needs headroom.
    testTimeout: 60_000,
    pool: 'forks',
  },
});
