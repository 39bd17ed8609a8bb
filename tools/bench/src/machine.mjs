// What the table was measured on: CPU, kiln's feature report, load, versions, commit.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, platform, release } from 'node:os';
import { dirname, join } from 'node:path';

import { features } from '@kiln/core';
import { REPO_ROOT } from '@kiln/test-data';

/**
 * The 1, 5 and 15 minute load averages (other processes compete for the cores while the
 * bench runs; a load near the core count means the timings are noisy).
 * @returns {number[]}
 */
export function currentLoad() {
  return loadavg().map((v) => Math.round(v * 100) / 100);
}

/** The CPU's marketing name from /proc/cpuinfo (Linux), else from Node. */
function cpuModelName() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1].trim();
  } catch {
    // not Linux: fall through
  }
  return cpus()[0]?.model ?? 'unknown';
}

/** @param {string[]} args */
function git(args) {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

/**
 * @returns {{ cpu: string, kilnCpuModel: string, logicalCores: number, isa: string, flags: string[], os: string, node: string }}
 */
export function machineInfo() {
  const f = features();
  const flags = Object.entries(f.cpu)
    .filter(([, v]) => v === true)
    .map(([k]) => k);
  return {
    cpu: cpuModelName(),
    kilnCpuModel: f.cpu.model,
    logicalCores: f.cpu.logicalCores,
    isa: f.cpu.isa,
    flags,
    os: `${platform()} ${release()}`,
    node: process.version,
  };
}

/**
 * The kiln commit (and whether packages/ or native/ have uncommitted changes, which the
 * built addon and dist/ may include) and the onnxruntime-node version.
 * @returns {{ kiln: { commit: string, dirty: boolean, coreVersion: string }, ort: { version: string } }}
 */
export function versions() {
  const status = git(['status', '--porcelain', '--', 'packages', 'native']);
  return {
    kiln: {
      commit: git(['rev-parse', '--short=12', 'HEAD']) ?? 'unknown',
      dirty: status === undefined ? false : status.length > 0,
      coreVersion: features().coreVersion,
    },
    ort: { version: ortVersion() },
  };
}

// Read from its package.json: importing onnxruntime-node here would load its native runtime
// into the parent, which only coordinates.
function ortVersion() {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve('onnxruntime-node'));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === 'onnxruntime-node') return String(pkg.version);
    } catch {
      // keep walking up
    }
  }
  return 'unknown';
}
