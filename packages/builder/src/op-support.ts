import { AttrType, type Node, kilnDataType } from '@kiln/onnx';

/**
 * Why kiln cannot build `node`, or undefined when it can: the op must be one the native core
 * implements (`supportedOps`), with attribute kinds the core takes. The parser reports these
 * reasons; partitionModel uses them to leave such nodes to a fallback executor.
 */
export function unsupportedReason(
  node: Node,
  supportedOps: ReadonlySet<string>,
): string | undefined {
  if (node.domain !== '' && node.domain !== 'ai.onnx')
    return `domain '${node.domain}' is not supported`;
  if (!supportedOps.has(node.opType)) return 'the native core has no implementation of this op yet';
  for (const a of node.attributes.values()) {
    if (node.opType === 'If' && a.type === AttrType.GRAPH) continue;
    if (a.type === AttrType.TENSOR && node.opType === 'ConstantOfShape') {
      if (!kilnDataType(a.tensor?.elemType)) return `its value has an unsupported element type`;
      continue;
    }
    if (a.type === AttrType.GRAPH || a.type === AttrType.GRAPHS)
      return `attribute '${a.name}' holds a subgraph, not supported yet`;
    if (a.type === AttrType.TENSOR || a.type === AttrType.STRINGS || a.type === AttrType.TENSORS) {
      return `attribute '${a.name}' has a type the core does not take yet`;
    }
  }
  return undefined;
}
