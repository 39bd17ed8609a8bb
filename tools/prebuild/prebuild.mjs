#!/usr/bin/env node
// Makes the platform package of the native addon from the local sources:
//   node tools/prebuild/prebuild.mjs [--flavor cpu|cuda]
// builds kiln.node with the cuda device off (cpu, the default) or required (cuda) in its own
// build folder, copies it into packages/core-<platform>-<arch>[-cuda]/ with build-info.json,
// and checks that it loads. `pnpm --filter <that package> pack` then makes the tarball.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { REPO, platformPackage } from './platform.mjs';

const { values } = parseArgs({ options: { flavor: { type: 'string', default: 'cpu' } } });
if (values.flavor !== 'cpu' && values.flavor !== 'cuda') {
  console.error(`prebuild: --flavor must be cpu or cuda, got '${values.flavor}'`);
  process.exit(2);
}
const { name, dir } = platformPackage(values.flavor);
if (!fs.existsSync(path.join(dir, 'package.json'))) {
  console.error(
    `prebuild: there is no package for ${process.platform}-${process.arch} (${dir}); ` +
      `add one like packages/core-linux-x64 (package.json with os/cpu/libc, README.md)`,
  );
  process.exit(2);
}
const out = path.join(REPO, 'tools', 'prebuild', `.build-${values.flavor}`);
console.log(`prebuild: building ${name} in ${out}`);
const built = spawnSync(
  process.execPath,
  [path.join(REPO, 'packages', 'core', 'scripts', 'build-native.mjs')],
  {
    stdio: 'inherit',
    env: {
      ...process.env,
      KILN_BUILD_OUT: out,
      KILN_BUILD_TESTS: '0',
      KILN_CUDA: values.flavor === 'cuda' ? 'ON' : 'OFF',
      // A published binary must load on machines without libdnnl: oneDNN stays a source build's
      // option (engines that use its tactics are refused by cores built without it).
      KILN_ONEDNN: 'OFF',
    },
  },
);
if (built.status !== 0) process.exit(built.status ?? 1);
fs.copyFileSync(path.join(out, 'Release', 'kiln.node'), path.join(dir, 'kiln.node'));
const compiler = execFileSync(process.env.CXX ?? 'c++', ['--version'])
  .toString()
  .split('\n')[0];
fs.writeFileSync(
  path.join(dir, 'build-info.json'),
  JSON.stringify(
    {
      flavor: values.flavor,
      platform: `${process.platform}-${process.arch}`,
      compiler,
      node: process.version,
    },
    null,
    2,
  ) + '\n',
);
execFileSync(process.execPath, [path.join(REPO, 'tools', 'prebuild', 'verify.mjs'), dir], {
  stdio: 'inherit',
});
