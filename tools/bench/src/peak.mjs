// The machine's FP32 FMA peak, measured in the same run as the benchmark: fma-peak.cc is
// compiled with the system's C++ compiler for this CPU (-march=native) and run in its own
// process. Without a compiler the peak is reported as not measured, with the reason; it is
// never estimated from a table of clock speeds.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const source = join(dirname(fileURLToPath(import.meta.url)), 'fma-peak.cc');

/**
 * @typedef {object} PeakProbe
 * @property {string} binary the compiled probe
 * @property {string} compiler e.g. 'g++ (Debian 12.2.0-14) 12.2.0'
 * @property {() => void} dispose deletes the binary
 */

/**
 * Compiles the probe; a string saying why when that is impossible.
 * @returns {Promise<PeakProbe | string>}
 */
export async function compilePeakProbe() {
  const cxx = process.env.CXX || 'g++';
  let compiler;
  try {
    compiler = (await run(cxx, ['--version'])).stdout.split('\n')[0].trim();
  } catch {
    return `no C++ compiler: '${cxx}' was not found (install g++ or set CXX)`;
  }
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-'));
  const binary = join(dir, 'fma-peak');
  try {
    await run(cxx, ['-O2', '-march=native', '-std=c++17', '-pthread', source, '-o', binary]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = /** @type {{ stderr?: string }} */ (error).stderr ?? String(error);
    return `${cxx} could not compile the probe: ${stderr.trim().split('\n').slice(0, 3).join(' ')}`;
  }
  return { binary, compiler, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs the probe with `threads` threads for about `seconds` and returns the best trial.
 * @param {PeakProbe} probe
 * @param {number} threads
 * @param {number} seconds
 * @returns {Promise<{ isa: string, threads: number, gflops: number }>}
 */
export async function measurePeak(probe, threads, seconds) {
  const { stdout } = await run(probe.binary, [String(threads), String(seconds)]);
  const parsed = JSON.parse(stdout);
  return { isa: parsed.isa, threads: parsed.threads, gflops: parsed.gflops };
}
