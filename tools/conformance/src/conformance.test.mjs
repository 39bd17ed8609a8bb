// Guards the committed conformance table: runs every suite again (about 5 s on two cores) and
// fails when a suite passes fewer tests than results.json records, naming the tests that no
// longer pass. After raising the pass count, commit the new table (`--write`).
import { readFileSync } from 'node:fs';

import { beforeAll, describe, expect, it } from 'vitest';

import { runPool } from './pool.mjs';
import { countBySuite } from './report.mjs';
import { SUITES, listTests, suiteMissingReason } from './suites.mjs';

const committed = JSON.parse(readFileSync(new URL('../results.json', import.meta.url), 'utf8'));
const missing = Object.fromEntries(SUITES.map((s) => [s, suiteMissingReason(s)]));
const present = SUITES.filter((s) => !missing[s]);

describe('ONNX backend test suite', () => {
  let results = new Map();
  beforeAll(async () => {
    results = await runPool(present.flatMap(listTests), { timeoutMs: 60_000 });
  }, 600_000);

  for (const suite of SUITES) {
    it.skipIf(missing[suite])(
      `${suite} passes at least as many tests as the committed table`,
      () => {
        const now = countBySuite(results)[suite] ?? { pass: 0 };
        const before = committed.counts[suite]?.pass ?? 0;
        const lost = Object.entries(committed.tests)
          .filter(([key, r]) => key.startsWith(`${suite}/`) && r.status === 'pass')
          .filter(([key]) => results.get(key)?.status !== 'pass')
          .map(([key]) => `${key}: ${results.get(key)?.message ?? 'not run'}`);
        expect(
          now.pass,
          `${suite}: ${now.pass} pass, the committed table has ${before}; no longer passing:\n` +
            lost.join('\n'),
        ).toBeGreaterThanOrEqual(before);
      },
    );
    if (missing[suite]) console.warn(`skipping conformance suite ${suite}: ${missing[suite]}`);
  }
});
