// The only place that loads the native addon. Everything else reaches it through native().
import fs from 'node:fs';
import { createRequire } from 'node:module';

import { addonCandidates, addonPackageNames } from './addon-location';
import { KilnError } from './errors';

/** @internal The native classes and functions of native/binding (kept in sync by hand). */
export interface NativeAddon {
  setErrorClass(ctor: typeof KilnError): void;
  devices(): NativeDeviceInfo[];
  features(): NativeFeatures;
  convert(src: ArrayBufferView, srcType: number, dst: ArrayBufferView, dstType: number): void;
  injectFault(point: string, count: number): void;
  threadCount(): number;
  DeviceBuffer: new (device: string, bytes: number) => NativeDeviceBuffer;
  HostBuffer: new (device: string, bytes: number) => NativeHostBuffer;
  Stream: new (device: string) => NativeStream;
  Event: new (device: string) => NativeEvent;
  supportedOps(): string[];
  /** Builds with each layer's tactic chosen by heuristic (optimization level 0). */
  buildPlan(
    desc: NativeNetworkDesc,
    done: (error: KilnError | null, plan?: Uint8Array) => void,
  ): void;
  /**
   * level: 0..5 (tactic selection); timingCache: a previous build's, or null; tacticSources:
   * the sources to take tactics from (empty: all built).
   */
  buildTunedPlan(
    desc: NativeNetworkDesc,
    level: number,
    timingCache: ArrayBufferView | null,
    tacticSources: string[],
    done: (error: KilnError | null, result?: NativeBuildResult) => void,
  ): void;
  Engine: new (plan: ArrayBufferView) => NativeEngine;
  ExecutionContext: new (
    engine: NativeEngine,
    device: string,
    options?: { cudaGraph?: boolean },
  ) => NativeExecutionContext;
}

/** @internal An attribute as the native core takes it: the kind says how to read the value. */
export type NativeAttr =
  | { kind: 'i'; value: number }
  | { kind: 'f'; value: number }
  | { kind: 'is'; value: number[] }
  | { kind: 'fs'; value: number[] }
  | { kind: 's'; value: string };

/** @internal The compact network description the builder hands to the native core. */
export interface NativeNetworkDesc {
  tensors: { name: string; dtype: number; shape: number[]; constant: number }[];
  layers: {
    name: string;
    op: string;
    inputs: number[];
    outputs: number[];
    attrs: Record<string, NativeAttr>;
    /** [bool tensor, value]: the layer runs only when each tensor holds its value (If branches). */
    guards?: [number, number][];
  }[];
  inputs: number[];
  outputs: number[];
  profiles: {
    inputs: {
      tensor: number;
      min: number[];
      opt: number[];
      max: number[];
      minValues?: number[];
      optValues?: number[];
      maxValues?: number[];
    }[];
  }[];
  weights: ArrayBufferView[];
}

/** @internal What buildPlan returns: the plan, the updated timing cache, each layer's tactic. */
export interface NativeBuildResult {
  plan: Uint8Array;
  timingCache: Uint8Array;
  layers: {
    name: string;
    op: string;
    tactic: string;
    /** 'timed', 'cache', 'heuristic' (level 0) or 'only' (a single candidate). */
    source: string;
    /** Where the tactic's implementation comes from: 'kiln' or 'onednn'. */
    tacticSource: string;
    timings: { tactic: string; ms: number }[];
  }[];
  /** Why a given timing cache was not used. */
  warnings: string[];
  /** Milliseconds spent timing candidates (what a timing cache saves). */
  timingMs: number;
  /**
   * Per profile: activation and kernel scratch bytes at its largest shapes, with the chosen
   * tactics (what an Engine loaded from the plan reports as deviceMemorySize).
   */
  deviceMemorySize: number[];
}

/** @internal What a loaded engine reports about itself. */
export interface NativeEngineInfo {
  inputs: { name: string; dtype: number; shape: number[] }[];
  outputs: { name: string; dtype: number; shape: number[] }[];
  profiles: { name: string; min: number[]; opt: number[]; max: number[] }[][];
  layers: {
    name: string;
    op: string;
    inputs: (string | null)[];
    outputs: string[];
    /** Data type codes of the inputs (null for an omitted optional input) and outputs. */
    inputDtypes: (number | null)[];
    outputDtypes: number[];
    attrs: Record<string, unknown>;
    guards?: { tensor: string; value: boolean }[];
    /** The implementation chosen at build time, when the layer had a choice. */
    tactic?: string;
    /** Where that implementation comes from ('kiln' or 'onednn'), with tactic. */
    tacticSource?: string;
  }[];
  deviceMemorySize: number[];
  coreVersion: string;
}

/** @internal */
export interface NativeEngine {
  info(): NativeEngineInfo;
  serialize(): Uint8Array;
}

/** @internal */
export interface NativeExecutionContext {
  setProfile(index: number): void;
  setInputShape(input: number, dims: number[]): void;
  setInputValues(input: number, values: ArrayBufferView): void;
  outputShapes(): number[][];
  enqueue(stream: NativeStream, inputs: NativeDeviceBuffer[], outputs: NativeDeviceBuffer[]): void;
  setProfiling(on: boolean): void;
  layerTimes(): { runs: number; seconds: Float64Array };
}

/** @internal */
export interface NativeDeviceInfo {
  name: string;
  kind: 'cpu' | 'cuda';
  index: number;
  description: string;
  totalMemory: number;
  computeCapability?: string;
}

/** @internal */
export interface NativeFeatures {
  cpu: Record<string, string | number | boolean>;
  cudaBuilt: boolean;
  tacticSources: string[];
  coreVersion: string;
}

/** @internal */
export interface NativeDeviceBuffer {
  readonly byteLength: number;
  readonly disposed: boolean;
  dispose(): void;
}

/** @internal */
export interface NativeHostBuffer {
  readonly arrayBuffer: ArrayBuffer;
  readonly disposed: boolean;
  dispose(): void;
}

/** @internal A region the native copy accepts. */
export type NativeRegion = NativeDeviceBuffer | NativeHostBuffer | ArrayBufferView;

/** @internal */
export interface NativeStream {
  copy(
    dst: NativeRegion,
    dstOffset: number,
    src: NativeRegion,
    srcOffset: number,
    bytes: number,
  ): void;
  memset(dst: NativeRegion, offset: number, value: number, bytes: number): void;
  notify(callback: (error: KilnError | null) => void): void;
  record(event: NativeEvent): void;
  dispose(): void;
}

/** @internal */
export interface NativeEvent {
  query(): boolean;
  notify(callback: (error: KilnError | null) => void): void;
  elapsedSince(start: NativeEvent): number;
  dispose(): void;
}

let loaded: NativeAddon | undefined;

/** @internal Loads the addon on first use and returns it. */
export function native(): NativeAddon {
  if (loaded) return loaded;
  const candidates = addonCandidates();
  const found = candidates.find((c) => c.file !== undefined && fs.existsSync(c.file))?.file;
  if (!found) {
    const tried = candidates.map((c) => (c.file ? `${c.where} (${c.file})` : c.where));
    throw new KilnError(
      'ADDON_NOT_FOUND',
      `kiln's native addon was not found for ${process.platform}-${process.arch}; looked at: ${tried.join(', ')}. ` +
        `Install the prebuilt package (npm install ${addonPackageNames().at(-1)}), ` +
        `or build from source: install cmake >= 3.20 and a C++17 compiler, then ` +
        `'npm install --no-save cmake-js node-addon-api && npm rebuild @kiln/core'; ` +
        `or point KILN_ADDON_PATH at a kiln.node file.`,
    );
  }
  const require = createRequire(import.meta.url);
  const addon = require(found) as NativeAddon;
  addon.setErrorClass(KilnError);
  loaded = addon;
  return addon;
}
