import fs from 'node:fs';
import path from 'node:path';

import { KilnError, type Logger, nativeAddon, type NativeTuneResult } from '@kiln/core';

import { logTactics } from './build-log';

/** The implementation chosen for one layer, as the build log reports it. */
export interface LayerTactic {
  name: string;
  op: string;
  /** e.g. 'conv.gemm' (im2col + GEMM) or 'conv.winograd'. */
  tactic: string;
  /** 'timed', 'cache' (timing cache hit), 'heuristic' (level 0) or 'only' (no alternative). */
  source: 'timed' | 'cache' | 'heuristic' | 'only';
  /** Median milliseconds of each candidate at the opt shapes, when timed. */
  timings: { tactic: string; ms: number }[];
}

/** Options of selectTactics (BuilderConfig's builderOptimizationLevel and timingCachePath). */
export interface TacticOptions {
  /** 0: heuristic only; 1..5: every candidate timed, over more runs as it rises. */
  level: number;
  /** A timing cache file to read (if it exists) and to write back with this build's timings. */
  timingCachePath?: string;
}

/**
 * Tactic selection (TensorRT's auto-tuning): times each layer's implementations at the first
 * profile's opt shapes, records the fastest in the plan and returns the new plan bytes. A
 * timing cache that cannot be used (corrupt, foreign, another CPU) is reported as a warning,
 * ignored, and replaced.
 */
export async function selectTactics(
  plan: Uint8Array,
  options: TacticOptions,
  logger: Logger,
): Promise<{ plan: Uint8Array; layers: LayerTactic[] }> {
  const started = performance.now();
  let cache: Uint8Array | null = null;
  const cachePath = options.timingCachePath;
  if (cachePath !== undefined && fs.existsSync(cachePath)) {
    try {
      cache = fs.readFileSync(cachePath);
    } catch (e) {
      logger.log(
        'warning',
        `timing cache '${cachePath}' could not be read (${(e as Error).message}): every layer is timed`,
      );
    }
  }
  const result = await new Promise<NativeTuneResult>((resolve, reject) => {
    nativeAddon().tunePlan(plan, options.level, cache, (error, r) =>
      error ? reject(error) : resolve(r!),
    );
  });
  for (const w of result.warnings) logger.log('warning', `timing cache '${cachePath}': ${w}`);
  if (cachePath !== undefined) {
    try {
      fs.mkdirSync(path.dirname(path.resolve(cachePath)), { recursive: true });
      // Written beside and renamed, so a reader never sees half a file.
      const tmp = `${cachePath}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, result.timingCache);
      fs.renameSync(tmp, cachePath);
    } catch (e) {
      throw new KilnError(
        'INVALID_ARGUMENT',
        `timing cache '${cachePath}' could not be written: ${(e as Error).message}`,
      );
    }
  }
  const layers = result.layers.map((l) => ({ ...l, source: l.source as LayerTactic['source'] }));
  logTactics(layers, options.level, performance.now() - started, logger);
  return { plan: new Uint8Array(result.plan), layers };
}
