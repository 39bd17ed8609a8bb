import type { DeviceInfo, Features } from '@kiln/core';

/** Whether a device computes reduced precisions natively (TensorRT's platformHasFast*). */
export interface FastPrecisions {
  fp16: boolean;
  int8: boolean;
}

// Compute capability as a comparable number: '8.9' -> 89.
function capability(device: DeviceInfo): number {
  const [major, minor] = (device.computeCapability ?? '0.0').split('.').map(Number);
  return (major ?? 0) * 10 + (minor ?? 0);
}

/**
 * What `device` runs fast in reduced precision. cpu: FP16 with AVX512-FP16, INT8 with VNNI
 * (AVX512-VNNI or AVX-VNNI). cuda: FP16 with tensor cores (compute capability 7.0 and up), INT8
 * with the dp4a instruction kiln's 8-bit kernels use (6.1 and up).
 */
export function fastPrecisions(device: DeviceInfo, cpu: Features['cpu']): FastPrecisions {
  if (device.kind === 'cpu') return { fp16: cpu.avx512fp16, int8: cpu.avx512vnni || cpu.avxVnni };
  const cc = capability(device);
  return { fp16: cc >= 70, int8: cc >= 61 };
}

/** How a warning names the device: 'this CPU' or 'cuda:0 (NVIDIA H100, sm_90)'. */
export function describeDevice(device: DeviceInfo): string {
  if (device.kind === 'cpu') return 'this CPU';
  return `${device.name} (${device.description}, sm_${capability(device)})`;
}
