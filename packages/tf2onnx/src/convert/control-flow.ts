import type { TfNode } from '../proto/graph';
import { normalizeRef, parseRef } from '../readers/inline';

// Frozen TF graphs carry `tf.cond` as dataflow: Switch(data, pred) sends data to output 1 when
// pred is true and to output 0 when it is false (the other output is "dead"), every node fed by
// a dead tensor is skipped, and Merge forwards whichever of its inputs is alive. ONNX has no dead
// tensors, so each cond becomes an If whose branches hold the nodes only one side reaches.

/** The op of the node that stands for a found cond until it is converted to an ONNX If. */
const COND_OP = '_KilnCond';

/** One side of a cond: the nodes to run, in dependency order, and what it returns. */
export interface CondBranch {
  nodes: TfNode[];
  /** Per Merge, the reference the branch returns for it. */
  outputs: string[];
}

/** A tf.cond found in a flat graph. Output k of the COND_OP node is `merges[k]`. */
export interface CondRegion {
  /** Name of the COND_OP node. */
  name: string;
  /** The predicate reference (bool, one element). */
  pred: string;
  /** The Switches on `pred`; inside a branch, a Switch output stands for its data input. */
  switches: TfNode[];
  merges: TfNode[];
  then: CondBranch;
  else: CondBranch;
  /** Nodes the COND_OP node replaces: the Switches, all that only one side reaches, the Merges. */
  removed: ReadonlySet<string>;
}

type Side = 'then' | 'else';

/** What lowerConds returns. */
export interface LoweredGraph {
  /** The conds, by the name of their COND_OP node. */
  conds: Map<string, CondRegion>;
  /**
   * Every node by name in its latest form: the COND_OP nodes, the Identities that replace the
   * Merges, the nodes now inside branches, and all the conds left alone.
   */
  all: Map<string, TfNode>;
}

/**
 * Replaces every tf.cond of `nodes` by a COND_OP node plus one Identity per Merge (so readers of
 * the Merges keep their references), innermost conds first. Switches and Merges that do not form
 * a cond (while loops) are left as they are, for the converter to report as unsupported.
 * `keep` names nodes read from outside the graph (its outputs).
 */
export function lowerConds(nodes: TfNode[], keep: ReadonlySet<string>): LoweredGraph {
  const conds = new Map<string, CondRegion>();
  const all = new Map(nodes.map((n) => [n.name, n]));
  for (;;) {
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const groups = new Map<string, TfNode[]>();
    for (const n of nodes) {
      const data = dataInputs(n);
      if (n.op !== 'Switch' || data.length !== 2) continue;
      const pred = normalizeRef(data[1]!);
      groups.set(pred, [...(groups.get(pred) ?? []), n]);
    }
    const readersOf = readers(nodes);
    let region: CondRegion | undefined;
    for (const [pred, switches] of groups) {
      region = findCond(pred, switches, byName, readersOf, keep);
      if (region) break;
    }
    if (region === undefined) return { conds, all };
    conds.set(region.name, region);
    nodes = rewrite(nodes, region);
    for (const n of nodes) all.set(n.name, n);
  }
}

function dataInputs(n: TfNode): string[] {
  return n.inputs.filter((i) => !i.startsWith('^'));
}

// Who reads each node, by data or control edge, with the output index read (-1: control).
function readers(nodes: TfNode[]): Map<string, { node: TfNode; index: number }[]> {
  const m = new Map<string, { node: TfNode; index: number }[]>();
  for (const n of nodes) {
    for (const i of n.inputs) {
      const r = parseRef(i);
      const list = m.get(r.node);
      if (list === undefined) m.set(r.node, [{ node: n, index: r.index }]);
      else list.push({ node: n, index: r.index });
    }
  }
  return m;
}

function findCond(
  pred: string,
  switches: TfNode[],
  byName: Map<string, TfNode>,
  readersOf: Map<string, { node: TfNode; index: number }[]>,
  keep: ReadonlySet<string>,
): CondRegion | undefined {
  const switchNames = new Set(switches.map((s) => s.name));
  // Everything a Switch port reaches, through data and control edges (pivots gate constants).
  const reach = (port: number): Set<string> => {
    const seen = new Set<string>();
    const stack: string[] = [];
    for (const s of switches)
      for (const r of readersOf.get(s.name) ?? [])
        if (r.index === port && !seen.has(r.node.name)) {
          seen.add(r.node.name);
          stack.push(r.node.name);
        }
    while (stack.length > 0) {
      for (const r of readersOf.get(stack.pop()!) ?? []) {
        if (seen.has(r.node.name)) continue;
        seen.add(r.node.name);
        stack.push(r.node.name);
      }
    }
    return seen;
  };
  const T = reach(1);
  const E = reach(0);
  // A Switch that its own outputs reach is part of a loop.
  if (switches.some((s) => T.has(s.name) || E.has(s.name))) return undefined;
  const sideOf = (ref: string): Side | undefined => {
    const { node, index } = parseRef(ref);
    if (switchNames.has(node)) return index === 1 ? 'then' : 'else';
    if (T.has(node) && !E.has(node)) return 'then';
    if (E.has(node) && !T.has(node)) return 'else';
    return undefined;
  };
  // The cond's Merges join one input from each side; all else both sides reach lies after them.
  const merges = [...T]
    .filter((name) => E.has(name))
    .map((name) => byName.get(name)!)
    .filter((n) => {
      const sides = dataInputs(n).map(sideOf);
      return (
        n.op === 'Merge' && sides.length === 2 && sides.includes('then') && sides.includes('else')
      );
    });
  const mergeNames = new Set(merges.map((m) => m.name));
  const branchNodes = [...T, ...E].filter((name) => T.has(name) !== E.has(name));
  for (const name of [...branchNodes, ...switchNames]) {
    const n = byName.get(name)!;
    // Nested control flow is lowered first; a loop inside a branch leaves the cond alone.
    if (!switchNames.has(name) && (n.op === 'Switch' || n.op === 'Merge')) return undefined;
    for (const r of readersOf.get(name) ?? []) {
      const inside = T.has(r.node.name) !== E.has(r.node.name);
      if (!inside && !mergeNames.has(r.node.name)) return undefined;
    }
  }
  // A Merge's second output (which input was taken) has no If counterpart.
  for (const m of merges)
    if ((readersOf.get(m.name) ?? []).some((r) => r.index === 1)) return undefined;
  const used = merges.filter(
    (m) => keep.has(m.name) || (readersOf.get(m.name) ?? []).some((r) => r.index === 0),
  );
  if (used.length === 0) return undefined;

  const onlyThen = new Set([...T].filter((n) => !E.has(n)));
  const onlyElse = new Set([...E].filter((n) => !T.has(n)));
  const branch = (side: Side): CondBranch => {
    const members = side === 'then' ? onlyThen : onlyElse;
    const outputs = used.map((m) => dataInputs(m).find((i) => sideOf(i) === side)!);
    return { nodes: dependencyOrder(outputs, members, byName), outputs };
  };
  let name = `${parseRef(pred).node}/If`;
  for (let i = 1; byName.has(name); i++) name = `${parseRef(pred).node}/If_${i}`;
  return {
    name,
    pred,
    switches,
    merges: used,
    then: branch('then'),
    else: branch('else'),
    removed: new Set([...switchNames, ...onlyThen, ...onlyElse, ...mergeNames]),
  };
}

// The nodes `roots` depend on through data edges, staying inside `inside`, dependencies first.
function dependencyOrder(
  roots: string[],
  inside: ReadonlySet<string>,
  byName: Map<string, TfNode>,
): TfNode[] {
  const order: TfNode[] = [];
  const done = new Set<string>();
  const stack: { node: TfNode; i: number }[] = [];
  const visit = (ref: string): void => {
    const name = parseRef(ref).node;
    if (done.has(name) || !inside.has(name)) return;
    done.add(name);
    stack.push({ node: byName.get(name)!, i: 0 });
  };
  for (const root of roots) {
    visit(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const data = dataInputs(top.node);
      if (top.i < data.length) visit(data[top.i++]!);
      else order.push(stack.pop()!.node);
    }
  }
  return order;
}

// Replaces the cond's nodes by the COND_OP node, which reads the predicate and every outer
// tensor the branches read, and turns each used Merge into an Identity of its COND_OP output.
function rewrite(nodes: TfNode[], region: CondRegion): TfNode[] {
  const switches = new Map(region.switches.map((s) => [s.name, s]));
  const outer = new Set<string>([region.pred]);
  const read = (ref: string): void => {
    const { node } = parseRef(ref);
    const sw = switches.get(node);
    if (sw) outer.add(dataInputs(sw)[0]!);
    else if (!region.removed.has(node)) outer.add(ref);
  };
  for (const b of [region.then, region.else]) {
    for (const n of b.nodes) dataInputs(n).forEach(read);
    b.outputs.forEach(read);
  }
  const mergeIndex = new Map(region.merges.map((m, k) => [m.name, k]));
  const out: TfNode[] = [{ name: region.name, op: COND_OP, inputs: [...outer], attr: {} }];
  for (const n of nodes) {
    const k = mergeIndex.get(n.name);
    if (k !== undefined)
      out.push({ name: n.name, op: 'Identity', inputs: [`${region.name}:${k}`], attr: {} });
    else if (!region.removed.has(n.name)) out.push(n);
  }
  return out;
}
