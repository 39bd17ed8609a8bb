import { KilnError } from '@kiln/core';
import {
  type Attribute,
  ElemType,
  Graph,
  Initializer,
  initializerFromNumbers,
  intsAttr,
  Node,
} from '@kiln/onnx';
import { onnxElemType } from '../proto/dtype';
import type { TfAttr, TfNode, TfTensor } from '../proto/graph';
import { initializerOf, tensorNumbers } from './tensor-values';

/** What the converter knows about an ONNX tensor. */
export interface TensorType {
  elemType: number;
  /** Static dims (-1 unknown), or undefined when the rank is unknown. */
  shape?: number[];
}

/** The state of one conversion, shared by every op handler. */
export class ConversionState {
  readonly graph = new Graph();
  /** TF tensor reference ('node:0') -> ONNX tensor name. */
  readonly tensors = new Map<string, string>();
  /** ONNX tensor name -> type. */
  readonly types = new Map<string, TensorType>();
  /** TF references of constants, not yet made initializers. */
  readonly consts = new Map<string, TfTensor>();
  readonly warnings: string[] = [];
  private readonly used = new Set<string>();
  /** Where `add` puts nodes: the main graph, or the If branch being converted. */
  private scope: Graph = this.graph;

  constructor(readonly opset: number) {}

  /** A tensor/node name nobody uses yet, from `base`. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Reserves a name (graph inputs and outputs). */
  reserve(name: string): void {
    this.used.add(name);
  }

  /**
   * Runs `fn` with new nodes going to `g` (an If branch). Initializers always go to the main
   * graph, which a branch may read: a constant first used inside a branch stays usable outside.
   */
  inGraph<T>(g: Graph, fn: () => T): T {
    const outer = this.scope;
    this.scope = g;
    try {
      return fn();
    } finally {
      this.scope = outer;
    }
  }

  /** Adds an ONNX node (to the current scope); returns its output names. */
  add(
    opType: string,
    inputs: string[],
    attributes: Attribute[] = [],
    outputs = 1,
    base = opType,
    elemType?: number,
  ): string[] {
    const name = this.unique(base);
    const outs = Array.from({ length: outputs }, (_, i) => (outputs === 1 ? name : `${name}:${i}`));
    for (const o of outs) this.used.add(o);
    this.scope.nodes.push(new Node({ opType, name, inputs, outputs: outs, attributes }));
    if (elemType !== undefined) for (const o of outs) this.types.set(o, { elemType });
    return outs;
  }

  /** Adds an initializer made from numbers. */
  constant(base: string, elemType: number, dims: number[], values: number[]): string {
    const name = this.unique(base);
    this.graph.initializers.set(name, initializerFromNumbers(name, elemType, dims, values));
    this.types.set(name, { elemType, shape: dims });
    return name;
  }

  /** Adds an initializer holding a TF constant. */
  tfConstant(base: string, t: TfTensor): string {
    const name = this.unique(base);
    this.graph.initializers.set(name, initializerOf(name, t));
    this.types.set(name, { elemType: onnxElemType(t.dtype, name), shape: t.shape });
    return name;
  }

  /** Adds an existing initializer. */
  addInitializer(init: Initializer): string {
    this.graph.initializers.set(init.name, init);
    this.types.set(init.name, { elemType: init.elemType, shape: [...init.dims] });
    return init.name;
  }

  /** The ONNX tensor of a TF reference, materialising constants on first use. */
  tensor(ref: string, where: string): string {
    const t = this.tensors.get(ref);
    if (t !== undefined) return t;
    const c = this.consts.get(ref);
    if (c !== undefined) {
      const name = this.tfConstant(ref.endsWith(':0') ? ref.slice(0, -2) : ref, c);
      this.tensors.set(ref, name);
      return name;
    }
    throw new KilnError(
      'INVALID_MODEL',
      `${where}: input '${ref}' is not produced by any converted node`,
    );
  }
}

/** What an op handler sees: one TF node and helpers to read its inputs and emit ONNX nodes. */
export class OpContext {
  constructor(
    readonly state: ConversionState,
    readonly node: TfNode,
  ) {}

  /** The target opset. */
  get opset(): number {
    return this.state.opset;
  }

  /** Number of data inputs. */
  get inputCount(): number {
    return this.node.inputs.length;
  }

  /** The ONNX tensor for data input i. */
  input(i: number): string {
    const ref = this.node.inputs[i];
    if (ref === undefined) throw this.fail(`has no input ${i}`);
    return this.state.tensor(ref, `node '${this.node.name}' (${this.node.op})`);
  }

  /** Input i's value when it is a constant, else undefined. */
  constInput(i: number): TfTensor | undefined {
    const ref = this.node.inputs[i];
    return ref === undefined ? undefined : this.state.consts.get(ref);
  }

  /** Input i's constant values as numbers; KilnError when it is not a constant. */
  constNumbers(i: number, what: string): number[] {
    const c = this.constInput(i);
    if (c === undefined)
      throw new KilnError(
        'UNSUPPORTED',
        `node '${this.node.name}' (${this.node.op}): ${what} (input ${i}) must be a constant`,
      );
    return tensorNumbers(c);
  }

  /** The ONNX element type of input i. */
  inputType(i: number): number {
    const ref = this.node.inputs[i];
    if (ref !== undefined) {
      const c = this.state.consts.get(ref);
      if (c !== undefined && !this.state.tensors.has(ref))
        return onnxElemType(c.dtype, this.node.name);
    }
    const t = this.state.types.get(this.input(i));
    if (t !== undefined) return t.elemType;
    const T = this.node.attr.T?.type;
    if (T !== undefined) return onnxElemType(T, this.node.name);
    return ElemType.FLOAT;
  }

  /** The static shape of input i, when known. */
  inputShape(i: number): number[] | undefined {
    const ref = this.node.inputs[i];
    if (ref === undefined) return undefined;
    const c = this.state.consts.get(ref);
    if (c !== undefined) return c.shape;
    return this.state.types.get(this.input(i))?.shape;
  }

  /** Binds TF output `i` of this node to an ONNX tensor. */
  output(i: number, onnxName: string, elemType?: number, shape?: number[]): void {
    this.state.tensors.set(`${this.node.name}:${i}`, onnxName);
    const known = this.state.types.get(onnxName);
    if (elemType !== undefined || shape !== undefined || known === undefined) {
      this.state.types.set(onnxName, {
        elemType: elemType ?? known?.elemType ?? this.inputType(0),
        shape: shape ?? known?.shape,
      });
    }
  }

  /** Adds an ONNX node named after this TF node; returns its outputs. */
  add(
    opType: string,
    inputs: string[],
    attributes: Attribute[] = [],
    outputs = 1,
    elemType?: number,
  ): string[] {
    return this.state.add(
      opType,
      inputs,
      attributes,
      outputs,
      `${this.node.name}/${opType}`,
      elemType,
    );
  }

  /** Adds a single-output ONNX node; returns its output. */
  add1(opType: string, inputs: string[], attributes: Attribute[] = [], elemType?: number): string {
    return this.add(opType, inputs, attributes, 1, elemType)[0]!;
  }

  /** An int64 constant. */
  int64s(values: number[], dims: number[] = [values.length]): string {
    return this.state.constant(`${this.node.name}/const`, ElemType.INT64, dims, values);
  }

  /** A scalar or vector constant of `elemType`. */
  constOf(elemType: number, values: number[], dims: number[] = [values.length]): string {
    return this.state.constant(`${this.node.name}/const`, elemType, dims, values);
  }

  /** A Transpose node. */
  transpose(x: string, perm: number[]): string {
    return this.add1('Transpose', [x], [intsAttr('perm', perm)], this.state.types.get(x)?.elemType);
  }

  /** An attribute, or undefined. */
  attr(name: string): TfAttr | undefined {
    return this.node.attr[name];
  }

  /** An int attribute. */
  int(name: string, fallback?: number): number {
    const v = this.node.attr[name]?.i ?? fallback;
    if (v === undefined) throw this.fail(`lacks attribute '${name}'`);
    return v;
  }

  /** A float attribute. */
  float(name: string, fallback?: number): number {
    const v = this.node.attr[name]?.f ?? fallback;
    if (v === undefined) throw this.fail(`lacks attribute '${name}'`);
    return v;
  }

  /** A bool attribute. */
  bool(name: string, fallback = false): boolean {
    return this.node.attr[name]?.b ?? fallback;
  }

  /** A string attribute. */
  str(name: string, fallback?: string): string {
    const s = this.node.attr[name]?.s;
    if (s === undefined) {
      if (fallback === undefined) throw this.fail(`lacks attribute '${name}'`);
      return fallback;
    }
    return new TextDecoder().decode(s);
  }

  /** An int list attribute. */
  ints(name: string, fallback?: number[]): number[] {
    const v = this.node.attr[name]?.list?.i ?? fallback;
    if (v === undefined) throw this.fail(`lacks attribute '${name}'`);
    return v;
  }

  /** A string list attribute. */
  strs(name: string): string[] {
    return (this.node.attr[name]?.list?.s ?? []).map((s) => new TextDecoder().decode(s));
  }

  /** A dtype attribute as an ONNX element type. */
  type(name: string): number {
    const t = this.node.attr[name]?.type;
    if (t === undefined) throw this.fail(`lacks attribute '${name}'`);
    return onnxElemType(t, this.node.name);
  }

  /** A KilnError about this node. */
  fail(message: string, code: 'INVALID_MODEL' | 'UNSUPPORTED' = 'INVALID_MODEL'): KilnError {
    return new KilnError(code, `node '${this.node.name}' (${this.node.op}) ${message}`);
  }

  /** Records a warning for the conversion report. */
  warn(message: string): void {
    this.state.warnings.push(`node '${this.node.name}' (${this.node.op}): ${message}`);
  }
}

/** Converts one TF op. */
export type OpHandler = (ctx: OpContext) => void;
