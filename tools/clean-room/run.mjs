#!/usr/bin/env node
// The clean-room check of the published packages: pack every package, install the tarballs into
// fresh projects outside the monorepo with plain `npm install ./x.tgz`, and run them there.
//   1. runtime-only: @kiln/core + its platform package + @kiln/runtime load an engine file built
//      here and run it; the output must match onnxruntime-node's (computed here).
//   2. full set: convert a TF.js model, build it, calibrate from real images, run; checked the
//      same way.
//   3. no prebuilt: @kiln/core alone installs, and loading it says what to install or build.
// Needs: `pnpm build`, the cpu platform package (node tools/prebuild/prebuild.mjs), the npm
// test data (node tools/test-data/fetch.mjs). Usage: node tools/clean-room/run.mjs [--keep]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { REPO, platformPackage } from '../prebuild/platform.mjs';
import { checkTarball } from './tarballs.mjs';
import { makeFixtures } from './fixtures.mjs';

const log = (line) => console.log(`[clean-room] ${line}`);
const keep = process.argv.includes('--keep');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-clean-room-'));
const started = performance.now();

const platform = platformPackage('cpu');
if (!fs.existsSync(path.join(platform.dir, 'kiln.node'))) {
  console.error(
    `[clean-room] ${platform.name} has no kiln.node: run node tools/prebuild/prebuild.mjs`,
  );
  process.exit(2);
}

// 1. Pack. pnpm pack turns workspace: ranges into versions and runs prepack/postpack.
const tgzDir = path.join(work, 'tgz');
fs.mkdirSync(tgzDir);
const packages = ['core', 'onnx', 'builder', 'runtime', 'calibrator', 'tf2onnx', 'cli'];
const tarballs = {};
for (const dir of [...packages, path.basename(platform.dir)]) {
  const cwd = path.join(REPO, 'packages', dir);
  const before = new Set(fs.readdirSync(tgzDir));
  execFileSync('pnpm', ['pack', '--pack-destination', tgzDir], {
    cwd,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const tgz = fs.readdirSync(tgzDir).find((f) => !before.has(f));
  tarballs[dir] = path.join(tgzDir, tgz);
  const problems = checkTarball(tarballs[dir], { native: dir === path.basename(platform.dir) });
  if (problems.length > 0) {
    console.error(`[clean-room] ${tgz}:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  log(
    `packed ${tgz} (${(fs.statSync(tarballs[dir]).size / 1024).toFixed(0)} KiB): contents checked`,
  );
}

// 2. Fixtures made with the monorepo's own packages and onnxruntime-node as the reference.
const fixtures = await makeFixtures(path.join(work, 'fixtures'));
log(`fixtures: ${Object.keys(fixtures).join(', ')}`);

function project(name, tgzs) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name, private: true, type: 'module' }),
  );
  const t0 = performance.now();
  const npm = spawnSync(
    'npm',
    ['install', '--no-audit', '--no-fund', ...tgzs.map((t) => tarballs[t])],
    {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, npm_config_loglevel: 'info' },
    },
  );
  fs.writeFileSync(path.join(work, `${name}-install.log`), npm.stdout + npm.stderr);
  if (npm.status !== 0) {
    console.error(npm.stdout + npm.stderr);
    throw new Error(`npm install failed in ${dir}`);
  }
  const compiled = /cmake|building it from source|node-gyp/i.test(npm.stdout + npm.stderr);
  if (compiled)
    throw new Error(`npm install in ${dir} ran a compiler step; see ${name}-install.log`);
  log(
    `${name}: npm install of ${tgzs.join(', ')} took ${((performance.now() - t0) / 1000).toFixed(1)} s, no compiler step`,
  );
  return dir;
}

function runIn(dir, script) {
  fs.copyFileSync(path.join(REPO, 'tools', 'clean-room', script), path.join(dir, script));
  const r = spawnSync(process.execPath, [script, path.join(work, 'fixtures')], {
    cwd: dir,
    encoding: 'utf8',
  });
  process.stdout.write(r.stdout.trimEnd().replace(/^/gm, '    ') + '\n');
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    throw new Error(`${script} failed in ${dir}`);
  }
}

try {
  const runtimeOnly = project('app-runtime', ['core', path.basename(platform.dir), 'runtime']);
  const installed = fs.readdirSync(path.join(runtimeOnly, 'node_modules', '@kiln')).sort();
  log(
    `app-runtime has @kiln/${installed.join(', @kiln/')} and ${fs.existsSync(path.join(runtimeOnly, 'node_modules', 'sharp')) ? 'sharp (wrong!)' : 'no sharp'}`,
  );
  if (installed.join() !== ['core', path.basename(platform.dir), 'runtime'].sort().join())
    throw new Error(`app-runtime installed more than it asked for: ${installed.join(', ')}`);
  runIn(runtimeOnly, 'app-runtime.mjs');
  const full = project('app-full', [...packages, path.basename(platform.dir)]);
  runIn(full, 'app-full.mjs');
  // No platform package fits (here: none installed, and the registry has none): the install
  // still succeeds and loading says what to install or how to build from source.
  const bare = project('app-no-prebuilt', ['core']);
  const load = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "import('@kiln/core').then((k) => k.devices())"],
    { cwd: bare, encoding: 'utf8', env: { ...process.env, KILN_ADDON_PATH: '' } },
  );
  const said = load.stderr.match(/KilnError: [^\n]*/)?.[0] ?? load.stderr;
  if (
    load.status === 0 ||
    !/ADDON_NOT_FOUND|native addon was not found/.test(said) ||
    !said.includes('cmake')
  )
    throw new Error(
      `loading @kiln/core without a platform package should explain itself; got: ${said}`,
    );
  log(`app-no-prebuilt: loading explains itself: ${said.slice(0, 160)}...`);
  log(`passed in ${((performance.now() - started) / 1000).toFixed(0)} s`);
} finally {
  if (keep) log(`kept ${work}`);
  else fs.rmSync(work, { recursive: true, force: true });
}
