// @kiln/cli: the `kiln` command; main() is exported so tools and tests can run it in-process.
export { main } from './main';
export { parseShapes, USAGE, UsageError } from './usage';
export { stats, type Stats } from './commands/run';
