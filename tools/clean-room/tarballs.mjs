// What a published tarball must and must not hold.
import { execFileSync } from 'node:child_process';

/** Problems with one `pnpm pack` tarball (empty when it is fine). */
export function checkTarball(file, { native }) {
  const entries = execFileSync('tar', ['-tzf', file]).toString().trim().split('\n');
  const has = (p) => entries.includes(`package/${p}`);
  const manifest = JSON.parse(
    execFileSync('tar', ['-xzOf', file, 'package/package.json']).toString(),
  );
  const problems = [];
  if (JSON.stringify(manifest).includes('workspace:'))
    problems.push('package.json still has workspace: ranges');
  for (const e of entries) {
    if (/\.test\.|\/test-support\/|^package\/src\/|\/native\/tests\/|\.env$|\.npmrc$/.test(e))
      problems.push(`should not be published: ${e}`);
  }
  const required = native
    ? ['kiln.node', 'build-info.json', 'README.md']
    : ['README.md', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts'];
  if (manifest.name === '@kiln/core')
    required.push('native/CMakeLists.txt', 'scripts/install.mjs', 'scripts/build-native.mjs');
  for (const p of required) if (!has(p)) problems.push(`missing ${p}`);
  if (manifest.name === '@kiln/core' && entries.some((e) => e.endsWith('.node')))
    problems.push('@kiln/core must not carry a binary: it comes from the platform package');
  return problems;
}
