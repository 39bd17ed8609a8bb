import { readdirSync } from 'node:fs';
import { test } from 'vitest';
import { convertTfjs } from './index';
import { compareWithTfjs } from '../test-support/tfjs-ref';
const dir = '/work/main/.data/npm/human-models/models';
test('survey', async () => {
  const only = process.env.ONLY?.split(',');
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const name = f.replace('.json', '');
    if (only && !only.includes(name)) continue;
    const t0 = Date.now();
    try {
      const { model } = convertTfjs(`${dir}/${f}`);
      const t1 = Date.now();
      const agree = await compareWithTfjs(`${dir}/${f}`, model);
      console.log(
        `RESULT ${name} conv=${t1 - t0}ms run=${Date.now() - t1}ms`,
        agree.map((a) => `${a.name}:${a.relErr.toExponential(2)}`).join(' '),
      );
    } catch (e) {
      console.log(`RESULT ${name} FAIL ${String(e).slice(0, 400)}`);
    }
  }
}, 900_000);
