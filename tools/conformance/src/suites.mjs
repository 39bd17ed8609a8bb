// Where the ONNX backend test suite lives and which tests each suite holds.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { debFile, missingReason } from '@kiln/test-data';

/** The suites this tool runs, in report order (folders of libonnx-testdata's data/). */
export const SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'];

/** The data/ folder of the Debian libonnx-testdata package. */
export function suiteRoot() {
  return debFile('libonnx-testdata', 'usr', 'share', 'libonnx-testdata', 'data');
}

/** Why the suite's data cannot be used, or undefined when it is there. */
export function suiteMissingReason(suite) {
  return missingReason(path.join(suiteRoot(), suite));
}

/**
 * The tests of one suite, sorted by name: each a folder with model.onnx and test_data_set_*.
 * @returns {{ suite: string, name: string, dir: string }[]}
 */
export function listTests(suite) {
  const dir = path.join(suiteRoot(), suite);
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, 'model.onnx')))
    .map((e) => ({ suite, name: e.name, dir: path.join(dir, e.name) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The test_data_set_* folders of a test, each with its input_k.pb and output_k.pb files. */
export function listDataSets(testDir) {
  const byIndex = (prefix) => (a, b) =>
    Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3));
  return readdirSync(testDir)
    .filter((n) => n.startsWith('test_data_set_'))
    .sort((a, b) => Number(a.slice(14)) - Number(b.slice(14)))
    .map((set) => {
      const dir = path.join(testDir, set);
      const files = readdirSync(dir);
      const pick = (prefix) =>
        files
          .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
          .sort(byIndex(prefix))
          .map((f) => path.join(dir, f));
      return { name: set, inputs: pick('input_'), outputs: pick('output_') };
    });
}
