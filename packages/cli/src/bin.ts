#!/usr/bin/env node
// The executable behind `kiln`: runs main() and exits with its code.
import { main } from './main';

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
