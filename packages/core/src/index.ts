// @kiln/core: the base every kiln package builds on, and the only one that loads the addon.
export { type KilnErrorCode, KilnError, isKilnError } from './errors';
export { invalidParameterError, expectInteger, expectOneOf, isIntegerInRange } from './validate';
export {
  type Severity,
  type Logger,
  ConsoleLogger,
  getLogger,
  setLogger,
  severityPasses,
} from './logger';
export {
  type DataType,
  type TypedArrayOf,
  type TensorData,
  DATA_TYPES,
  isDataType,
  expectDataType,
  dataTypeSize,
  dataTypeCode,
  dataTypeFromCode,
  typedArrayConstructor,
} from './dtype';
export {
  float32ToFloat16,
  float16ToFloat32,
  float32ToBFloat16,
  bfloat16ToFloat32,
} from './convert';
export { type Shape, Tensor, shapeSize } from './tensor';
export { addonPackageNames } from './addon-location';
export {
  type DeviceName,
  type DeviceInfo,
  type Features,
  type TacticSource,
  devices,
  features,
  threadCount,
  resolveDevice,
} from './device';
export { type AllocationOptions, DeviceBuffer, HostBuffer } from './buffers';
export { type HostMemory, type CopyOptions, type MemsetOptions, Stream, Event } from './stream';

/** @internal For kiln's own packages (@kiln/builder, @kiln/runtime): the native addon. */
export {
  native as nativeAddon,
  type NativeAddon,
  type NativeAttr,
  type NativeNetworkDesc,
  type NativeEngine,
  type NativeEngineInfo,
  type NativeExecutionContext,
  type NativeBuildResult,
} from './addon';
