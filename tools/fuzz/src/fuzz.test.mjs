// The bounded CI run: every target for a few seconds with a fixed seed (README.md has the long
// runs). A finding fails the test with the saved input's path.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { fuzz, outcomeKey } from './fuzz.mjs';
import { mutate, rng } from './mutate.mjs';
import { targets } from './targets.mjs';

const SECONDS = Number(process.env.KILN_FUZZ_SECONDS ?? 6);
const work = mkdtempSync(join(tmpdir(), 'kiln-fuzz-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const all = targets(work);
const findingsDir = fileURLToPath(new URL('../findings', import.meta.url));

describe('the harness', () => {
  it('replays a seed exactly and mutates', () => {
    const src = Uint8Array.from({ length: 64 }, (_, i) => i);
    const a = mutate(src, src, rng(5));
    expect(mutate(src, src, rng(5))).toEqual(a);
    const changed = Array.from({ length: 50 }, (_, i) => mutate(src, src, rng(i))).filter(
      (m) => m.length !== src.length || m.some((v, i) => v !== src[i]),
    );
    expect(changed.length).toBeGreaterThan(45);
  });

  it('reports an exception that is not a KilnError, and saves the input', () => {
    expect(() =>
      fuzz({
        name: 'selftest',
        seeds: [new Uint8Array([1, 2, 3])],
        target: () => {
          throw new TypeError('boom');
        },
        seconds: 1,
        findingsDir: join(work, 'findings'),
      }),
    ).toThrow(/selftest: case 1 \(seed 1\) not a KilnError: TypeError: boom[\s\S]*saved to/);
  });

  it('keys outcomes by kind, not by particulars', () => {
    const e = (message) => Object.assign(new Error(message), { code: 'INVALID_MODEL' });
    expect(outcomeKey(e("<bytes>: node 'a1' input 3 is bad"))).toBe(
      outcomeKey(e("<bytes>: node 'zz' input 12 is bad")),
    );
    expect(outcomeKey(undefined)).toBe('ok');
  });
});

describe.each(Object.keys(all))('fuzz target %s', (name) => {
  const t = all[name];
  const seeds = t.seeds();
  it.skipIf(seeds.length === 0)(`${SECONDS} s without findings`, () => {
    const r = fuzz({ name, seeds, target: t.run, seconds: SECONDS, seed: 1, findingsDir });
    console.log(`${name}: ${r.cases} cases, ${r.outcomes.size} distinct outcomes`);
    expect(r.cases).toBeGreaterThan(100);
    expect(r.outcomes.size).toBeGreaterThan(3); // the mutations do reach several checks
  });
  if (seeds.length === 0) console.warn(`[skip] fuzz target ${name}: no seeds: ${t.missing}`);
});
