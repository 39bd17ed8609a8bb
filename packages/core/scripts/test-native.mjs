// Runs the C++ unit tests (ctest) built alongside the addon by build-native.mjs; builds first
// if the build folder is missing or out of date.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = path.join(packageDir, 'build');
const jobs = process.env.KILN_BUILD_JOBS ?? String(os.availableParallelism());

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!fs.existsSync(path.join(buildDir, 'CMakeCache.txt')))
  run(process.execPath, [path.join(packageDir, 'scripts', 'build-native.mjs')]);
run('cmake', ['--build', buildDir, '--parallel', jobs]);
run('ctest', ['--test-dir', buildDir, '--output-on-failure']);
