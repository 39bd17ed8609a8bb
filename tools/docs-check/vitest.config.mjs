import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Each snippet runs in a child process under its own 60 s limit; a kiln block runs several.
    testTimeout: 300_000,
    // Snippets run side by side: most of a kiln run's time is its fixed --duration.
    maxConcurrency: 4,
  },
});
