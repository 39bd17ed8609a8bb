// The platform package a flavour of the addon goes into, named as @kiln/core's loader looks for it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The package folder and name for `flavor` ('cpu' | 'cuda') on this platform. */
export function platformPackage(flavor) {
  const suffix = flavor === 'cuda' ? '-cuda' : '';
  const dir = `core-${process.platform}-${process.arch}${suffix}`;
  return { name: `@kiln/${dir}`, dir: path.join(REPO, 'packages', dir) };
}
