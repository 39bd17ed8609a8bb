#!/usr/bin/env node
// Checks a platform package before it is packed: its kiln.node loads in a fresh process and is
// the flavour the package's name promises (cuda device built or not). Exit 1 otherwise, so an
// empty or mislabelled platform package is never published.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { REPO } from './platform.mjs';

const dir = path.resolve(process.argv[2] ?? '.');
const { name } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
const addon = path.join(dir, 'kiln.node');
if (!fs.existsSync(addon)) {
  console.error(`${name}: no kiln.node; make it with node tools/prebuild/prebuild.mjs`);
  process.exit(1);
}
const core = path.join(REPO, 'packages', 'core', 'dist', 'index.cjs');
const facts = JSON.parse(
  execFileSync(
    process.execPath,
    ['-e', `console.log(JSON.stringify(require(${JSON.stringify(core)}).features()))`],
    { env: { ...process.env, KILN_ADDON_PATH: addon } },
  ).toString(),
);
const wantCuda = name.endsWith('-cuda');
if (facts.cudaBuilt !== wantCuda) {
  console.error(
    `${name}: kiln.node was built ${facts.cudaBuilt ? 'with' : 'without'} the cuda device`,
  );
  process.exit(1);
}
console.log(
  `${name}: kiln.node loads (core ${facts.coreVersion}, cuda device ${facts.cudaBuilt ? 'built' : 'not built'})`,
);
