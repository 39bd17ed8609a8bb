import fs from 'node:fs';
import path from 'node:path';

import { KilnError, type Logger, type NativeBuildResult, type TacticSource } from '@kiln/core';

import { logTactics } from './build-log';

/** The implementation chosen for one layer, as the build log reports it. */
export interface LayerTactic {
  name: string;
  op: string;
  /** e.g. 'conv.gemm' (im2col + GEMM) or 'conv.winograd'. */
  tactic: string;
  /** 'timed', 'cache' (timing cache hit), 'heuristic' (level 0) or 'only' (no alternative). */
  source: 'timed' | 'cache' | 'heuristic' | 'only';
  /**
   * Where the tactic's implementation comes from, as TensorRT's tactic sources: 'kiln' (its own
   * kernels) or 'onednn' (oneDNN, when the addon was built with it).
   */
  tacticSource: TacticSource;
  /** Median milliseconds of each candidate at the opt shapes, when timed. */
  timings: { tactic: string; ms: number }[];
}

/**
 * The timing cache file's bytes, or null when there is none (or it cannot be read, which is
 * logged as a warning: the build then times every layer).
 */
export function readTimingCache(file: string | undefined, logger: Logger): Uint8Array | null {
  if (file === undefined || !fs.existsSync(file)) return null;
  try {
    return fs.readFileSync(file);
  } catch (e) {
    logger.log(
      'warning',
      `timing cache '${file}' could not be read (${(e as Error).message}): every layer is timed`,
    );
    return null;
  }
}

/**
 * After a build: logs each layer's tactic and any timing cache warning, and writes the updated
 * cache to `file` (when given) atomically, creating its folder.
 */
export function finishTactics(
  result: NativeBuildResult,
  file: string | undefined,
  level: number,
  elapsedMs: number,
  logger: Logger,
): LayerTactic[] {
  for (const w of result.warnings) logger.log('warning', `timing cache '${file}': ${w}`);
  if (file !== undefined) {
    try {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      // Written beside and renamed, so a reader never sees half a file.
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, result.timingCache);
      fs.renameSync(tmp, file);
    } catch (e) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `timing cache '${file}' could not be written: ${(e as Error).message}`,
      );
    }
  }
  const layers = result.layers.map((l) => ({
    ...l,
    source: l.source as LayerTactic['source'],
    tacticSource: l.tacticSource as TacticSource,
  }));
  logTactics(layers, level, result.timingMs, elapsedMs, logger);
  return layers;
}
