import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Model tests load 100 MB files and run onnxruntime on a 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
