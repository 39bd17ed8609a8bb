// Where kiln's tests find their data, and how they explain its absence. Tests import this and
// skip (never fail, never silently pass) when a file is missing.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root (tools/test-data/../..). */
export const REPO_ROOT = resolve(here, '..', '..');

/** Where fetch.mjs puts everything: <repo>/.data (git-ignored). */
export const DATA_DIR = process.env.KILN_DATA_DIR
  ? resolve(process.env.KILN_DATA_DIR)
  : join(REPO_ROOT, '.data');

/** The shared reference models: $KILN_MODELS_DIR, else <repo>/../shared/models. */
export const MODELS_DIR = process.env.KILN_MODELS_DIR
  ? resolve(process.env.KILN_MODELS_DIR)
  : resolve(REPO_ROOT, '..', 'shared', 'models');

/** A file among the shared reference models. */
export function sharedModel(file) {
  return join(MODELS_DIR, file);
}

/** A file inside an npm package fetched by fetch.mjs (dir as in sources.mjs). */
export function npmFile(dir, ...parts) {
  return join(DATA_DIR, 'npm', dir, ...parts);
}

/** A file inside a Debian package fetched by fetch.mjs. */
export function debFile(name, ...parts) {
  return join(DATA_DIR, 'deb', name, ...parts);
}

/**
 * Why `path` cannot be used, or undefined when it exists. Tests pass this to skipIf and print it,
 * so a skip always says what to fetch.
 */
export function missingReason(path) {
  if (existsSync(path)) return undefined;
  const hint = path.startsWith(DATA_DIR)
    ? 'run `node tools/test-data/fetch.mjs`'
    : `set KILN_MODELS_DIR to the shared models folder (now ${MODELS_DIR})`;
  return `test data absent: ${path} (${hint})`;
}

/** True when `path` exists; otherwise prints why the caller will skip. */
export function haveData(path, what = path) {
  const reason = missingReason(path);
  if (reason !== undefined) console.warn(`[skip] ${what}: ${reason}`);
  return reason === undefined;
}
