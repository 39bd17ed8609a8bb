import { KilnError } from '@kiln/core';
import { ElemType, Graph, graphAttr, Value } from '@kiln/onnx';
import type { TfNode } from '../proto/graph';
import type { ConversionState } from './context';
import type { CondBranch, CondRegion } from './control-flow';

/**
 * Emits the ONNX If of a cond found by lowerConds. Each branch is converted into its own graph
 * by `convertNodes`, with the cond's Switch outputs standing for their data inputs; both
 * branches read outer tensors directly, as If allows. Output k of the If replaces Merge k.
 */
export function emitIf(
  state: ConversionState,
  cond: CondRegion,
  resolve: (ref: string) => string,
  convertNodes: (nodes: TfNode[]) => void,
): void {
  const where = `cond '${cond.name}'`;
  const branch = (b: CondBranch, port: 0 | 1, label: string): Graph => {
    const g = new Graph();
    g.name = state.unique(`${cond.name}/${label}`);
    state.inGraph(g, () => {
      for (const s of cond.switches) {
        const data = resolve(s.inputs[0]!);
        const c = state.consts.get(data);
        // A constant stays one, so handlers that need constant inputs still see it.
        if (c !== undefined) state.consts.set(`${s.name}:${port}`, c);
        else state.tensors.set(`${s.name}:${port}`, state.tensor(data, where));
      }
      convertNodes(b.nodes);
      // Every output goes through an Identity: a branch may return an outer tensor unchanged.
      for (const ref of b.outputs) {
        const src = state.tensor(resolve(ref), where);
        const elemType = state.types.get(src)?.elemType ?? ElemType.FLOAT;
        const [out] = state.add('Identity', [src], [], 1, `${g.name}/output`, elemType);
        g.outputs.push(new Value(out!, elemType, undefined));
      }
    });
    return g;
  };
  const thenGraph = branch(cond.then, 1, 'then');
  const elseGraph = branch(cond.else, 0, 'else');
  thenGraph.outputs.forEach((v, k) => {
    const other = elseGraph.outputs[k]!;
    if (v.elemType !== other.elemType)
      throw new KilnError(
        'INVALID_MODEL',
        `${where}: Merge '${cond.merges[k]!.name}' joins a ${v.elemType} tensor (then) and a ${other.elemType} tensor (else)`,
      );
  });
  const pred = state.tensor(resolve(cond.pred), where);
  if (state.types.get(pred)?.elemType !== ElemType.BOOL)
    throw new KilnError('INVALID_MODEL', `${where}: the predicate '${cond.pred}' is not bool`);
  const outs = state.add(
    'If',
    [pred],
    [graphAttr('then_branch', thenGraph), graphAttr('else_branch', elseGraph)],
    cond.merges.length,
    cond.name,
  );
  outs.forEach((o, k) => {
    state.tensors.set(`${cond.name}:${k}`, o);
    state.types.set(o, { elemType: thenGraph.outputs[k]!.elemType ?? ElemType.FLOAT });
  });
}
