// The fuzz loop. Every case mutates an input of the corpus and hands it to the target; the
// target must return or throw a KilnError. Anything else (a TypeError, a RangeError, a stack
// overflow, a case slower than `slowMs`) is a finding, saved to `findingsDir`.
//
// Guidance: a mutant whose outcome is new (success, or a KilnError code + message shape not seen
// before) joins the corpus, so later cases start from inputs that reached new checks. This is
// coarser than code coverage (a reason for jazzer.js; see README.md) but needs nothing native.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { isKilnError } from '@kiln/core';

import { mutate, rng } from './mutate.mjs';

/**
 * What an outcome looks like with its particulars blanked (numbers, quoted names, what a list
 * holds), so that only a new kind of check counts as new: the guidance signal.
 */
export function outcomeKey(error) {
  if (error === undefined) return 'ok';
  const parts = String(error.message)
    .split('\n')[0]
    .replace(/'[^']*'?/g, '_')
    .split(': ')
    .slice(0, 3)
    .map((p) =>
      p
        .replace(/\([^)]*\)?/g, '_')
        .replace(/\d+/g, '#')
        .replace(/[^ -~]/g, '')
        .split(' ')
        .slice(0, 6)
        .join(' ')
        .slice(0, 40),
    );
  return `${error.code}: ${parts.join(': ')}`;
}

/**
 * Runs `target` for `seconds` (or `maxCases`) from `seeds`. Returns counts; throws on the first
 * finding with the saved file's path in the message.
 */
export function fuzz({
  name,
  seeds,
  target,
  seconds,
  maxCases = Infinity,
  seed = 1,
  slowMs = 5000,
  findingsDir,
}) {
  if (seeds.length === 0) throw new Error(`${name}: no seed inputs`);
  const random = rng(seed);
  const corpus = [...seeds];
  const outcomes = new Map();
  const deadline = performance.now() + seconds * 1000;
  let cases = 0;
  while (cases < maxCases && performance.now() < deadline) {
    const parent = corpus[Math.floor(random() * corpus.length)];
    const other = corpus[Math.floor(random() * corpus.length)];
    const input = mutate(parent, other, random);
    const start = performance.now();
    let error;
    try {
      target(input);
    } catch (e) {
      error = e;
    }
    const ms = performance.now() - start;
    cases++;
    const problem =
      error !== undefined && !isKilnError(error)
        ? `not a KilnError: ${error?.stack ?? String(error)}`
        : ms > slowMs
          ? `took ${Math.round(ms)} ms (more than ${slowMs})`
          : undefined;
    if (problem) {
      const file = saveFinding(findingsDir, name, input);
      throw new Error(`${name}: case ${cases} (seed ${seed}) ${problem}\ninput saved to ${file}`);
    }
    const key = outcomeKey(error);
    if (!outcomes.has(key)) {
      outcomes.set(key, 0);
      if (corpus.length < 4096) corpus.push(input);
    }
    outcomes.set(key, outcomes.get(key) + 1);
  }
  return { name, cases, corpus: corpus.length, outcomes };
}

function saveFinding(dir, name, input) {
  mkdirSync(dir, { recursive: true });
  const hash = createHash('sha256').update(input).digest('hex').slice(0, 16);
  const file = join(dir, `${name}-${hash}.bin`);
  writeFileSync(file, input);
  return file;
}
