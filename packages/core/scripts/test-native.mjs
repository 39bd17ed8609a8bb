// Configures, builds and runs the C++ unit tests of native/ with ctest (no Node involved).
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.resolve(packageDir, '../../native');
const buildDir = path.join(packageDir, 'build', 'native-tests');
const jobs = process.env.KILN_BUILD_JOBS ?? String(os.availableParallelism());

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run('cmake', [
  '-S',
  nativeDir,
  '-B',
  buildDir,
  '-DKILN_BUILD_ADDON=OFF',
  '-DKILN_BUILD_TESTS=ON',
  `-DKILN_CUDA=${process.env.KILN_CUDA ?? 'AUTO'}`,
  `-DKILN_WERROR=${process.env.KILN_WERROR === '1' ? 'ON' : 'OFF'}`,
]);
run('cmake', ['--build', buildDir, '--parallel', jobs]);
run('ctest', ['--test-dir', buildDir, '--output-on-failure']);
