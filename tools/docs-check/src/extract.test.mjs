// Which README blocks docs-check runs, and how a block is marked as not runnable.
import { describe, expect, it } from 'vitest';

import { codeBlocks, shellCommands } from './extract.mjs';

const fence = '```';
const readme = [
  '# pkg',
  `${fence}js`,
  "console.log('runs');",
  fence,
  '<!-- docs-check: skip (needs a GPU) -->',
  `${fence}js`,
  'await gpuOnly();',
  fence,
  `${fence}sh`,
  'kiln build --onnx=model.onnx \\',
  '  --saveEngine=model.kiln   # a comment',
  '',
  'kiln inspect model.kiln',
  fence,
  `${fence}sh`,
  'pnpm add @kiln/core',
  fence,
  `${fence}ts`,
  'const x: number = 1;',
  fence,
  fence,
  'KILN-1-MinMaxCalibration',
  fence,
].join('\n');

describe('codeBlocks', () => {
  it('returns js blocks, kiln command blocks, other code as unrunnable, with skip reasons', () => {
    const blocks = codeBlocks(readme);
    expect(blocks.map(({ line, kind, skip }) => ({ line, kind, skip }))).toEqual([
      { line: 2, kind: 'js', skip: undefined },
      { line: 6, kind: 'js', skip: 'needs a GPU' },
      { line: 9, kind: 'kiln', skip: undefined },
      { line: 18, kind: 'unrunnable', skip: undefined },
    ]);
    expect(blocks[0].code).toBe("console.log('runs');\n");
  });

  it('refuses a block that is never closed', () => {
    expect(() => codeBlocks(`${fence}js\nconsole.log(1);\n`)).toThrow(/line 1: .* never closed/);
  });
});

describe('shellCommands', () => {
  it('joins continuation lines and drops blank and comment lines', () => {
    const code =
      '# build\nkiln build --onnx=a.onnx \\\n  --saveEngine=a.kiln\n\nkiln inspect a.kiln\n';
    expect(shellCommands(code)).toEqual([
      'kiln build --onnx=a.onnx --saveEngine=a.kiln',
      'kiln inspect a.kiln',
    ]);
  });
});
