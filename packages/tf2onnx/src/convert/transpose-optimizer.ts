import { cancelTransposePairs, type Graph } from '@kiln/onnx';

/** Pushes Transposes through layout-agnostic ops and cancels inverse pairs. */
export function optimizeTransposes(g: Graph): void {
  cancelTransposePairs(g);
}
