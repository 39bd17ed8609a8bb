// The install hook of a published @kiln/core. A prebuilt addon arrives as a per-platform
// optional package (@kiln/core-linux-x64...), so normally there is nothing to do. When none fits
// this platform, build from the native sources the package carries, or say what that needs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const say = (line) => console.log(`[@kiln/core] ${line}`);

// In the monorepo `pnpm build` builds the addon; an install hook must not.
if (fs.existsSync(path.resolve(packageDir, '../../native/CMakeLists.txt'))) process.exit(0);

const { addonPackageNames } = await import('../dist/index.js');
const names = addonPackageNames();
const prebuilt = names.find((name) => {
  try {
    return Boolean(require.resolve(`${name}/kiln.node`));
  } catch {
    return false;
  }
});
if (prebuilt || process.env.KILN_ADDON_PATH) {
  say(`using the prebuilt addon from ${prebuilt ?? process.env.KILN_ADDON_PATH}`);
  process.exit(0);
}

const missing = [];
for (const dep of ['cmake-js', 'node-addon-api']) {
  try {
    require.resolve(`${dep}/package.json`);
  } catch {
    missing.push(`the npm package ${dep}`);
  }
}
if (spawnSync('cmake', ['--version']).status !== 0) missing.push('cmake >= 3.20');
if (spawnSync(process.env.CXX ?? 'c++', ['--version']).status !== 0)
  missing.push('a C++17 compiler (g++ or clang++)');
if (missing.length > 0) {
  say(
    `no prebuilt addon fits ${process.platform}-${process.arch} (none of ${names.join(', ')} is installed) ` +
      `and a source build needs ${missing.join(', ')}. Install them ` +
      `(npm install --no-save cmake-js node-addon-api; Debian: apt-get install cmake g++), ` +
      `then run: npm rebuild @kiln/core`,
  );
  process.exit(0); // the package still installs; loading it explains the same
}
say(`no prebuilt addon fits ${process.platform}-${process.arch}: building it from source`);
const built = spawnSync(process.execPath, [path.join(packageDir, 'scripts', 'build-native.mjs')], {
  stdio: 'inherit',
});
process.exit(built.status ?? 1);
