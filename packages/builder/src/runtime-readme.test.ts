// The EngineCache snippet of @kiln/runtime's README runs as written (with the model path and
// cache folder filled in) and prints what its comments say. It lives here because it needs
// @kiln/builder, and runs in a child process on the built packages.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { missingReason, sharedModel } from '@kiln/test-data';
import { afterAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const readme = fs.readFileSync(path.join(packageDir, '../runtime/README.md'), 'utf8');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-readme-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('@kiln/runtime README', () => {
  const model = sharedModel('fashion_mnist_cnn.onnx');
  const missing = missingReason(model);
  if (missing) console.warn(`[skip] the EngineCache snippet: ${missing}`);
  it.skipIf(missing !== undefined)('the EngineCache snippet runs and prints its stats', () => {
    const section = readme.slice(readme.indexOf('## EngineCache'));
    const snippet = /```js\n([\s\S]*?)```/.exec(section)![1]!;
    const code = snippet
      .replace("'fashion_mnist_cnn.onnx'", JSON.stringify(model))
      .replace("'.kiln-engines'", JSON.stringify(path.join(tmp, 'engines')));
    const run = () =>
      execFileSync(process.execPath, ['--input-type=module', '-e', code], {
        cwd: packageDir,
        encoding: 'utf8',
      });
    const first = run();
    expect(first).toContain('building for 8,1,28,28 (startup)');
    expect(first).toContain('building for 12,1,28,28 (runtime)');
    expect(first).toMatch(/hits: 2,\s+misses: 1,\s+builds: 2,\s+loads: 0,\s+evictions: 0/);
    // Again, as a restart: both engines come from the cache folder.
    const second = run();
    expect(second).not.toContain('building for');
    expect(second).toMatch(/hits: 2,\s+misses: 1,\s+builds: 0,\s+loads: 2/);
  });
});
