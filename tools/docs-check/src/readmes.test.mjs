// Every runnable block of README.md and packages/*/README.md runs as written, in a fresh folder holding the
// real files it names, and prints what its README says (see checks.mjs).
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { REPO_ROOT } from '@kiln/test-data';
import { afterAll, describe, expect, it } from 'vitest';

import { CHECKS } from './checks.mjs';
import { codeBlocks } from './extract.mjs';
import { fixturesMissing, fixturesNamedIn, makeFixtures } from './fixtures.mjs';
import { installKiln, runBlock } from './run.mjs';

const TIMEOUT_MS = 60_000;
/** This package's node_modules: the workspace packages under their published names. */
const NODE_MODULES = fileURLToPath(new URL('../node_modules', import.meta.url));

const work = mkdtempSync(join(tmpdir(), 'kiln-docs-'));
const binDir = join(work, 'bin');
const cache = join(work, 'cache');
mkdirSync(binDir);
mkdirSync(cache);
installKiln(binDir, join(REPO_ROOT, 'packages/cli/dist/bin.js'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const readmes = [
  'README.md',
  ...readdirSync(join(REPO_ROOT, 'packages')).map((name) => `packages/${name}/README.md`),
].filter((readme) => existsSync(join(REPO_ROOT, readme)));
const used = new Set();
let folders = 0;

// Suites run one after another unless their parent is concurrent; the kiln blocks alone take
// half a minute, mostly waiting out --duration, so everything runs side by side.
describe.concurrent('README.md and packages/*/README.md', () => {
  for (const readme of readmes) {
    const blocks = codeBlocks(readFileSync(join(REPO_ROOT, readme), 'utf8'));
    if (blocks.length === 0) continue;
    describe(readme, () => {
      for (const block of blocks) {
        const title = `line ${block.line} (${block.kind === 'kiln' ? 'kiln commands' : block.lang})`;
        if (block.skip !== undefined) {
          console.warn(`[docs-check] skip ${readme}:${block.line}: ${block.skip}`);
          it.skip(`${title}: marked skip (${block.skip})`);
          continue;
        }
        if (block.kind === 'unrunnable') {
          it(title, () => {
            throw new Error(
              `a \`\`\`${block.lang} block: label it js if it runs, or mark it <!-- docs-check: skip (reason) -->`,
            );
          });
          continue;
        }
        const checks = CHECKS.filter(
          (c) => readme.includes(`/${c.package}/`) && block.code.includes(c.contains),
        );
        checks.forEach((c) => used.add(c));
        const named = fixturesNamedIn(block.code);
        const missing = fixturesMissing(named);
        if (missing) console.warn(`[docs-check] skip ${readme}:${block.line}: ${missing}`);
        it.skipIf(missing !== undefined)(
          `${title} runs${checks.length ? ' and prints what it says' : ''}`,
          async () => {
            const dir = join(work, `${++folders}`);
            mkdirSync(dir);
            symlinkSync(NODE_MODULES, join(dir, 'node_modules'));
            const written = writtenFiles(block.code);
            await makeFixtures(
              named.filter((name) => !written.includes(name)),
              dir,
              cache,
            );
            const run = () => runBlock(block, dir, { binDir, timeoutMs: TIMEOUT_MS });
            const stdout = await run();
            for (const file of written)
              expect(existsSync(join(dir, file)), `${file} is written`).toBe(true);
            for (const check of checks) await check.check({ stdout, dir, run });
          },
        );
      }
    });
  }
});

it('every check found its snippet', () => {
  const lost = CHECKS.filter((c) => !used.has(c)).map((c) => `${c.package}: ${c.contains}`);
  expect(lost, 'checks whose snippet no README has any more').toEqual([]);
});

/** Files a block says it writes (the test checks that they exist afterwards). */
function writtenFiles(code) {
  const patterns = [
    /--(?:saveEngine|output|json|exportOutput|exportTimes|exportProfile)=([^\s,]+)/g,
    /(?:writeOnnx|saveModel|writeFileSync)\([^,]+,\s*'([^']+)'/g,
  ];
  return patterns.flatMap((p) => [...code.matchAll(p)].map((m) => m[1]));
}
