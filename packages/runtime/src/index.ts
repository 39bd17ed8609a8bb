// @kiln/runtime: load engine files and run them (Runtime, Engine, ExecutionContext).
export { Runtime, Engine, type TensorInfo, type ProfileRange, type LayerInfo } from './engine';
export { ExecutionContext } from './execution-context';
