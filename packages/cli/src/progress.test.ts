import { describe, expect, it } from 'vitest';

import { progressReporter, renderProgress } from './progress';

describe('build progress', () => {
  it('draws a bar proportional to done/total', () => {
    expect(renderProgress({ stage: 'passes', done: 3, total: 8 })).toBe(
      '[kiln] passes    [#########...............] 3/8',
    );
    expect(renderProgress({ stage: 'build', done: 1, total: 1 })).toContain(`[${'#'.repeat(24)}]`);
    expect(renderProgress({ stage: 'check', done: 0, total: 0 })).toContain(`[${'.'.repeat(24)}]`);
  });

  it('redraws in place on a terminal and ends the line; logs each stage once elsewhere', () => {
    const tty: string[] = [];
    const bar = progressReporter({ isTTY: true, write: (s: string) => tty.push(s) });
    bar.report({ stage: 'passes', done: 0, total: 2 });
    bar.report({ stage: 'passes', done: 2, total: 2 });
    bar.end();
    expect(tty.length).toBe(3);
    expect(tty[1]!.startsWith('\r[kiln] passes')).toBe(true);
    expect(tty[2]).toBe('\n');

    const log: string[] = [];
    const lines = progressReporter({ isTTY: false, write: (s: string) => log.push(s) });
    for (const stage of ['passes', 'passes', 'build', 'check'])
      lines.report({ stage, done: 0, total: 1 });
    lines.end();
    expect(log).toEqual(['[kiln] passes...\n', '[kiln] build...\n', '[kiln] check...\n']);
  });
});
