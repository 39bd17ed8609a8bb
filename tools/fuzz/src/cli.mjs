#!/usr/bin/env node
// kiln-fuzz: fuzzes kiln's readers of untrusted files for a while and prints what it saw.
//
//   node src/cli.mjs [--target onnx] [--seconds 600] [--seed 1]
//
// Without --target every target runs, one after the other, each for --seconds. A finding
// (an exception other than a KilnError, or a case slower than 5 s) stops the run with exit
// code 1 and is saved under findings/ for replay.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { fuzz } from './fuzz.mjs';
import { targets } from './targets.mjs';

const { values } = parseArgs({
  options: {
    target: { type: 'string', multiple: true },
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
  },
});
const work = mkdtempSync(join(tmpdir(), 'kiln-fuzz-'));
const all = targets(work);
const names = values.target ?? Object.keys(all);
const findingsDir = fileURLToPath(new URL('../findings', import.meta.url));
let status = 0;
try {
  for (const name of names) {
    const t = all[name];
    if (!t)
      throw new Error(`unknown target '${name}'; the targets are ${Object.keys(all).join(', ')}`);
    const seeds = t.seeds();
    if (seeds.length === 0) {
      console.log(`${name}: skipped, no seeds: ${t.missing}`);
      continue;
    }
    const r = fuzz({
      name,
      seeds,
      target: t.run,
      seconds: Number(values.seconds),
      seed: Number(values.seed),
      findingsDir,
    });
    const kilnErrors = [...r.outcomes].filter(([k]) => k !== 'ok').reduce((n, [, c]) => n + c, 0);
    console.log(
      `${name}: ${r.cases} cases in ${values.seconds} s (${Math.round(r.cases / Number(values.seconds))}/s), ` +
        `${r.outcomes.get('ok') ?? 0} loaded, ${kilnErrors} KilnErrors, ${r.outcomes.size} distinct outcomes, corpus ${r.corpus}`,
    );
  }
} catch (e) {
  console.error(String(e.message ?? e));
  status = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(status);
