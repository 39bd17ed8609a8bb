// The builder's precision questions answer for its device: the cpu's instruction sets, or a
// GPU's compute capability.
import { type DeviceInfo, type Features, devices, features } from '@kiln/core';
import { describe, expect, it } from 'vitest';

import { Builder } from './builder';
import { fastPrecisions } from './platform';

const noCpuExtras: Features['cpu'] = {
  ...features().cpu,
  avx512fp16: false,
  avx512vnni: false,
  avxVnni: false,
};

function gpu(computeCapability: string): DeviceInfo {
  return {
    name: 'cuda:0',
    kind: 'cuda',
    index: 0,
    description: 'test GPU',
    totalMemory: 1 << 30,
    computeCapability,
  };
}

describe('fastPrecisions', () => {
  const cpu = devices().find((d) => d.name === 'cpu')!;

  it('answers for the cpu from its instruction sets', () => {
    expect(fastPrecisions(cpu, noCpuExtras)).toEqual({ fp16: false, int8: false });
    expect(fastPrecisions(cpu, { ...noCpuExtras, avx512fp16: true })).toEqual({
      fp16: true,
      int8: false,
    });
    expect(fastPrecisions(cpu, { ...noCpuExtras, avx512vnni: true }).int8).toBe(true);
    expect(fastPrecisions(cpu, { ...noCpuExtras, avxVnni: true }).int8).toBe(true);
  });

  it('answers for a GPU from its compute capability, whatever the cpu has', () => {
    // Hopper and Ampere: tensor cores and dp4a.
    expect(fastPrecisions(gpu('9.0'), noCpuExtras)).toEqual({ fp16: true, int8: true });
    expect(fastPrecisions(gpu('8.0'), noCpuExtras)).toEqual({ fp16: true, int8: true });
    // Pascal GP104 (6.1): dp4a but no tensor cores; Maxwell (5.2): neither.
    expect(fastPrecisions(gpu('6.1'), noCpuExtras)).toEqual({ fp16: false, int8: true });
    expect(fastPrecisions(gpu('5.2'), { ...noCpuExtras, avx512fp16: true })).toEqual({
      fp16: false,
      int8: false,
    });
    expect(fastPrecisions(gpu('10.0'), noCpuExtras)).toEqual({ fp16: true, int8: true });
  });
});

describe('Builder device', () => {
  it("defaults to 'cpu' and answers as this cpu does", () => {
    const builder = new Builder();
    expect(builder.device).toBe('cpu');
    const { cpu } = features();
    expect(builder.platformHasFastFp16).toBe(cpu.avx512fp16);
    expect(builder.platformHasFastInt8).toBe(cpu.avx512vnni || cpu.avxVnni);
  });

  it('refuses a device this process lacks, or a malformed name', () => {
    const missing = `cuda:${devices().length + 7}` as const;
    expect(() => new Builder(undefined, { device: missing })).toThrow(/device/);
    expect(() => new Builder(undefined, { device: 'gpu' as never })).toThrow(/device/);
    expect(() => new Builder(undefined, null as never)).toThrow(/options/);
  });
});
