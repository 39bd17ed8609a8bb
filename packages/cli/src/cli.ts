#!/usr/bin/env node
// The `kiln` binary. Its commands (build, run, convert, onnx, inspect, compare) arrive with
// issue 5; until then it says so instead of pretending.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { version } = require('../package.json') as { version: string };

const args = process.argv.slice(2);
if (args[0] === '--version' || args[0] === '-v') {
  process.stdout.write(`${version}\n`);
} else {
  process.stderr.write(
    `kiln ${version}: no commands are implemented yet (they arrive with issue 5).\n`,
  );
  process.exitCode = args.length === 0 || args[0] === '--help' ? 0 : 2;
}
