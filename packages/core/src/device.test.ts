import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { devices, features, resolveDevice, threadCount } from './device';
import { KilnError } from './errors';

describe('devices() and features()', () => {
  it('lists the cpu first with the machine memory', () => {
    const all = devices();
    expect(all[0]).toMatchObject({ name: 'cpu', kind: 'cpu', index: 0 });
    expect(all[0]!.totalMemory).toBe(os.totalmem());
    if (!features().cudaBuilt) expect(all.every((d) => d.kind === 'cpu')).toBe(true);
  });

  it('reports the same CPU flags as the kernel (/proc/cpuinfo)', () => {
    const f = features();
    expect(f.cpu.logicalCores).toBe(os.cpus().length);
    expect(f.coreVersion).toMatch(/^\d+\.\d+\.\d+$/);
    if (!fs.existsSync('/proc/cpuinfo')) return;
    const line = fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    const flags = new Set((line ?? '').split(':')[1]?.trim().split(/\s+/));
    expect(f.cpu.avx2).toBe(flags.has('avx2'));
    expect(f.cpu.fma).toBe(flags.has('fma'));
    expect(f.cpu.f16c).toBe(flags.has('f16c'));
    expect(f.cpu.avx512f).toBe(flags.has('avx512f'));
    expect(f.cpu.avx512vnni).toBe(flags.has('avx512_vnni'));
    expect(f.cpu.avx512bf16).toBe(flags.has('avx512_bf16'));
    expect(f.cpu.avx512fp16).toBe(flags.has('avx512_fp16'));
    expect(f.cpu.avxVnni).toBe(flags.has('avx_vnni'));
    // The model string comes from CPUID's brand leaves; hypervisors may report another name in
    // /proc/cpuinfo, so only its form is checked.
    expect(f.cpu.model).toBe(f.cpu.model.trim());
  });

  it('validates device names', () => {
    expect(resolveDevice(undefined)).toBe('cpu');
    expect(() => resolveDevice('gpu')).toThrow(/Expected 'cpu' or 'cuda:N' for device/);
    if (!features().cudaBuilt) {
      expect(() => resolveDevice('cuda:0')).toThrow(KilnError);
      expect(() => resolveDevice('cuda:0')).toThrow(/no cuda device/);
    }
  });
});

const distEntry = path.resolve(__dirname, '..', 'dist', 'index.cjs');

describe('threadCount()', () => {
  it('is the pool size this process runs kernels on', () => {
    const fromEnv = Number(process.env.KILN_NUM_THREADS);
    expect(threadCount()).toBe(fromEnv > 0 ? fromEnv : os.cpus().length);
  });

  it.runIf(fs.existsSync(distEntry))(
    'follows KILN_NUM_THREADS, read when the pool starts',
    () => {
      const count = (env: Record<string, string>) =>
        execFileSync(
          process.execPath,
          ['-e', `console.log(require(${JSON.stringify(distEntry)}).threadCount())`],
          { env: { ...process.env, KILN_NUM_THREADS: '', ...env } },
        )
          .toString()
          .trim();
      expect(count({ KILN_NUM_THREADS: '3' })).toBe('3');
      expect(count({})).toBe(String(os.cpus().length));
    },
    60_000,
  ); // two fresh processes each load the addon: slow on a busy machine
});
