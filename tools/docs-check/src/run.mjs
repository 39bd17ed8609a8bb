// Runs one README block in its folder: a js block as an ES module with node, a kiln block
// command by command through bash, with `kiln` on PATH running packages/cli/dist/bin.js.
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { shellCommands } from './extract.mjs';

const exec = promisify(execFile);

/** Writes `binDir/kiln`, the command a user gets from `npm i -g @kiln/cli`. */
export function installKiln(binDir, cliBin) {
  const path = join(binDir, 'kiln');
  writeFileSync(path, `#!/bin/sh\nexec "${process.execPath}" "${cliBin}" "$@"\n`);
  chmodSync(path, 0o755);
}

/**
 * Runs the block; resolves to its stdout (all commands' together), rejects naming the command
 * that failed, its exit code and output.
 */
export async function runBlock(block, dir, { binDir, timeoutMs }) {
  const env = { ...process.env, PATH: `${binDir}:${process.env.PATH}` };
  const options = { cwd: dir, env, timeout: timeoutMs, maxBuffer: 64 << 20 };
  if (block.kind === 'js') {
    writeFileSync(join(dir, 'snippet.mjs'), block.code);
    return (await run(process.execPath, ['snippet.mjs'], options, 'the snippet')).stdout;
  }
  let stdout = '';
  for (const command of shellCommands(block.code)) {
    stdout += (await run('bash', ['-c', command], options, command)).stdout;
  }
  return stdout;
}

async function run(file, args, options, what) {
  try {
    return await exec(file, args, options);
  } catch (error) {
    const how = error.killed
      ? `was killed after ${options.timeout} ms`
      : `exited with ${error.code}`;
    const tail = `${error.stdout ?? ''}${error.stderr ?? ''}`
      .trim()
      .split('\n')
      .slice(-30)
      .join('\n');
    throw new Error(`${what} ${how}:\n${tail}`);
  }
}
