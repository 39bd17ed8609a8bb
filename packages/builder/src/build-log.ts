import { type Logger, getLogger } from '@kiln/core';

import type { NetworkDefinition } from './network';

/** A graph pass: a plain function that rewrites a network and returns it. */
export type NetworkPass = (network: NetworkDefinition) => NetworkDefinition;

/** Runs passes in order, logging each one's effect on the layer count (the build log). */
export function runPasses(
  network: NetworkDefinition,
  passes: readonly NetworkPass[],
): NetworkDefinition {
  for (const pass of passes) {
    const before = network.layers.length;
    network = pass(network);
    getLogger().log('info', `pass ${pass.name}: ${before} -> ${network.layers.length} layers`);
  }
  return network;
}

/** Logs each layer's tactic and where it came from, then a summary line (the build log). */
export function logTactics(
  layers: readonly {
    name: string;
    op: string;
    tactic: string;
    source: string;
    tacticSource: string;
    timings: readonly { tactic: string; ms: number }[];
  }[],
  level: number,
  timingMs: number,
  elapsedMs: number,
  logger: Logger = getLogger(),
): void {
  const count = (source: string) => layers.filter((l) => l.source === source).length;
  for (const l of layers) {
    const how =
      l.source === 'timed'
        ? `timed: ${l.timings.map((t) => `${t.tactic} ${t.ms.toFixed(3)} ms`).join(', ')}`
        : l.source === 'cache'
          ? 'from the timing cache'
          : l.source === 'heuristic'
            ? 'heuristic, not timed (optimization level 0)'
            : 'the only candidate';
    logger.log(
      'info',
      `tactic: layer '${l.name}' (${l.op}) runs ${l.tactic} from ${l.tacticSource} (${how})`,
    );
  }
  const bySource = new Map<string, number>();
  for (const l of layers) bySource.set(l.tacticSource, (bySource.get(l.tacticSource) ?? 0) + 1);
  logger.log(
    'info',
    `tactics (optimization level ${level}): ${layers.length} layers, ${count('timed')} timed, ${count('cache')} from the timing cache, ${count('heuristic')} by heuristic; tactic sources: ${[...bySource].map(([s, n]) => `${s} ${n}`).join(', ') || 'none'}; ${timingMs.toFixed(0)} ms of timing in a native build of ${elapsedMs.toFixed(0)} ms`,
  );
}
