// Checks (or with --fix, rewrites) the C++ sources of native/ against .clang-format.
// CI installs clang-format from Debian; locally, a missing clang-format is an error with the fix.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fix = process.argv.includes('--fix');

function sources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name.startsWith('build') ? [] : sources(p);
    return /\.(cc|h|cu|cuh)$/.test(e.name) ? [p] : [];
  });
}

const probe = spawnSync('clang-format', ['--version']);
if (probe.error) {
  console.error('clang-format is not installed (Debian: apt-get install clang-format)');
  process.exit(1);
}
const files = sources(path.join(root, 'native'));
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const r = spawnSync('clang-format', args, { stdio: 'inherit' });
if (r.status === 0)
  console.log(`clang-format: ${files.length} files ${fix ? 'formatted' : 'clean'}`);
process.exit(r.status ?? 1);
