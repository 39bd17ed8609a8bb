import { KilnError } from '@kiln/core';
import type { GraphProto, SparseTensorProto } from '../io/proto-types';
import type { Initializer } from './initializer';
import type { Node } from './node';
import type { Value } from './value';

/**
 * A graph: nodes, typed inputs/outputs, value_info and initializers, with the maps passes need
 * (producer, consumers, topological order). Maps are computed on call, so editing `nodes`
 * directly is always safe.
 */
export class Graph {
  /** Graph name. */
  name = '';
  /** Nodes, normally in topological order. */
  nodes: Node[] = [];
  /** Graph inputs. */
  inputs: Value[] = [];
  /** Graph outputs. */
  outputs: Value[] = [];
  /** Types of intermediate tensors, by name. */
  valueInfo = new Map<string, Value>();
  /** Constant tensors by name. */
  initializers = new Map<string, Initializer>();
  /** Sparse initializers, kept as read. */
  sparseInitializers: SparseTensorProto[] = [];
  /** GraphProto fields not modelled here (doc string, quantization annotations, metadata, unknown fields). */
  proto: Partial<GraphProto> = {};

  /** The node that produces each tensor. */
  producers(): Map<string, Node> {
    const m = new Map<string, Node>();
    for (const n of this.nodes) for (const o of n.outputs) if (o !== '') m.set(o, n);
    return m;
  }

  /** The nodes that read each tensor, counting reads from inside a node's subgraphs. */
  consumers(): Map<string, Node[]> {
    const m = new Map<string, Node[]>();
    for (const n of this.nodes) {
      for (const i of nodeReads(n)) {
        const list = m.get(i);
        if (list === undefined) m.set(i, [n]);
        else if (list[list.length - 1] !== n) list.push(n);
      }
    }
    return m;
  }

  /** Names that exist before any node runs: inputs and initializers. */
  sources(): Set<string> {
    const s = new Set<string>(this.initializers.keys());
    for (const v of this.inputs) s.add(v.name);
    for (const sp of this.sparseInitializers) if (sp.values?.name) s.add(sp.values.name);
    return s;
  }

  /** The type of a tensor, looked up in inputs, outputs and value_info. */
  value(name: string): Value | undefined {
    return (
      this.valueInfo.get(name) ??
      this.inputs.find((v) => v.name === name) ??
      this.outputs.find((v) => v.name === name)
    );
  }

  /** Every tensor name used in this graph (not inside subgraphs). */
  names(): Set<string> {
    const s = this.sources();
    for (const n of this.nodes) {
      for (const i of n.inputs) s.add(i);
      for (const o of n.outputs) s.add(o);
    }
    for (const v of this.outputs) s.add(v.name);
    for (const k of this.valueInfo.keys()) s.add(k);
    s.delete('');
    return s;
  }

  /** A tensor or node name not used in this graph or its subgraphs, based on `base`. */
  uniqueName(base: string): string {
    const used = allNames(this);
    if (!used.has(base)) return base;
    for (let i = 1; ; i++) {
      const name = `${base}_${i}`;
      if (!used.has(name)) return name;
    }
  }

  /** The nodes of a cycle, or undefined when the graph is acyclic. */
  findCycle(): Node[] | undefined {
    const producers = this.producers();
    const state = new Map<Node, 1 | 2>(); // 1: on the stack, 2: finished
    for (const root of this.nodes) {
      if (state.has(root)) continue;
      // Iterative DFS: real models are deep enough to overflow a recursive walk.
      const stack: { node: Node; reads: string[]; i: number }[] = [
        { node: root, reads: nodeReads(root), i: 0 },
      ];
      state.set(root, 1);
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        if (top.i >= top.reads.length) {
          state.set(top.node, 2);
          stack.pop();
          continue;
        }
        const dep = producers.get(top.reads[top.i++]!);
        if (dep === undefined) continue;
        const s = state.get(dep);
        if (s === 1) {
          const at = stack.findIndex((f) => f.node === dep);
          return stack.slice(at).map((f) => f.node);
        }
        if (s === undefined) {
          state.set(dep, 1);
          stack.push({ node: dep, reads: nodeReads(dep), i: 0 });
        }
      }
    }
    return undefined;
  }

  /** Reorders `nodes` topologically (stable for already-sorted graphs); KilnError on a cycle. */
  topologicalSort(): this {
    this.nodes = this.topologicalOrder();
    return this;
  }

  /** The nodes in topological order, without changing `nodes`; KilnError on a cycle. */
  topologicalOrder(): Node[] {
    const producers = this.producers();
    const pending = new Map<Node, number>();
    const readers = new Map<Node, Node[]>();
    for (const n of this.nodes) {
      const deps = new Set<Node>();
      for (const i of nodeReads(n)) {
        const p = producers.get(i);
        if (p !== undefined && p !== n) deps.add(p);
        if (p === n) throw cycleError([n]);
      }
      pending.set(n, deps.size);
      for (const d of deps) {
        const list = readers.get(d);
        if (list) list.push(n);
        else readers.set(d, [n]);
      }
    }
    const order: Node[] = [];
    const ready = this.nodes.filter((n) => pending.get(n) === 0);
    // Taking ready nodes in original order keeps a sorted graph unchanged.
    const index = new Map(this.nodes.map((n, i) => [n, i]));
    const heap = new MinHeap<Node>((a, b) => index.get(a)! - index.get(b)!);
    for (const n of ready) heap.push(n);
    while (heap.size > 0) {
      const n = heap.pop()!;
      order.push(n);
      for (const r of readers.get(n) ?? []) {
        const left = pending.get(r)! - 1;
        pending.set(r, left);
        if (left === 0) heap.push(r);
      }
    }
    if (order.length !== this.nodes.length)
      throw cycleError(this.findCycle() ?? this.nodes.filter((n) => pending.get(n)! > 0));
    return order;
  }

  /**
   * Checks that every node input is defined (by a node, an input, an initializer or, for a
   * subgraph, the enclosing scopes) and that no tensor has two producers. `where` prefixes errors.
   */
  check(where = 'graph', outer: ReadonlySet<string> = new Set()): void {
    const defined = new Set([...outer, ...this.sources()]);
    const seen = new Set<string>();
    for (const n of this.nodes) {
      for (const o of n.outputs) {
        if (o === '') continue;
        if (seen.has(o))
          throw new KilnError(
            'INVALID_MODEL',
            `${where}: tensor '${o}' is produced twice (again by node '${n.label}')`,
          );
        seen.add(o);
      }
    }
    const all = new Set([...defined, ...seen]);
    for (const n of this.nodes) {
      for (let i = 0; i < n.inputs.length; i++) {
        const name = n.inputs[i]!;
        if (name !== '' && !all.has(name)) {
          throw new KilnError(
            'INVALID_MODEL',
            `${where}: node '${n.label}' (${n.opType}) input ${i} '${name}' is not produced by any node, input or initializer`,
          );
        }
      }
      for (const g of n.subgraphs())
        g.check(`${where} > node '${n.label}' subgraph '${g.name}'`, all);
    }
    for (const v of this.outputs) {
      if (!all.has(v.name))
        throw new KilnError(
          'INVALID_MODEL',
          `${where}: graph output '${v.name}' is not produced by anything`,
        );
    }
  }
}

function cycleError(nodes: Node[]): KilnError {
  const names = nodes.slice(0, 8).map((n) => `'${n.label}'`);
  return new KilnError(
    'INVALID_MODEL',
    `the graph has a cycle through nodes ${names.join(' -> ')}${nodes.length > 8 ? ' ...' : ''}`,
  );
}

/** Names a node reads: its inputs plus the outer-scope names its subgraphs use. */
export function nodeReads(n: Node): string[] {
  const reads = n.inputs.filter((i) => i !== '');
  for (const g of n.subgraphs()) reads.push(...outerReads(g));
  return reads;
}

/** Names a (sub)graph reads that it does not define itself. */
export function outerReads(g: Graph): string[] {
  const defined = g.sources();
  for (const n of g.nodes) for (const o of n.outputs) defined.add(o);
  const out = new Set<string>();
  for (const n of g.nodes) for (const i of nodeReads(n)) if (!defined.has(i)) out.add(i);
  for (const v of g.outputs) if (!defined.has(v.name)) out.add(v.name);
  return [...out];
}

function allNames(g: Graph, into = new Set<string>()): Set<string> {
  for (const name of g.names()) into.add(name);
  for (const n of g.nodes) {
    if (n.name !== '') into.add(n.name);
    for (const s of n.subgraphs()) allNames(s, into);
  }
  return into;
}

class MinHeap<T> {
  private items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => number) {}
  get size(): number {
    return this.items.length;
  }
  push(v: T): void {
    const a = this.items;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(a[i]!, a[p]!) >= 0) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
