#!/usr/bin/env node
// Dependency hygiene: every published package declares exactly what its sources import.
// - a bare import in src (not tests) must be a dependency or a peer dependency;
// - a bare import in tests (*.test.*, *.survey.*) or test-support must be declared in some dependency field (or be
//   the monorepo's shared test tooling, a root devDependency);
// - every dependency must be imported by the sources (nothing installed for nothing).
// Run by `pnpm lint`. Exit 1 with one line per problem.
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const builtins = new Set(builtinModules);
const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

function packageOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || builtins.has(specifier)) return;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function* files(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* files(p);
    else if (/\.(ts|mts|cts|js|mjs|cjs)$/.test(entry.name)) yield p;
  }
}

// Tests may use the monorepo's shared tooling (vitest), declared once at the root.
const rootDev = Object.keys(
  JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')).devDependencies ?? {},
);
const problems = [];
for (const name of fs.readdirSync(path.join(repo, 'packages'))) {
  const dir = path.join(repo, 'packages', name);
  const src = path.join(dir, 'src');
  if (!fs.existsSync(src)) continue;
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const runtime = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ]);
  const all = new Set([...runtime, ...Object.keys(manifest.devDependencies ?? {}), ...rootDev]);
  const used = new Set();
  for (const file of files(src)) {
    const isTest = /\.(test|survey)\.[a-z]+$|[/\\]test-support[/\\]/.test(file);
    for (const [, specifier] of fs.readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const pkg = packageOf(specifier);
      if (!pkg || pkg === manifest.name) continue;
      const rel = path.relative(repo, file);
      if (!isTest) used.add(pkg);
      if (!(isTest ? all : runtime).has(pkg))
        problems.push(
          `${rel}: imports '${pkg}', which ${manifest.name} does not declare${isTest ? '' : ' as a dependency or peer'}`,
        );
    }
  }
  // Heavy dependencies stay where they belong: sharp only in the calibrator; onnxruntime-node
  // never a hard dependency (an optional peer or a dev dependency).
  if (manifest.dependencies?.sharp && manifest.name !== '@kiln/calibrator')
    problems.push(`${manifest.name}: only @kiln/calibrator may depend on sharp`);
  if (manifest.dependencies?.['onnxruntime-node'])
    problems.push(`${manifest.name}: onnxruntime-node must be an optional peer or dev dependency`);
  if (
    manifest.peerDependencies?.['onnxruntime-node'] &&
    !manifest.peerDependenciesMeta?.['onnxruntime-node']?.optional
  )
    problems.push(`${manifest.name}: the onnxruntime-node peer must be optional`);
  // Platform packages are resolved by file (addon-location.ts), not imported by name.
  for (const dep of Object.keys(manifest.dependencies ?? {}))
    if (!used.has(dep))
      problems.push(`${manifest.name}: depends on '${dep}' but its sources never import it`);
}
for (const p of problems) console.error(`check-deps: ${p}`);
if (problems.length > 0) process.exit(1);
console.log('check-deps: every package declares exactly what it imports');
