import { defineConfig } from 'vitest/config';

// Tests here build engines from real models; on a loaded 2-core machine a build can take
// seconds, so the per-test limit is generous (it bounds hangs, not speed).
export default defineConfig({ test: { testTimeout: 120_000 } });
