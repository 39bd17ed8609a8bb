// Builds the native addon (native/ -> build/Release/kiln.node) with cmake-js. The Node-API
// headers come from npm packages (node-api-headers, node-addon-api): nothing is downloaded.
// Environment: KILN_CUDA=AUTO|ON|OFF (default AUTO), KILN_ONEDNN=AUTO|ON|OFF (oneDNN as a
// tactic source, default AUTO: used when libdnnl-dev is installed), KILN_WERROR=1 (warnings fail the build),
// KILN_BUILD_JOBS (default: the number of cores), KILN_BUILD_OUT (build folder, default build/;
// tools/prebuild uses its own), KILN_BUILD_TESTS=0 (skip the C++ tests in the monorepo).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// In the monorepo the sources are native/ at the root; a published package carries a copy in
// native/ beside this folder (made at pack time) for the source-build fallback.
const inRepo = fs.existsSync(path.resolve(packageDir, '../../native/CMakeLists.txt'));
const nativeDir = inRepo
  ? path.resolve(packageDir, '../../native')
  : path.join(packageDir, 'native');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
// node-addon-api's own include_dir is relative to the cwd; use the absolute folder instead.
const addonApiDir = path.dirname(require.resolve('node-addon-api/package.json'));

// configure (always, so changed -D options apply to an existing build folder), then build.
const common = [
  '--directory',
  nativeDir,
  '--out',
  process.env.KILN_BUILD_OUT ?? path.join(packageDir, 'build'),
  `--CDNODE_ADDON_API_DIR=${addonApiDir}`,
  `--CDKILN_CUDA=${process.env.KILN_CUDA ?? 'AUTO'}`,
  `--CDKILN_ONEDNN=${process.env.KILN_ONEDNN ?? 'AUTO'}`,
  `--CDKILN_WERROR=${process.env.KILN_WERROR === '1' ? 'ON' : 'OFF'}`,
  // The C++ tests build in the same folder, so `test:native` compiles nothing twice; a
  // published package has no tests to build.
  `--CDKILN_BUILD_TESTS=${inRepo && process.env.KILN_BUILD_TESTS !== '0' ? 'ON' : 'OFF'}`,
];
const jobs = ['--parallel', process.env.KILN_BUILD_JOBS ?? String(os.availableParallelism())];
let result = spawnSync(process.execPath, [cmakeJs, 'configure', ...common], { stdio: 'inherit' });
if (result.status === 0)
  result = spawnSync(process.execPath, [cmakeJs, 'build', ...common, ...jobs], {
    stdio: 'inherit',
  });
if (result.status !== 0) {
  console.error(
    '\nkiln: building the native addon failed. It needs cmake >= 3.20 and a C++17 compiler ' +
      '(Debian: apt-get install cmake g++). See the output above for the first error.',
  );
  process.exit(result.status ?? 1);
}
