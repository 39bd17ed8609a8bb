// @kiln/runtime: load engine files and run them (Runtime, Engine, ExecutionContext), and cache
// engines built per input shape (EngineCache).
export {
  Runtime,
  Engine,
  type ExecutionContextOptions,
  type TensorInfo,
  type ProfileRange,
  type LayerInfo,
  type LayerPrecision,
} from './engine';
export { ExecutionContext, type LayerProfile } from './execution-context';
export {
  EngineCache,
  type BuildEngineFunction,
  type CachedEngineInfo,
  type EngineBuildEvent,
  type EngineCacheEvents,
  type EngineCacheOptions,
  type EngineCacheStats,
  type EngineEvictEvent,
  type EngineReadyEvent,
  type InputShapes,
  type ModelInput,
} from './engine-cache';
export type { InputRange, InputRanges } from './engine-store';
