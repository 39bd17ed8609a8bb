// Where the native addon may come from, in the order the loader tries them. Published installs
// get it from a per-platform npm package (like sharp's @img/sharp-linux-x64); a source build
// (the monorepo, or the fallback when no platform package fits) puts it in build/Release.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The npm packages that hold a prebuilt addon for this platform, in the order the loader tries
 * them: the cuda flavour first (installed on purpose, `npm i @kiln/core-linux-x64-cuda`), then
 * the cpu one that @kiln/core pulls in as an optional dependency. `KILN_ADDON_FLAVOR=cpu` skips
 * the cuda flavour.
 */
export function addonPackageNames(): string[] {
  const base = `@kiln/core-${process.platform}-${process.arch}`;
  return process.env.KILN_ADDON_FLAVOR === 'cpu' ? [base] : [`${base}-cuda`, base];
}

/** @internal Every place the addon may be, with the file when it resolves. */
export function addonCandidates(): { where: string; file?: string }[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const require = createRequire(import.meta.url);
  const candidates: { where: string; file?: string }[] = [];
  if (process.env.KILN_ADDON_PATH)
    candidates.push({ where: 'KILN_ADDON_PATH', file: process.env.KILN_ADDON_PATH });
  // dist/ in a package, src/ when tests run the sources: both sit beside build/.
  candidates.push({
    where: 'a source build',
    file: path.resolve(here, '..', 'build', 'Release', 'kiln.node'),
  });
  for (const name of addonPackageNames()) {
    let file: string | undefined;
    try {
      file = require.resolve(`${name}/kiln.node`);
    } catch {
      file = undefined; // not installed: npm skips platform packages that do not fit
    }
    candidates.push({ where: name, file });
  }
  return candidates;
}
