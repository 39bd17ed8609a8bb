// prepack/postpack: a published @kiln/core carries the native sources (without tests) in
// native/, so that the install hook can build from source where no prebuilt package fits.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.resolve(packageDir, '../../native');
const target = path.join(packageDir, 'native');
const skip = new Set(['tests']);

fs.rmSync(target, { recursive: true, force: true });
if (process.argv[2] === 'copy') {
  fs.cpSync(source, target, {
    recursive: true,
    filter: (from) => {
      const rel = path.relative(source, from).split(path.sep);
      return !skip.has(rel[0]) && !rel[0].startsWith('build');
    },
  });
}
