import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

const dist = path.resolve(__dirname, '..', 'dist');

// The published entry points, loaded the way consumers load them.
describe.runIf(fs.existsSync(path.join(dist, 'index.cjs')))(
  'the package loads from both module systems',
  () => {
    it('from a CommonJS consumer', () => {
      const out = execFileSync(process.execPath, [
        '-e',
        `const k = require(${JSON.stringify(path.join(dist, 'index.cjs'))});
       const t = new k.Tensor('float32', [2], new Float32Array([1, 2]));
       console.log(k.devices()[0].name, t.to('float16').data.join(','), new k.KilnError('NOT_FOUND', 'x') instanceof Error);`,
      ]);
      expect(out.toString().trim()).toBe('cpu 15360,16384 true');
    });

    it('from an ES module consumer', () => {
      const out = execFileSync(process.execPath, [
        '--input-type=module',
        '-e',
        `import * as k from ${JSON.stringify(path.join(dist, 'index.js'))};
       const s = new k.Stream(); const d = new k.DeviceBuffer(4); const o = new Uint8Array(4);
       s.memset(d, 5); s.copyDeviceToHost(o, d); await s.synchronize(); console.log(o.join(','));`,
      ]);
      expect(out.toString().trim()).toBe('5,5,5,5');
    });
  },
);
