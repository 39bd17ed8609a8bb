import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from './load';
import { saveModel } from './save';
import { ALL_MODELS, absent } from '../test-support/models';
import { makeFeeds, runBytes, sameBytes, session } from '../test-support/ort';

const dir = mkdtempSync(join(tmpdir(), 'kiln-onnx-rt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Done-when of issue 3: load -> save -> reload every real model, and onnxruntime gives the
// same bits on the saved copy as on the original.
describe.each(ALL_MODELS)('round trip of $name', (spec) => {
  it.skipIf(absent(spec) !== undefined)(
    'saves a copy that onnxruntime runs bit-identically',
    async () => {
      const model = loadModel(spec.path);
      const out = join(dir, `${spec.name}.onnx`);
      saveModel(model, out);
      const again = loadModel(out);
      expect(again.graph.nodes.length).toBe(model.graph.nodes.length);
      expect([...again.graph.initializers.keys()]).toEqual([...model.graph.initializers.keys()]);
      const feeds = makeFeeds(model, spec);
      const [a, b] = await Promise.all([session(spec.path), session(out)]);
      const ra = await runBytes(a, feeds);
      const rb = await runBytes(b, feeds);
      expect(Object.keys(rb)).toEqual(Object.keys(ra));
      for (const k of Object.keys(ra)) expect(sameBytes(ra[k], rb[k]), `output ${k}`).toBe(true);
      await a.release();
      await b.release();
    },
  );
});
