#!/usr/bin/env node
// kiln-conformance: runs the ONNX backend test suite through kiln and reports per suite.
//
//   node src/cli.mjs [--suite node] [--filter regex] [--jobs 2] [--timeout 60] [--write]
//                    [--verbose]
//
// --write stores results.json and RESULTS.md next to this package (the committed table);
// without it nothing is written. Exits 1 only when the suite data is missing.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { defaultJobs, runPool } from './pool.mjs';
import { countBySuite, formatCounts, writeReport } from './report.mjs';
import { SUITES, listTests, suiteMissingReason } from './suites.mjs';

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    suite: { type: 'string', multiple: true },
    filter: { type: 'string' },
    jobs: { type: 'string' },
    timeout: { type: 'string', default: '60' },
    write: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});

const suites = values.suite ?? SUITES;
for (const s of suites) {
  if (!SUITES.includes(s)) {
    console.error(`unknown suite '${s}'; the suites are ${SUITES.join(', ')}`);
    process.exit(2);
  }
  const missing = suiteMissingReason(s);
  if (missing) {
    console.error(`suite ${s}: ${missing}`);
    process.exit(1);
  }
}
const filter = values.filter ? new RegExp(values.filter) : undefined;
const tests = suites
  .flatMap(listTests)
  .filter((t) => !filter || filter.test(`${t.suite}/${t.name}`));
const jobs = values.jobs ? Number(values.jobs) : defaultJobs();
const timeoutMs = Number(values.timeout) * 1000;

console.log(`running ${tests.length} tests with ${jobs} workers (timeout ${values.timeout} s)`);
const start = performance.now();
let done = 0;
const tally = { pass: 0, fail: 0, unsupported: 0 };
const results = await runPool(tests, {
  jobs,
  timeoutMs,
  onResult(test, r) {
    done++;
    tally[r.status]++;
    const key = `${test.suite}/${test.name}`;
    if (values.verbose || r.status === 'fail' || r.stage === 'crash') {
      const why = r.message ? `  ${r.message}` : '';
      console.log(`[${done}/${tests.length}] ${r.status.padEnd(11)} ${key} (${r.ms} ms)${why}`);
    } else if (done % 100 === 0 || done === tests.length) {
      const s = ((performance.now() - start) / 1000).toFixed(0);
      console.log(
        `[${done}/${tests.length}] ${tally.pass} pass, ${tally.fail} fail, ` +
          `${tally.unsupported} unsupported (${s} s)`,
      );
    }
  },
});
const seconds = (performance.now() - start) / 1000;
console.log(
  `\n${formatCounts(countBySuite(results))}\n\n${tests.length} tests in ${seconds.toFixed(1)} s`,
);
if (values.write) {
  writeReport(PACKAGE_DIR, {
    results,
    seconds,
    jobs,
    command: 'pnpm --filter @kiln/conformance conformance --write',
  });
  console.log(`wrote ${path.join(PACKAGE_DIR, 'RESULTS.md')} and results.json`);
}
