// The build's progress bar: redrawn in place on a terminal; one line per stage otherwise, so
// CI logs show where a long build is without a stream of carriage returns.

/** What the builder reports (BuildProgress), with any stage name. */
export interface ProgressEvent {
  stage: string;
  done: number;
  total: number;
}

const WIDTH = 24;

/** One frame of the bar: `[kiln] build [#########...............] 3/8`. */
export function renderProgress(p: ProgressEvent): string {
  const fraction = p.total > 0 ? Math.min(1, Math.max(0, p.done / p.total)) : 0;
  const filled = Math.round(fraction * WIDTH);
  return `[kiln] ${p.stage.padEnd(9)} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${p.done}/${p.total}`;
}

/** A progress callback writing to `stream` (stderr by default). */
export function progressReporter(
  stream: { isTTY?: boolean; write(s: string): unknown } = process.stderr,
): { report(p: ProgressEvent): void; end(): void } {
  let lastStage: string | undefined;
  let drawn = false;
  return {
    report(p) {
      if (stream.isTTY) {
        stream.write(`\r${renderProgress(p)}   `);
        drawn = true;
      } else if (p.stage !== lastStage) {
        stream.write(`[kiln] ${p.stage}...\n`);
      }
      lastStage = p.stage;
    },
    end() {
      if (drawn) stream.write('\n');
    },
  };
}
