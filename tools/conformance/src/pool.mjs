// Runs tests in worker processes, a few at a time, each with a deadline. A worker that crashes
// or passes its deadline is killed and replaced; its test counts as a fail saying what happened.
import { fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));
// How much of a dead worker's stderr to keep for the report.
const STDERR_TAIL = 2000;

/** Worker count when none is asked for: one per core, at most 4. */
export function defaultJobs() {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

function lastLine(text) {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines.length > 0 ? lines[lines.length - 1].slice(0, 300) : '';
}

/**
 * Runs `tests` ({ suite, name, dir }) with `jobs` workers and a per-test `timeoutMs`.
 * `onResult(test, result)` is called as each finishes. Resolves with results keyed
 * "suite/name".
 */
export function runPool(tests, { jobs = defaultJobs(), timeoutMs = 60_000, onResult } = {}) {
  const results = new Map();
  const queue = [...tests];
  let nextId = 0;
  let live = 0;
  let startFailures = 0;

  return new Promise((resolve) => {
    const finish = (test, result) => {
      results.set(`${test.suite}/${test.name}`, result);
      onResult?.(test, result);
    };

    const spawn = () => {
      if (queue.length === 0) {
        if (live === 0) resolve(results);
        return;
      }
      live++;
      const child = fork(WORKER, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      let current; // { test, id, timer, started }
      let stderr = '';
      let dead = false;
      child.stderr.on('data', (chunk) => {
        stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL);
      });

      const next = () => {
        const test = queue.shift();
        if (!test) {
          current = undefined;
          dead = true;
          child.disconnect();
          return;
        }
        stderr = '';
        const id = nextId++;
        const timer = setTimeout(() => {
          finish(test, {
            status: 'fail',
            message: `timeout: no result within ${timeoutMs / 1000} s`,
            stage: 'timeout',
            ms: timeoutMs,
          });
          current = undefined;
          dead = true;
          child.kill('SIGKILL');
        }, timeoutMs);
        current = { test, id, timer, started: performance.now() };
        child.send({ type: 'run', id, dir: test.dir });
      };

      child.on('message', (msg) => {
        if (msg.type === 'ready') next();
        else if (msg.type === 'result' && current && msg.id === current.id) {
          clearTimeout(current.timer);
          finish(current.test, msg.result);
          next();
        }
      });
      child.on('exit', (code, signal) => {
        live--;
        if (current) {
          // Died during a test: a native crash (signal) or an abort.
          clearTimeout(current.timer);
          const how = signal ? `signal ${signal}` : `exit code ${code}`;
          const tail = lastLine(stderr);
          finish(current.test, {
            status: 'fail',
            message: `crash: the worker died (${how})${tail ? `: ${tail}` : ''}`,
            stage: 'crash',
            ms: Math.round(performance.now() - current.started),
          });
          current = undefined;
          spawn();
        } else if (!dead && ++startFailures >= 3) {
          // Workers die before their first test (the addon does not load, say): stop trying.
          const why = lastLine(stderr) || `exit code ${code}`;
          for (const test of queue.splice(0))
            finish(test, { status: 'fail', message: `worker cannot start: ${why}`, ms: 0 });
          spawn();
        } else {
          spawn();
        }
      });
    };

    if (queue.length === 0) resolve(results);
    else for (let i = 0; i < Math.min(jobs, queue.length); i++) spawn();
  });
}
