import { native } from './addon';
import { KilnError } from './errors';
import { invalidParameterError } from './validate';

/** A device name: 'cpu', or 'cuda:N' for the N-th GPU. */
export type DeviceName = 'cpu' | `cuda:${number}`;

/** One device of this process. */
export interface DeviceInfo {
  /** 'cpu' or 'cuda:N'. */
  name: DeviceName;
  kind: 'cpu' | 'cuda';
  index: number;
  /** CPU model or GPU name. */
  description: string;
  /** Bytes of memory (system RAM for the cpu). */
  totalMemory: number;
  /** 'major.minor' for GPUs. */
  computeCapability?: string;
}

/** What this CPU can do, and how the core was built. */
export interface Features {
  cpu: {
    vendor: string;
    model: string;
    logicalCores: number;
    sse41: boolean;
    avx: boolean;
    avx2: boolean;
    fma: boolean;
    f16c: boolean;
    avx512f: boolean;
    avx512bw: boolean;
    avx512vl: boolean;
    avx512dq: boolean;
    avx512vnni: boolean;
    avx512bf16: boolean;
    avx512fp16: boolean;
    avxVnni: boolean;
    /** The kernel tier in use: 'scalar', 'avx2' or 'avx512' (lowered by KILN_CPU_ISA). */
    isa: 'scalar' | 'avx2' | 'avx512';
  };
  /** True when this build of the core includes the cuda device. */
  cudaBuilt: boolean;
  /**
   * The tactic sources this build of the core has, as TensorRT's: 'kiln' (its own kernels)
   * always, 'onednn' when oneDNN (Debian libdnnl-dev) was found when the addon was built; the
   * builder times their implementations against each other.
   */
  tacticSources: TacticSource[];
  /** The native core's version, recorded in engine files. */
  coreVersion: string;
}

/** Where a tactic's implementation comes from: kiln's own kernels or an optional library. */
export type TacticSource = 'kiln' | 'onednn';

/** Every device of this process: the cpu first, then each GPU when the cuda device is built. */
export function devices(): DeviceInfo[] {
  return native().devices() as DeviceInfo[];
}

/** CPU features (AVX2, AVX-512, VNNI, FP16...) and build facts. */
export function features(): Features {
  return native().features() as unknown as Features;
}

/**
 * Threads the cpu device's kernels run on (the calling worker plus helpers). The pool is sized
 * once, at its first use, from `KILN_NUM_THREADS` or else the number of logical cores; calling
 * this creates it, so set the variable before.
 */
export function threadCount(): number {
  return native().threadCount() as number;
}

/** @internal Validates a device option and returns its name ('cpu' by default). */
export function resolveDevice(device: unknown): DeviceName {
  if (device === undefined) return 'cpu';
  if (typeof device !== 'string' || !/^(cpu|cuda:\d+)$/.test(device)) {
    throw invalidParameterError('device', "'cpu' or 'cuda:N'", device);
  }
  if (!devices().some((d) => d.name === device)) {
    const known = devices()
      .map((d) => d.name)
      .join(', ');
    const why =
      device.startsWith('cuda') && !features().cudaBuilt
        ? ' (this build of kiln has no cuda device)'
        : '';
    throw new KilnError(
      'NOT_FOUND',
      `no device '${device}' in this process; available: ${known}${why}`,
    );
  }
  return device as DeviceName;
}
